import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { resolveDecodeLimits, type DecodeLimits, type ResolvedDecodeLimits } from './codec/limits.js';
import * as D from './defaults.js';
import { checkValidator, type Validator } from './validate.js';
import type { Transport } from './transport/Transport.js';

/**
 * Options of a {@link Node}; every one is optional. Limits on decoded values
 * (`maxValueBytes`, `maxDepth`, ...; see `DecodeLimits`) apply to every
 * message; `maxValueBytes` also caps what `send` accepts.
 */
export interface NodeOptions<M = unknown, N = unknown, I = unknown> extends DecodeLimits {
  /**
   * ms without receiving anything after which a connection is closed
   * (`disconnected` with reason `'idle'` and a `TIMEOUT` error). Only data
   * counts: WebSocket pings do not, so a one-way flow needs replies. While
   * the node itself holds reading (a full event buffer), the period starts
   * again. @default 60000
   */
  readonly connectionTimeout?: number;
  /** ms, half-life of the rates in `stats()`. @default 60000 */
  readonly statsHalfLife?: number;
  /**
   * ms from TCP connect to an accepted handshake: one absolute deadline that
   * covers a TLS handshake and a WebSocket upgrade too. Past it an incoming
   * connection ends with `TIMEOUT` on `failures$`, and a pending `connect`
   * rejects with `TIMEOUT`. @default 10000
   */
  readonly handshakeTimeout?: number;
  /** Largest handshake value `[init, id]`, in bytes; a larger one is aborted before it becomes a request (`READ_ERROR` on `failures$`). @default 65536 */
  readonly maxHandshakeBytes?: number;
  /**
   * Most messages kept from a peer between its handshake and the accept
   * decision. Reading pauses from half of it; going over it in one read
   * drops the request (`READ_ERROR`, `limit: 'maxPending'`, on `failures$`).
   * @default 1024
   */
  readonly maxPendingMessages?: number;
  /**
   * Estimated heap (bytes; 16 per wire byte + 200 per array, map, binary or
   * extension) of what a peer may send between its handshake and the accept
   * decision. Until then the connection reads on, so a reset or a half-close
   * is seen; beyond this it stops reading until the decision (a reset that
   * comes later shows only after `accept()`). @default 4 MiB
   */
  readonly maxPendingBytes?: number;
  /**
   * Most incoming connections with a handshake or decision outstanding (TLS
   * handshakes in progress count too); more are refused at once, each with
   * `CONNECTION_ERROR` and `limit: 'maxPendingHandshakes'` on `failures$`. @default 1024
   */
  readonly maxPendingHandshakes?: number;
  /** Most connections (registered and pending); more are refused at once, each with `CONNECTION_ERROR` and `limit: 'maxConnections'` on `failures$`. @default 65536 */
  readonly maxConnections?: number;
  /** Most events kept for the next `events$` subscriber; beyond it, reading pauses (nothing is dropped). @default 10000 */
  readonly eventBufferSize?: number;
  /**
   * Most estimated heap (bytes, estimated as for `maxPendingBytes`) of the
   * events kept for the next `events$` subscriber; beyond it, reading pauses
   * (nothing is dropped). @default 128 MiB
   */
  readonly eventBufferBytes?: number;
  /** Bytes queued on a connection above which it is not writable (`writable$`). @default 1 MiB */
  readonly writeHighWaterMark?: number;
  /**
   * Bytes queued on a connection above which `send` throws `SEND_ERROR`
   * (`limit: 'maxQueuedBytes'`; nothing of that message is queued). At least
   * `writeHighWaterMark` (else a `TypeError`). @default the larger of 64 MiB and `maxValueBytes`
   */
  readonly maxQueuedBytes?: number;
  /** ms a connection may stay not writable before it is closed (`'slow-consumer'`). @default 60000 */
  readonly writeTimeout?: number;
  /** ms `close()` waits for flushing and the peer's end of stream before destroying sockets. @default 5000 */
  readonly linger?: number;
  /** The scheduler of every timer: idle, handshake, linger, write and `receive` timeouts, link backoff (a `TestScheduler` or `VirtualTimeScheduler` in tests). @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
  /** Checks each incoming message, synchronously; a failure (or a throw) ends that connection with `READ_ERROR`. @default accept any */
  readonly validateMessage?: Validator<M>;
  /** Checks each peer's node id, synchronously; a failure (or a throw) aborts the connection (`READ_ERROR` on `failures$`). @default accept any */
  readonly validateNodeId?: Validator<N>;
  /** Checks each peer's init message, synchronously; a failure (or a throw) aborts the connection (`READ_ERROR` on `failures$`). @default accept any */
  readonly validateInit?: Validator<I>;
  /** Key, certificate and trust for `tls://` addresses (node:tls options). @default none: tls:// can connect to publicly trusted servers only, and not listen */
  readonly tls?: NodeTlsOptions;
  /**
   * Key-bound node ids: this node's id must be `certificateId(tls.cert)`,
   * and `tls.key` must be given (else a `TypeError` here); it listens on and connects over `tls://`
   * and `wss://` only; every peer must present a certificate whose `certificateId` is the
   * id in its handshake, or it is cut before it becomes a request (a
   * `CONNECTION_ERROR` on `failures$`, or from `connect`). Self-signed
   * certificates are fine; with a `ca`, chains are checked too. @default false
   */
  readonly authenticateIds?: boolean;
  /**
   * Transports of your own, by URL scheme (`{ quic: myTransport }` serves
   * `quic://host:port`), beside the platform's (`tcp`, `tls`, `ws`, `wss` on
   * Node.js; `ws`, `wss` in browsers); one named like a platform's replaces it.
   * See `Transport` and the README's "Transports". @default none
   */
  readonly transports?: Readonly<Record<string, Transport>>;
}

