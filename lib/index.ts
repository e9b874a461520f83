/**
 * msgpacknet: MessagePack messages between processes and machines,
 * addressed by node id instead of socket, with an RxJS API. Wire-compatible
 * with the Rust crate `msgpacknet`.
 *
 * @example
 * ```ts
 * import { Node } from 'msgpacknet';
 * await using server = new Node<string, string>({ nodeId: 'server' });
 * await using client = new Node<string, string>({ nodeId: 'client' });
 * const address = await server.listen('127.0.0.1:0');
 * server.events$.subscribe((event) => {
 *   if (event.type === 'connectionRequest') event.request.accept();
 *   if (event.type === 'message') server.send(event.from, `echo: ${event.message}`);
 * });
 * const peer = await client.connect(address);
 * client.send(peer, 'hello');
 * ```
 *
 * @packageDocumentation
 */

// The node over TCP
export { Node, type NodeConfig, type ConnectOptions, type ReceiveOptions } from './Node.js';
export type { ConnectionRequest } from './ConnectionRequest.js';
export type { NodeOptions } from './options.js';
export { backoffDelay, type LinkEvent, type LinkOptions, type LinkConnecting, type LinkConnected, type LinkDisconnected } from './link.js';
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

// Errors
export { NetError, NET_ERROR_CODES, isNetError, type NetErrorCode, type NetErrorContext } from './errors.js';

// RxJS building blocks
export { decodeFrames, type DecodeFramesConfig } from './operators/decodeFrames.js';
export { encodeFrames, type EncodeFramesConfig } from './operators/encodeFrames.js';
export { handshake, type Handshake, type HandshakeConfig } from './operators/handshake.js';
export { idleTimeout, type IdleTimeoutConfig } from './operators/idleTimeout.js';
export { fromSocket } from './transport/tcp.js';
export type { Address } from './transport/address.js';
export type { ByteStream, Transport, Listener, Admission } from './transport/Transport.js';
export type { NodeTlsOptions } from './transport/tls.js';
export { certificateId } from './certificateId.js';

// Codec
export { Encoder, type EncoderConfig } from './codec/Encoder.js';
export { FrameDecoder, type FrameDecoderConfig } from './codec/FrameDecoder.js';
export type { DecodeLimits } from './codec/limits.js';
export { ExtData } from '@msgpack/msgpack';

// Node ids, stats, validation, defaults
export { nodeIdKey, nodeIdEquals, randomNodeId } from './nodeId.js';
export { DecayingRate, type ConnectionStats, type NodeStats } from './stats.js';
export type { Validator, StandardSchemaV1 } from './validate.js';
export * from './defaults.js';
