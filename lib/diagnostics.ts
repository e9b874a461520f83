/**
 * Where the node and the Rpc publish on `node:diagnostics_channel`: each
 * function returns at once while its channel has no subscriber. The browser
 * build puts `diagnostics.browser.ts` here (no channels there).
 */
import { channel, tracingChannel, type Channel, type TracingChannel } from 'node:diagnostics_channel';
import {
  DIAGNOSTICS_CHANNELS,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  type DiagnosticsNode,
  type HandshakeFailedMessage,
  type LimitMessage,
  type RpcCallMessage,
} from './diagnosticsChannels.js';
import { startDebugLog } from './debugLog.js';
import type { NetError } from './errors.js';

const connectionOpen: Channel = channel(DIAGNOSTICS_CHANNELS.connectionOpen);
const connectionClose: Channel = channel(DIAGNOSTICS_CHANNELS.connectionClose);
const handshakeFailed: Channel = channel(DIAGNOSTICS_CHANNELS.handshakeFailed);
const limit: Channel = channel(DIAGNOSTICS_CHANNELS.limit);
/** Absent on a runtime whose diagnostics_channel has no tracing channels (calls are then not traced). */
const rpcCall: TracingChannel<RpcCallMessage> | undefined =
  typeof tracingChannel === 'function' ? tracingChannel<unknown, RpcCallMessage>(DIAGNOSTICS_CHANNELS.rpcCall) : undefined;

/** Where the node and the Rpc publish (each function returns at once when nobody listens). */
export const diagnostics = {
  /** `DEBUG=msgpacknet:*` logging: subscribed once per process, when the first node is made. */
  debugFromEnv(): void {
    startDebugLog();
  },
  connectionOpen(message: () => ConnectionOpenMessage): void {
    if (connectionOpen.hasSubscribers) connectionOpen.publish(message());
  },
  connectionClose(message: () => ConnectionCloseMessage): void {
    if (connectionClose.hasSubscribers) connectionClose.publish(message());
  },
  /** A connection failed before it was registered; a limit behind it is published on `limit` too. */
  failure(node: DiagnosticsNode, error: NetError): void {
    if (handshakeFailed.hasSubscribers) handshakeFailed.publish({ node, error } satisfies HandshakeFailedMessage);
    diagnostics.limit(node, undefined, error);
  },
  /** A connection ended or was refused by `error`: published on `limit` when the error names one. */
  limit(node: DiagnosticsNode, nodeId: unknown, error: NetError | undefined): void {
    if (error?.limit === undefined || !limit.hasSubscribers) return;
    limit.publish({ node, limit: error.limit, max: error.max, nodeId: nodeId ?? error.nodeId, error } satisfies LimitMessage);
  },
  /** `call()` traced when anyone listens on `msgpacknet:rpc:call`, else `call()` as it is. */
  rpcCall<R>(context: () => RpcCallMessage, call: () => Promise<R>): Promise<R> {
    if (rpcCall === undefined || !rpcCall.hasSubscribers) return call();
    return rpcCall.tracePromise(call, context());
  },
};
