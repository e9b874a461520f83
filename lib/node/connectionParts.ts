import type { FrameDecoderConfig } from '../codec/FrameDecoder.js';
import { NetError, invalidValue, toNetError } from '../errors.js';
import type { DisconnectReason } from '../events.js';
import { nodeIdKey } from '../nodeId.js';
import { parseHandshake } from '../operators/handshake.js';
import type { ResolvedNodeOptions } from '../options.js';
import type { ByteStream } from '../transport/Transport.js';
import type { Connection } from './Connection.js';
import type { ConnectionRequest } from './ConnectionRequest.js';
import type { ReadFramesConfig } from './readFrames.js';
import type { WriterConfig } from './Writer.js';

/** What a connection needs from its node, resolved once per connection (changes to the node affect later ones). */
export type ConnectionConfig<M, N, I> = ResolvedNodeOptions<M, N, I> & {
  /** The node's settings when the connection was made (they are read/write on the node). */
  readonly connectionTimeout: number;
  readonly statsHalfLife: number;
  /** The decode limits, and the handshake's (see {@link handshakeLimits}): one object for all, so they are resolved once. */
  readonly frames: FrameDecoderConfig;
  /** With key-bound ids: why a peer's id does not match its certificate, or undefined when it does. */
  readonly verifyPeer?: (nodeId: unknown, stream: ByteStream) => NetError | undefined;
  /** The writers' limits (see {@link connectionParts}). */
  readonly writer: WriterConfig;
  /** The read path's settings. */
  readonly reading: ReadFramesConfig;
};

/**
 * The parts of a connection's configuration that every connection of a node
 * shares, made once per change of the node's settings rather than once per
 * connection (a node may hold tens of thousands).
 */
export function connectionParts<M, N, I>(
  options: ResolvedNodeOptions<M, N, I>,
  connectionTimeout: number,
  frames: FrameDecoderConfig,
): Pick<ConnectionConfig<M, N, I>, 'writer' | 'reading'> {
  return {
    writer: {
      maxValueBytes: options.limits.maxValueBytes,
      maxDepth: options.limits.maxDepth,
      highWaterMark: options.writeHighWaterMark,
      maxQueuedBytes: options.maxQueuedBytes,
    },
    reading: { frames, idle: connectionTimeout, scheduler: options.scheduler },
  };
}

/** Where a connection reports what happens to it: its node, which turns it into events. */
export interface ConnectionSink<M, N, I> {
  /** The peer's handshake arrived: the request is pending. */
  request(connection: Connection<M, N, I>, request: ConnectionRequest<M, N, I>): void;
  /** `accept()` was called: register it (emitting `connected`); false when the node refuses (it is closing). */
  accepted(connection: Connection<M, N, I>): boolean;
  message(connection: Connection<M, N, I>, message: M): void;
  /** After each chunk's values were handed on: their estimated heap (see {@link readCost}). */
  read(cost: number): void;
  /** Exactly once, whatever the phase, when it is over; `error` is the failure behind it. */
  ended(connection: Connection<M, N, I>, reason: DisconnectReason, error: NetError | undefined): void;
}

/**
 * An upper bound of the heap that decoded values cost, from what the scanner
 * saw: 16 bytes per wire byte (the worst scalar, 2-byte strings, costs 11)
 * and 200 per array, map, binary or extension (an empty map costs 64, a
 * one-entry map with an integer key 232 for 3 wire bytes; sparse index keys
 * are counted by their slots). Measured with @msgpack/msgpack 3 on V8
 * (Node 20): `npm run bench:heap`.
 */
export function readCost(bytes: number, objects: number): number {
  return 16 * bytes + 200 * objects;
}

/**
 * The limits of the handshake `[init, id]`: `maxHandshakeBytes`, and one
 * object (array, map, binary, extension) per 64 of those bytes (1024 at the
 * default), so that a pending handshake costs at most about a megabyte.
 */
export function handshakeLimits(config: { readonly maxHandshakeBytes: number; readonly limits: { readonly maxObjects: number } }): {
  maxValueBytes: number;
  maxObjects: number;
} {
  const { maxHandshakeBytes, limits } = config;
  return { maxValueBytes: maxHandshakeBytes, maxObjects: Math.min(limits.maxObjects, Math.max(16, Math.ceil(maxHandshakeBytes / 64))) };
}

/** A handshake that passed: the peer's init message, its id and the id's registry key. */
export interface PeerHandshake<N, I> {
  readonly initMessage: I;
  readonly nodeId: N;
  readonly key: string;
}

/**
 * The first frame read as the handshake, checked as the `handshake` operator
 * checks it (its validators; one that throws is a failed validation), then
 * keyed (an id that cannot be compared is refused) and, with key-bound ids,
 * verified against the peer's certificate: the handshake, or the error that
 * ends the connection.
 */
export function readHandshake<M, N, I>(
  value: unknown,
  config: ConnectionConfig<M, N, I>,
  stream: ByteStream,
): PeerHandshake<N, I> | NetError {
  let result: { initMessage: I; nodeId: N } | NetError;
  try {
    result = parseHandshake(value, config.validateInit, config.validateNodeId);
  } catch (error) {
    result = toNetError(error, 'READ_ERROR', 'the handshake validator threw');
  }
  if (result instanceof NetError) return result;
  let key: string;
  try {
    key = nodeIdKey(result.nodeId);
  } catch (error) {
    // Any value that decodes is a valid id; one that cannot be keyed (a lone surrogate, deeper
    // than the key encoder goes) is refused like a bad handshake.
    return invalidValue('a node id that cannot be compared in the handshake', stream.remoteAddress, { cause: error });
  }
  return config.verifyPeer?.(result.nodeId, stream) ?? { ...result, key };
}
