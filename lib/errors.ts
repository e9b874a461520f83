/**
 * The stable error codes of {@link NetError}. The first eight are the Rust
 * crate's `Error` variants; the rest are this library's additions.
 *
 * | code | meaning |
 * |---|---|
 * | `ALREADY_CLOSED` | the node was closed; `listen`, `connect`, `send` no longer work |
 * | `OPEN_ERROR` | a listening socket could not be opened (port in use, bad address) |
 * | `CONNECTION_ERROR` | a connection could not be established or its handshake failed |
 * | `SEND_ERROR` | a message could not be encoded or queued |
 * | `READ_ERROR` | the peer sent bytes that are not valid MessagePack, break a limit, or fail validation |
 * | `NOT_CONNECTED` | there is no connection to that node id |
 * | `CONNECTION_ABORTED` | the connection was reset or broke while in use |
 * | `CLOSE_ERROR` | writing the last bytes while closing failed |
 * | `TIMEOUT` | a deadline passed (receive, handshake, idle connection, slow consumer, an `Rpc` call) |
 * | `REMOTE_ERROR` | the peer answered an `Rpc` call with an error (see `remoteError`) |
 * | `BUSY` | the peer refused an `Rpc` call: it was serving `maxConcurrent` calls from this node |
 * | `DISCOVERY_ERROR` | a `Cluster`'s discovery source failed or listed garbage (on `cluster.errors$`) |
 */
export type NetErrorCode =
  | 'ALREADY_CLOSED'
  | 'OPEN_ERROR'
  | 'CONNECTION_ERROR'
  | 'SEND_ERROR'
  | 'READ_ERROR'
  | 'NOT_CONNECTED'
  | 'CONNECTION_ABORTED'
  | 'CLOSE_ERROR'
  | 'TIMEOUT'
  | 'REMOTE_ERROR'
  | 'BUSY'
  | 'DISCOVERY_ERROR';

/** Every {@link NetErrorCode}, for exhaustive checks and documentation. */
export const NET_ERROR_CODES: readonly NetErrorCode[] = Object.freeze([
  'ALREADY_CLOSED',
  'OPEN_ERROR',
  'CONNECTION_ERROR',
  'SEND_ERROR',
  'READ_ERROR',
  'NOT_CONNECTED',
  'CONNECTION_ABORTED',
  'CLOSE_ERROR',
  'TIMEOUT',
  'REMOTE_ERROR',
  'BUSY',
  'DISCOVERY_ERROR',
]);

/** What a {@link NetError} was about, beyond its code. Every field is optional. */
export interface NetErrorContext {
  /** The foreign error behind this one (from `node:net`, from the MessagePack decoder...). */
  readonly cause?: unknown;
  /** The node the failure concerns. */
  readonly nodeId?: unknown;
  /** The address (`"host:port"`) the failure concerns. */
  readonly address?: string;
  /** The name of the limit or deadline that was broken, e.g. `"maxValueBytes"`. */
  readonly limit?: string;
  /** The configured value of that limit. */
  readonly max?: number;
  /** The value that broke it (a length, a depth, a byte count). */
  readonly actual?: number;
  /** The error value a peer answered an `Rpc` call with, as received. */
  readonly remoteError?: unknown;
}

/**
 * The one error class of msgpacknet. Tell failures apart by `code`, never by
 * message text.
 *
 * @example
 * ```ts
 * import { Node, NetError } from 'msgpacknet';
 * const node = Node.createDefault();
 * try {
 *   node.send('nobody', 'hi');
 * } catch (error) {
 *   if (error instanceof NetError && error.code === 'NOT_CONNECTED') console.log('not connected to', error.nodeId);
 * }
 * await node.close();
 * ```
 */
export class NetError extends Error {
  /** The stable code; see {@link NetErrorCode}. */
  readonly code: NetErrorCode;
  /** The node the failure concerns, where there is one. */
  readonly nodeId?: unknown;
  /** The address the failure concerns, where there is one. */
  readonly address?: string;
  /** The name of the limit or deadline that was broken, where there is one. */
  readonly limit?: string;
  /** The configured value of {@link limit}. */
  readonly max?: number;
  /** The value that broke {@link limit}. */
  readonly actual?: number;
  /** For `REMOTE_ERROR` and `BUSY`: the error value the peer answered with, as received (usually `{ code, message, data? }`). */
  readonly remoteError?: unknown;

