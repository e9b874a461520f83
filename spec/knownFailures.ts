import type { KnownFailure } from './helpers/runtime.js';

/**
 * Cases that fail on Bun or Deno for a reason of the runtime's, each with
 * its issue: that runtime's run leaves them out and prints this reason;
 * everywhere else they run. Remove an entry once the runtime
 * version in package.json passes it.
 */
export const KNOWN_FAILURES: readonly KnownFailure[] = [
  {
    runtime: 'deno',
    suite: 'transport compliance: tls byte streams',
    spec: 'destroy(true): the peer sees CONNECTION_ABORTED; destroy(): an end of stream',
    why: "a node:tls server socket reports the peer's TCP reset as a clean end of stream (Deno's client does send the reset: a Node.js server sees ECONNRESET)",
    issue: 'no Deno issue found for 2.9.6; TLSWrap there: denoland/deno#33524',
  },
  {
    runtime: 'deno',
    suite: 'transport compliance: tls nodes over it',
    spec: "the peer's end of stream is 'remote-closed'; its abortive close is 'error' with CONNECTION_ABORTED",
    why: "a node:tls server socket reports the peer's TCP reset as a clean end of stream, so the node sees 'remote-closed'",
    issue: 'no Deno issue found for 2.9.6; TLSWrap there: denoland/deno#33524',
  },
  {
    runtime: 'deno',
    suite: 'transport compliance: tls byte streams',
    spec: 'pause(): nothing is read, so the writer queues; resume(): it drains and whenDrained calls back',
    why: 'a paused node:tls server socket keeps reading from the network and buffers without bound, so its peer never queues (no backpressure)',
    issue: 'denoland/deno#33524 (readStop buffers decrypted data in TLSWrap instead of stopping reads)',
  },
  {
    runtime: 'deno',
    suite: 'transport compliance: wss byte streams',
    spec: 'pause(): nothing is read, so the writer queues; resume(): it drains and whenDrained calls back',
    why: 'the wss:// listener is node:tls underneath: a paused server socket keeps reading and buffers without bound (no backpressure)',
    issue: 'denoland/deno#33524 (readStop buffers decrypted data in TLSWrap instead of stopping reads)',
  },
  {
    runtime: 'deno',
    suite: 'transport compliance: tls nodes over it',
    spec: 'close() with queued data: everything sent arrives before the end of stream',
    why: "a node:tls socket that is paused when the peer's data and end arrive never emits 'end' after resume() (the reader pauses for a turn under a flood), so the case hangs in some runs",
    issue: 'no Deno issue found for 2.9.6; TLSWrap pending_eof: denoland/deno#33524',
  },
];
