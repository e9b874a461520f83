/**
 * `msgpacknet/browser`: the transport-independent parts of msgpacknet, the
 * ones that import nothing from Node.js (the RxJS operators, the codec,
 * errors, node ids, stats, defaults and validator types). It bundles for
 * browsers and other runtimes without `node:` modules; `Node`, the TCP and
 * TLS transports, `fromSocket` and `certificateId` are in `msgpacknet` only.
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