  constructor(code: NetErrorCode, message: string, context: NetErrorContext = {}) {
    super(message, 'cause' in context ? { cause: context.cause } : undefined);
    this.name = 'NetError';
    this.code = code;
    if ('nodeId' in context) this.nodeId = context.nodeId;
    if (context.address !== undefined) this.address = context.address;
    if (context.limit !== undefined) this.limit = context.limit;
    if (context.max !== undefined) this.max = context.max;
    if (context.actual !== undefined) this.actual = context.actual;
    if ('remoteError' in context) this.remoteError = context.remoteError;
  }
}

/**
 * Is `error` a {@link NetError}, optionally with the given `code`?
 *
 * @example
 * ```ts
 * import { Node, isNetError } from 'msgpacknet';
 * const node = Node.createDefault();
 * await node.close();
 * await node.listen('127.0.0.1:0').catch((error: unknown) => {
 *   if (isNetError(error, 'ALREADY_CLOSED')) console.log('closed'); // closed
 * });
 * ```
 */
export function isNetError(error: unknown, code?: NetErrorCode): error is NetError {
  return error instanceof NetError && (code === undefined || error.code === code);
}

/**
 * A `READ_ERROR` for a broken decode limit: one factory so that every limit
 * error has the same shape (`limit`, `max`, `actual`).
 */
export function limitError(limit: string, max: number, actual: number, what: string): NetError {
  return new NetError('READ_ERROR', `${what} (${actual}) exceeds ${limit} (${max})`, {
    limit,
    max,
    actual,
  });
}

/** Wraps anything thrown by foreign code as a `NetError` with that `code`, keeping NetErrors as they are. */
export function toNetError(error: unknown, code: NetErrorCode, message: string, context: NetErrorContext = {}): NetError {
  if (error instanceof NetError) return error;
  let detail: string;
  try {
    detail = error instanceof Error ? error.message : String(error);
  } catch {
    detail = 'a value that cannot be printed'; // Object.create(null) has no toString; a toString may throw
  }
  return new NetError(code, `${message}: ${detail}`, { ...context, cause: error });
}

// Factories: one per failure that more than one place reports, so that each has one code, one
// message shape and the same context wherever it comes from.

/** `ALREADY_CLOSED`: the node was closed. */
export function alreadyClosed(): NetError {
  return new NetError('ALREADY_CLOSED', 'the node is closed');
}

/** `NOT_CONNECTED`: no usable connection to `nodeId` (`why` says more: "is closing"). */
export function notConnected(nodeId: unknown, why = 'there is no connection to it'): NetError {
  return new NetError('NOT_CONNECTED', `not connected to node ${describeValue(nodeId)}: ${why}`, { nodeId });
}

/** `TIMEOUT` at the handshake deadline: `ms` after the connection began, `what` had not happened. */
export function deadlineError(ms: number, what: string, address?: string): NetError {
  const where = address === undefined ? '' : ` (${address})`;
  return new NetError('TIMEOUT', `${what} within the handshake deadline of ${ms} ms${where}`, {
    limit: 'handshakeTimeout',
    max: ms,
    ...(address === undefined ? {} : { address }),
  });
}

/** `TIMEOUT` for a connection that received nothing for `ms`. */
export function idleError(ms: number, context: { readonly address?: string; readonly nodeId?: unknown } = {}): NetError {
  const where = context.address ? ` from ${context.address}` : '';
  return new NetError('TIMEOUT', `nothing received for ${ms} ms${where}`, { ...context, limit: 'idleTimeout', max: ms });
}

/**
 * A transport failure as a `NetError`: a reset (`ECONNRESET`, `EPIPE`,
 * `ECONNABORTED`, `ETIMEDOUT`) is `CONNECTION_ABORTED`, anything else
 * `CONNECTION_ERROR`; a `NetError` stays as it is.
 */