/** The `tls` option of a node: node:tls key, certificate and trust settings. */
export interface NodeTlsOptions {
  /** Private key (PEM). @default none */
  readonly key?: string | Uint8Array;
  /** Certificate chain (PEM). @default none */
  readonly cert?: string | Uint8Array;
  /** Trusted CAs (PEM); without it, node:tls trusts its built-in root store. @default none */
  readonly ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  /** Passphrase of an encrypted key. @default none */
  readonly passphrase?: string;
  /**
   * Refuse a peer whose certificate does not verify against `ca` (on a
   * client, also one whose name does not match). A listener asks every
   * client for a certificate; set this to false to admit clients without
   * one and decide with `accept()`/`reject()`. @default true (node:tls's default)
   */
  readonly rejectUnauthorized?: boolean;
}

/** The options resolved once, frozen; the three mutable settings live on the node. */
export interface ResolvedNodeOptions<M, N, I> {
  readonly handshakeTimeout: number;
  readonly limits: ResolvedDecodeLimits;
  readonly maxHandshakeBytes: number;
  readonly maxPendingMessages: number;
  readonly maxPendingBytes: number;
  readonly maxPendingHandshakes: number;
  readonly maxConnections: number;
  readonly eventBufferSize: number;
  readonly eventBufferBytes: number;
  readonly writeHighWaterMark: number;
  readonly maxQueuedBytes: number;
  readonly writeTimeout: number;
  readonly linger: number;
  readonly scheduler: SchedulerLike;
  readonly validateMessage: Validator<M> | undefined;
  readonly validateNodeId: Validator<N> | undefined;
  readonly validateInit: Validator<I> | undefined;
  readonly tls: NodeTlsOptions;
  readonly authenticateIds: boolean;
  readonly transports: Readonly<Record<string, Transport>>;
}

