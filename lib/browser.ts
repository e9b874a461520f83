/**
 * `msgpacknet/browser`, and what `import ... from 'msgpacknet'` resolves to
 * in a browser (the `browser` export condition: `dist/browser/index.js`, a
 * bundle built by `scripts/build-browser.mjs`). It has the {@link Node}, whose
 * only transport in a browser is the browser's own `WebSocket` (`ws://` and
 * `wss://` addresses; `listen` rejects with `OPEN_ERROR`), and the parts that
 * import nothing from Node.js: the RxJS operators, the codec, errors, node
 * ids, stats, defaults and validator types. The TCP and TLS transports,
 * `fromSocket` and `certificateId` are in the Node.js build only. On Node.js
 * this entry is the same code with the Node.js transports.
 *
 * @example
 * ```ts
 * import { from } from 'rxjs';
 * import { decodeFrames } from 'msgpacknet/browser';
 * from([Uint8Array.of(0x92, 0x07), Uint8Array.of(0x01)])
 *   .pipe(decodeFrames())
 *   .subscribe((value) => console.log(value)); // prints: [ 7, 1 ]
 * ```
 *
 * @packageDocumentation
 */

// The node (over WebSocket in browsers)
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
export type { Address } from './transport/address.js';
export type { ByteStream, Transport, Listener, Admission } from './transport/Transport.js';
export {
  webSocketTransport,
  WEB_SOCKET_MAX_MESSAGE_BYTES,
  WEB_SOCKET_ABORT_CODE,
  DEFAULT_MAX_PAUSED_BYTES,
  type WebSocketTransportConfig,
  type WebSocketConstructor,
  type WebSocketLike,
} from './transport/webSocket.js';

// Errors
export { NetError, NET_ERROR_CODES, isNetError, type NetErrorCode, type NetErrorContext } from './errors.js';

// RxJS building blocks
export { decodeFrames, type DecodeFramesConfig } from './operators/decodeFrames.js';
export { encodeFrames, type EncodeFramesConfig } from './operators/encodeFrames.js';
export { handshake, type Handshake, type HandshakeConfig } from './operators/handshake.js';
export { idleTimeout, type IdleTimeoutConfig } from './operators/idleTimeout.js';

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
