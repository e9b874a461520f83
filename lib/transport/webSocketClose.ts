/**
 * What both WebSocket streams share (`wsStream.ts` over the `ws` package on
 * Node.js, `webSocketStream.ts` over the WebSocket API in browsers): the
 * size a write is split at, the abort code, and what a close code means.
 * Browser-safe: imports nothing from Node.js.
 */
import { NetError } from '../errors.js';

/**
 * Largest WebSocket message written (256 KiB): a longer write goes as
 * several messages, so that no message nears a peer's `maxPayload`.
 */
export const WEB_SOCKET_MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * The close code of an abortive close: the WebSocket API has no reset, and
 * lets a page send 1000 or 3000-4999 only, so a page's `destroy(true)` closes
 * with 4000, which both sides read, like a close without a close frame
 * (1006), as `CONNECTION_ABORTED`.
 */
export const WEB_SOCKET_ABORT_CODE = 4000;

/** `readyState` of an open WebSocket (both APIs). */
export const WEB_SOCKET_OPEN = 1;

/** Close codes that end the stream in order: normal, going away, no status. */
const CLEAN_CLOSE = new Set([1000, 1001, 1005]);

/**
 * What a peer's close means: with 1000, 1001 or no code, the end of the
 * stream (`undefined`); without a close frame (1006, or `wasClean` false) or
 * with {@link WEB_SOCKET_ABORT_CODE}, `CONNECTION_ABORTED`; with another
 * code, `CONNECTION_ERROR`, its code and reason in the message.
 */
export function closeError(address: string, code: number, reason: string, wasClean = true): NetError | undefined {
  if (wasClean && CLEAN_CLOSE.has(code)) return undefined;
  const why = reason === '' ? '' : ` (${reason})`;
  if (!wasClean || code === 1006 || code === WEB_SOCKET_ABORT_CODE) {
    return new NetError('CONNECTION_ABORTED', `the WebSocket connection to ${address} was cut (close code ${code}${why})`, { address });
  }
  return new NetError('CONNECTION_ERROR', `${address} closed the WebSocket with code ${code}${why}`, { address });
}
