// The one export list of both entries: lib/index.ts (Node.js) adds the TCP and TLS helpers,
// lib/browser.ts the browser's WebSocket transport. Everything here imports nothing from Node.js.

// The node (its transports come from lib/platform.ts: TCP, TLS and WebSocket on Node.js, the
// browser's WebSocket in the browser build)
export { Node, type NodeConfig, type ConnectOptions, type ReceiveOptions, type WhenConnectedOptions } from './node/Node.js';
export type { ConnectionRequest } from './node/ConnectionRequest.js';
export type { PeerCertificate } from './peerCertificate.js';
export type { NodeOptions } from './options.js';
export {
  backoffDelay,
  type LinkEvent,
  type LinkOptions,
  type LinkConnecting,
  type LinkConnected,
  type LinkDisconnected,
} from './node/link.js';
export type {
  NodeEvent,
  MessageEvent,
  ConnectionRequestEvent,
  ConnectedEvent,
  DisconnectedEvent,
  ClosingEvent,
  ClosedEvent,
  DisconnectReason,
} from './events.js';

// Request/reply (msgpack-rpc over the node's messages)
export {
  Rpc,
  DEFAULT_RPC_TIMEOUT,
  DEFAULT_RPC_MAX_CONCURRENT,
  type RpcHost,
  type RpcOptions,
  type CallOptions,
  type RpcCall,
  type RpcHandler,
  type RpcNotification,
  type RpcInFlight,
  type RpcCluster,
} from './rpc/Rpc.js';
export {
  isRpcMessage,
  CANCEL_METHOD,
  type RpcErrorValue,
  type RpcMessage,
  type RpcRequest,
  type RpcResponse,
  type RpcNotificationMessage,
} from './rpc/envelope.js';

// Clusters (reaching a node by id: discovery, links, connect on demand)
export { Cluster, type ClusterNode, type ClusterOptions, type ClusterConnect, type Member, type ReachOptions } from './cluster/Cluster.js';
export { staticDiscovery, type Discovery, type DiscoveryContext, type DiscoveredMember } from './cluster/Discovery.js';
export { dnsDiscovery, type DnsDiscoveryOptions, type DnsRecordType } from './cluster/dnsDiscovery.js';

// Errors
export { NetError, NET_ERROR_CODES, isNetError, type NetErrorCode, type NetErrorContext } from './errors.js';

// RxJS building blocks
export { decodeFrames, type DecodeFramesConfig } from './operators/decodeFrames.js';
export { encodeFrames, type EncodeFramesConfig } from './operators/encodeFrames.js';
export { handshake, type Handshake, type HandshakeConfig } from './operators/handshake.js';
export { idleTimeout, type IdleTimeoutConfig } from './operators/idleTimeout.js';
export type { Address } from './transport/address.js';
export type { ByteStream, Transport, Listener, Admission } from './transport/Transport.js';

// Codec
export { Encoder, type EncoderConfig } from './codec/Encoder.js';
export { FrameDecoder, type FrameDecoderConfig } from './codec/FrameDecoder.js';
export type { DecodeLimits } from './codec/limits.js';
export { ExtData, type ExtensionCodecType } from './codec/ExtData.js';

// Node ids, stats, validation, defaults
export { nodeIdKey, nodeIdEquals, randomNodeId } from './nodeId.js';
export { DecayingRate, type ConnectionStats, type NodeStats } from './stats.js';
export type { Validator, StandardSchemaV1 } from './validate.js';

// Observability: the diagnostics_channel names and their messages (published on Node.js, Bun, Deno)
export {
  DIAGNOSTICS_CHANNELS,
  type DiagnosticsNode,
  type ConnectionOpenMessage,
  type ConnectionCloseMessage,
  type HandshakeFailedMessage,
  type LimitMessage,
  type RpcCallMessage,
} from './diagnosticsChannels.js';
export * from './defaults.js';

// A node is `AsyncDisposable` (`await using node = ...`). Declared here as TypeScript's `esnext.disposable`
// library and @types/node declare them (the same declarations, so they merge), for projects that have
// neither: a browser project with `lib: ["es2022", "dom"]`.
declare global {
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
  interface AsyncDisposable {
    [Symbol.asyncDispose](): PromiseLike<void>;
  }
}
