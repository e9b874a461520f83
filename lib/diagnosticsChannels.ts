/**
 * The `node:diagnostics_channel` channels msgpacknet publishes on (Node.js,
 * Bun, Deno) and their message objects. Nothing is built or published while
 * a channel has no subscriber, and nothing is published per message: the
 * channels tell of connections, handshakes, limits and calls.
 *
 * @example Log every connection that ends
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * import { DIAGNOSTICS_CHANNELS, type ConnectionCloseMessage } from 'msgpacknet';
 * subscribe(DIAGNOSTICS_CHANNELS.connectionClose, (message) => {
 *   const { nodeId, reason, bytesRead } = message as ConnectionCloseMessage;
 *   console.log(`closed: ${String(nodeId)} (${reason}, ${bytesRead} bytes read)`);
 * });
 * ```
 */
import type { NetError } from './errors.js';
import type { DisconnectReason } from './events.js';

/** The channel names, as `diagnostics_channel.subscribe(name, listener)` takes them. */
export const DIAGNOSTICS_CHANNELS = {
  /** {@link ConnectionOpenMessage}: a connection was registered (the node's `connected` event). */
  connectionOpen: 'msgpacknet:connection:open',
  /** {@link ConnectionCloseMessage}: a registered connection ended (the node's `disconnected` event). */
  connectionClose: 'msgpacknet:connection:close',
  /** {@link HandshakeFailedMessage}: a connection failed before it was registered (what `failures$` emits). */
  handshakeFailed: 'msgpacknet:handshake:failed',
  /** {@link LimitMessage}: a limit ended or refused a connection. */
  limit: 'msgpacknet:limit',
  /** {@link RpcCallMessage}: a `TracingChannel` (`tracing:msgpacknet:rpc:call:start`, `:end`, `:asyncStart`, `:asyncEnd`, `:error`) around each `Rpc.call`. */
  rpcCall: 'msgpacknet:rpc:call',
} as const;

/** The node a message is about: filter on it when several nodes run in one process. */
export interface DiagnosticsNode {
  /** The node's own id. */
  readonly nodeId: unknown;
}

/** On `msgpacknet:connection:open`. */
export interface ConnectionOpenMessage {
  /** The node that registered the connection. */
  readonly node: DiagnosticsNode;
  /** The peer's id. */
  readonly nodeId: unknown;
  /** The peer's address as the transport reports it (`host:port`, a URL). */
  readonly remoteAddress: string;
  /** Whether this node opened it (`connect`, `link`) rather than accepted it. */
  readonly outgoing: boolean;
  /** The scheme of its transport: `tcp`, `tls`, `ws`, `wss`, or a custom one. */
  readonly transport: string;
}

/** On `msgpacknet:connection:close`. */
export interface ConnectionCloseMessage {
  /** The node whose connection ended. */
  readonly node: DiagnosticsNode;
  /** The peer's id. */
  readonly nodeId: unknown;
  /** The peer's address. */
  readonly remoteAddress: string;
  /** Whether this node opened it. */
  readonly outgoing: boolean;
  /** The scheme of its transport. */
  readonly transport: string;
  /** As the `disconnected` event's `reason`. */
  readonly reason: DisconnectReason;
  /** As the `disconnected` event's `error`, when it ended by one. */
  readonly error: NetError | undefined;
  /** Bytes read from it over its life, handshake included. */
  readonly bytesRead: number;
  /** Bytes written to it over its life, handshake included. */
  readonly bytesWritten: number;
  /** Messages read from it (the handshake not counted). */
  readonly messagesRead: number;
  /** Messages written to it (the handshake not counted). */
  readonly messagesWritten: number;
}

/** On `msgpacknet:handshake:failed`. */
export interface HandshakeFailedMessage {
  /** The node the connection was to or from. */
  readonly node: DiagnosticsNode;
  /** Why (the error `failures$` emits: its `code`, `address`, `limit`, ...). */
  readonly error: NetError;
}

/** On `msgpacknet:limit`. */
export interface LimitMessage {
  /** The node that applied the limit. */
  readonly node: DiagnosticsNode;
  /** The option named (`maxValueBytes`, `maxConnections`, `maxHandshakeBytes`, `timeout`, ...): `error.limit`. */
  readonly limit: string;
  /** Its value: `error.max`. */
  readonly max: number | undefined;
  /** The peer's id, when it was known. */
  readonly nodeId: unknown;
  /** The error that ended or refused the connection. */
  readonly error: NetError;
}

/**
 * The context object of the `msgpacknet:rpc:call` tracing channel: the
 * same object on `start`, `end`, `asyncStart`, `asyncEnd` and `error`, with
 * `result` (on `asyncStart`/`asyncEnd` of a call answered) or `error` (on
 * `error`) added by the channel, as `TracingChannel.tracePromise` does.
 */
export interface RpcCallMessage {
  /** The calling node. */
  readonly node: DiagnosticsNode;
  /** The callee's id. */
  readonly to: unknown;
  /** The method called. */
  readonly method: string;
  /** The call's timeout in ms (`Infinity`: none). */
  readonly timeout: number;
  /** The answer, once there is one. */
  result?: unknown;
  /** Why the call failed (a `NetError`, or an aborted signal's reason). */
  error?: unknown;
}