/** Throws a `TypeError` unless `value` is a positive number of ms (or a positive integer count). */
export function positive(name: string, value: number, integer = false): number {
  if (!(typeof value === 'number' && value > 0 && Number.isFinite(value)) || (integer && !Number.isSafeInteger(value))) {
    throw new TypeError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  return value;
}

/** The longest delay a timer holds (setTimeout's 32-bit limit, about 24.8 days): a longer one would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration in ms that a timer will wait: positive and at most
 * {@link MAX_TIMER_MS}, or `Infinity` where `forever` allows it; else a `TypeError`.
 */
export function duration(name: string, value: number, forever = false): number {
  const error = durationError(name, value, forever);
  if (error) throw error;
  return value;
}

/** What {@link duration} would throw, for callers that reject instead. */
export function durationError(name: string, value: number, forever = false): TypeError | undefined {
  if (forever && value === Number.POSITIVE_INFINITY) return undefined;
  if (!(typeof value === 'number' && value > 0 && value <= MAX_TIMER_MS)) {
    const most = `at most ${MAX_TIMER_MS} ms (about 24.8 days)${forever ? ' or Infinity' : ''}`;
    return new TypeError(`${name} must be a positive number of ms, ${most}, got ${String(value)}`);
  }
  return undefined;
}

/** Resolves options once into a new frozen object; never writes to the caller's object. */
export function resolveNodeOptions<M, N, I>(options: NodeOptions<M, N, I>): ResolvedNodeOptions<M, N, I> {
  checkValidator('validateMessage', options.validateMessage);
  checkValidator('validateNodeId', options.validateNodeId);
  checkValidator('validateInit', options.validateInit);
  const limits = resolveDecodeLimits(options);
  const writeHighWaterMark = positive('writeHighWaterMark', options.writeHighWaterMark ?? D.DEFAULT_WRITE_HIGH_WATER_MARK, true);
  const maxQueuedBytes = positive(
    'maxQueuedBytes',
    options.maxQueuedBytes ?? Math.max(D.DEFAULT_MAX_QUEUED_BYTES, limits.maxValueBytes),
    true,
  );
  if (maxQueuedBytes < writeHighWaterMark)
    throw new TypeError(`maxQueuedBytes (${maxQueuedBytes}) must be at least writeHighWaterMark (${writeHighWaterMark})`);
  return Object.freeze({
    handshakeTimeout: duration('handshakeTimeout', options.handshakeTimeout ?? D.DEFAULT_HANDSHAKE_TIMEOUT),
    limits,
    maxHandshakeBytes: positive('maxHandshakeBytes', options.maxHandshakeBytes ?? D.DEFAULT_MAX_HANDSHAKE_BYTES, true),
    maxPendingMessages: positive('maxPendingMessages', options.maxPendingMessages ?? D.DEFAULT_MAX_PENDING_MESSAGES, true),
    maxPendingBytes: positive('maxPendingBytes', options.maxPendingBytes ?? D.DEFAULT_MAX_PENDING_BYTES, true),
    maxPendingHandshakes: positive('maxPendingHandshakes', options.maxPendingHandshakes ?? D.DEFAULT_MAX_PENDING_HANDSHAKES, true),
    maxConnections: positive('maxConnections', options.maxConnections ?? D.DEFAULT_MAX_CONNECTIONS, true),
    eventBufferSize: positive('eventBufferSize', options.eventBufferSize ?? D.DEFAULT_EVENT_BUFFER_SIZE, true),
    eventBufferBytes: positive('eventBufferBytes', options.eventBufferBytes ?? D.DEFAULT_EVENT_BUFFER_BYTES, true),
    writeHighWaterMark,
    maxQueuedBytes,
    writeTimeout: duration('writeTimeout', options.writeTimeout ?? D.DEFAULT_WRITE_TIMEOUT),
    linger: duration('linger', options.linger ?? D.DEFAULT_LINGER),
    scheduler: options.scheduler ?? asyncScheduler,
    validateMessage: options.validateMessage,
    validateNodeId: options.validateNodeId,
    validateInit: options.validateInit,
    tls: Object.freeze({ ...options.tls }),
    authenticateIds: options.authenticateIds ?? false,
    transports: Object.freeze({ ...options.transports }),
  });
}
