import { NetError, describeValue } from '../errors.js';

/** The msgpack-rpc message types (the first element of each envelope). */
export const REQUEST = 0;
export const RESPONSE = 1;
export const NOTIFICATION = 2;

/** The notification that cancels a call: `[2, "$/cancelRequest", [msgid]]` (the Language Server Protocol's name). */
export const CANCEL_METHOD = '$/cancelRequest';

/** The largest msgid: msgpack-rpc's msgid is an unsigned 32-bit integer. */
export const MAX_MSGID = 0xffff_ffff;

/**
 * The error value of a failed call on the wire: a map with a string `code`
 * (a {@link NetError}'s code, the thrown error's string `code`, or
 * `'ERROR'`; `'NO_SUCH_METHOD'` and `'BUSY'` from the server itself), a
 * `message`, and `data` where the thrown error carried one.
 */
export interface RpcErrorValue {
  /** What failed, for programs: `'NO_SUCH_METHOD'`, `'BUSY'`, a {@link NetError} code or the thrown error's own. */
  readonly code: string;
  /** What failed, for people. */
  readonly message: string;
  /** Whatever the thrown error carried as `data`, when it was encodable. */
  readonly data?: unknown;
}

/** `[0, msgid, method, params]`. */
export type RpcRequest = readonly [0, number, string, readonly unknown[]];
/** `[1, msgid, error, result]`: `error` nil on success. */
export type RpcResponse = readonly [1, number, unknown, unknown];
/** `[2, method, params]`. */
export type RpcNotificationMessage = readonly [2, string, readonly unknown[]];
/** Any of the three msgpack-rpc envelopes. */
export type RpcMessage = RpcRequest | RpcResponse | RpcNotificationMessage;

/** Is `value` a msgpack-rpc msgid (an integer in 0..2^32-1)? */
export function isMsgid(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_MSGID;
}

/**
 * Is `value` shaped as a msgpack-rpc request, response or notification?
 * These are the messages an {@link Rpc} takes as its own; every other
 * message reaches `events$` as before. A node with `validateMessage` sees
 * them too, before any `Rpc`: let them through with
 * `validateMessage: (v): v is Mine | RpcMessage => isRpcMessage(v) || isMine(v)`.
 */
export function isRpcMessage(value: unknown): value is RpcMessage {
  if (!Array.isArray(value)) return false;
  switch (value.length) {
    case 4:
      return (
        (value[0] === REQUEST && isMsgid(value[1]) && typeof value[2] === 'string' && Array.isArray(value[3])) ||
        (value[0] === RESPONSE && isMsgid(value[1]))
      );
    case 3:
      return value[0] === NOTIFICATION && typeof value[1] === 'string' && Array.isArray(value[2]);
    default:
      return false;
  }
}

/** The wire error value for an error a handler threw (or rejected, or errored with). */
export function errorValue(error: unknown): RpcErrorValue {
  const record = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : undefined;
  let code = 'ERROR';
  if (error instanceof NetError) code = error.code;
  else if (record && typeof record['code'] === 'string') code = record['code'];
  let message: string;
  try {
    message = error instanceof Error ? error.message : typeof record?.['message'] === 'string' ? record['message'] : String(error);
  } catch {
    message = 'a value that cannot be printed';
  }
  return record && record['data'] !== undefined ? { code, message, data: record['data'] } : { code, message };
}

/** The `NetError` a caller rejects with when the peer answered `error`: `BUSY` for the server's `BUSY`, else `REMOTE_ERROR`. */
export function remoteError(error: unknown, method: string, to: unknown): NetError {
  const record = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : undefined;
  const code = record && typeof record['code'] === 'string' ? record['code'] : undefined;
  const text = record && typeof record['message'] === 'string' ? record['message'] : undefined;
  const quoted = text !== undefined ? `: ${code ?? 'ERROR'}: ${text}` : code !== undefined ? `: ${code}` : '';
  return new NetError(code === 'BUSY' ? 'BUSY' : 'REMOTE_ERROR', `"${method}" failed on node ${describeValue(to)}${quoted}`, {
    nodeId: to,
    remoteError: error,
  });
}