export function streamError(error: unknown, address: string): NetError {
  if (error instanceof NetError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const aborted = code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED' || code === 'ETIMEDOUT';
  return new NetError(aborted ? 'CONNECTION_ABORTED' : 'CONNECTION_ERROR', `connection to ${address} failed: ${errorText(error)}`, {
    cause: error,
    address,
  });
}

/** The `error:<hex>:<library>:<function>:<reason>` of an OpenSSL report (the function may be empty). */
const OPENSSL_REPORT = /(?:^|:)error:[0-9A-Fa-f]+:[^:\n]*:[^:\n]*:([^:\n]+)/;

/**
 * A foreign error's text on one line, in one format: `"<what> (<code>)"`.
 * node:tls passes OpenSSL's raw report on, in more than one layout and with a
 * trailing newline (`"80FC...:error:0A000412:SSL routines:ssl3_read_bytes:sslv3
 * alert bad certificate:../deps/...:1605:SSL alert number 42\n"`); it reads
 * `"sslv3 alert bad certificate (ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE)"`.
 * Anything else: the first line of its message, trimmed, with its `code` when
 * the message does not name it (`"socket hang up (ECONNRESET)"`).
 */
export function errorText(error: unknown): string {
  let message: string;
  try {
    message = error instanceof Error ? error.message : String(error);
  } catch {
    return 'a value that cannot be printed';
  }
  const { code, reason, library } = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const openssl = typeof reason === 'string' && typeof library === 'string' ? reason : OPENSSL_REPORT.exec(message)?.[1];
  const text = (openssl ?? message).trim().split('\n', 1)[0]!.trim() || 'no message';
  return typeof code === 'string' && code !== '' && !text.includes(code) ? `${text} (${code})` : text;
}

/**
 * `CONNECTION_ERROR`: a TLS listener closed (or reset) an outgoing connection
 * right after the TLS handshake, before a byte of its own. That is how a
 * listener refuses a client's certificate, or its lack of one: under TLS 1.3
 * the client's handshake is done before the listener has checked it, and
 * node:tls sends no alert then, so this is all the client can learn.
 * `withCertificate`: did this node present one?
 */
export function refusedAfterTls(address: string, withCertificate: boolean, cause?: unknown): NetError {
  const why = withCertificate
    ? "it most likely refused this node's certificate"
    : 'it most likely requires a client certificate, and this node has no tls.cert';
  return new NetError(
    'CONNECTION_ERROR',
    `${address} closed the connection right after the TLS handshake, before sending anything: ${why} (a msgpacknet listener says why on its failures$)`,
    { address, ...(cause === undefined ? {} : { cause }) },
  );
}

/** `CONNECTION_ERROR`: with key-bound ids (`authenticateIds`), a peer that presented no certificate. */
export function noCertificate(address: string, nodeId?: unknown): NetError {
  return new NetError('CONNECTION_ERROR', `${address} presented no certificate, and ids are key-bound (authenticateIds)`, {
    address,
    ...(nodeId === undefined ? {} : { nodeId }),
  });
}

/** A short description of a value for an error message (JSON where possible). */
export function describeValue(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? `${item}n` : item)) as string | undefined;
    return text ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** `CONNECTION_ERROR`: an incoming connection refused at once because `limit` (`max`) is reached. */
export function refusedError(address: string, limit: string, max: number): NetError {
  return new NetError('CONNECTION_ERROR', `refused ${address}: ${limit} (${max}) reached`, { address, limit, max, actual: max });
}

/** `CONNECTION_ERROR`: a connection that ended before it was accepted (`phase`: "during the handshake", "before its connection was accepted"). */
export function endedEarly(address: string, phase: string, nodeId?: unknown): NetError {
  return new NetError('CONNECTION_ERROR', `the connection to ${address} ended ${phase}`, {
    address,
    ...(nodeId === undefined ? {} : { nodeId }),
  });
}

/** `READ_ERROR`: a value from the peer failed validation, or its node id cannot be compared (`cause`). */
export function invalidValue(
  what: string,
  address: string,
  context: { readonly nodeId?: unknown; readonly cause?: unknown } = {},
): NetError {
  return new NetError('READ_ERROR', `${what} from ${address}`, { ...context, address });
}

/** `CLOSE_ERROR`: writing the last bytes while closing failed. */
export function closeError(cause: Error, address: string, nodeId: unknown): NetError {
  return new NetError('CLOSE_ERROR', `closing the connection to ${address} failed: ${cause.message}`, { cause, nodeId, address });
}

/** `TIMEOUT`: the write queue stayed over its high-water mark for `ms` (a slow consumer, or a dead peer). */
export function slowConsumerError(address: string, nodeId: unknown, queued: number, ms: number): NetError {
  return new NetError('TIMEOUT', `${address} read too slowly: ${queued} bytes queued for ${ms} ms`, {
    nodeId,
    address,
    limit: 'writeTimeout',
    max: ms,
    actual: queued,
  });
}
