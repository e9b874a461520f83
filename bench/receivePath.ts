// The receive path alone, in one process, no sockets: 64 KiB chunks of tiny values (42) or small maps pushed
// through a connection (readFrames -> handshake -> the node's sink -> EventHub -> a subscriber), in ns per
// message, best of 8 rounds, one kind per process (`node dist/bench/receivePath.js tiny|small`). Without network or scheduler noise, this is the figure to compare between
// versions of the code. `npm run bench:path`
import { Subject, asyncScheduler } from 'rxjs';
import { Connection } from '../lib/node/Connection.js';
import { connectionParts, handshakeLimits, type ConnectionSink } from '../lib/node/connectionParts.js';
import { Deadline } from '../lib/node/Deadline.js';
import { EventHub } from '../lib/node/EventHub.js';
import { resolveNodeOptions } from '../lib/options.js';
import type { ByteStream } from '../lib/transport/Transport.js';

function nsPerMessage(one: Uint8Array, chunksPerRound: number): number {
  const options = resolveNodeOptions<unknown, unknown, unknown>({});
  const frames = { ...options.limits, first: handshakeLimits(options) };
  const config = {
    ...options,
    connectionTimeout: 60_000,
    statsHalfLife: 60_000,
    frames,
    ...connectionParts(options, 60_000, frames),
  };
  const chunks = new Subject<Uint8Array>();
  const stream: ByteStream = {
    remoteAddress: '127.0.0.1:1',
    chunks$: chunks,
    write: () => undefined,
    writable: true,
    queuedBytes: 0,
    whenDrained: () => undefined,
    end: () => undefined,
    destroy: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
    closed: new Promise(() => undefined),
  };
  const hub = new EventHub<unknown>(10_000, () => undefined);
  let count = 0;
  hub.events$.subscribe(() => count++);
  const sink: ConnectionSink<unknown, unknown, unknown> = {
    request: (_connection, request) => void request.accept(),
    accepted: () => true,
    message: (connection, message) => hub.emit({ type: 'message', from: connection.nodeId, message }),
    read: () => undefined,
    ended: () => undefined,
  };
  const deadline = new Deadline(3_600_000, asyncScheduler);
  new Connection<unknown, unknown, unknown>(stream, false, 'tcp', config, sink, Uint8Array.of(0x92, 0xc0, 0xa1, 0x61), deadline).start();
  chunks.next(Uint8Array.of(0x92, 0xc0, 0xa1, 0x62)); // the peer's handshake
  const n = Math.floor(65_536 / one.length);
  const chunk = new Uint8Array(n * one.length);
  for (let i = 0; i < n; i++) chunk.set(one, i * one.length);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 8; round++) {
    const started = performance.now();
    for (let k = 0; k < chunksPerRound; k++) chunks.next(chunk);
    best = Math.min(best, performance.now() - started);
  }
  deadline.cancel();
  if (count !== 8 * chunksPerRound * n) throw new Error(`expected ${8 * chunksPerRound * n} messages, got ${count}`);
  return (best / (chunksPerRound * n)) * 1e6;
}

const small = Uint8Array.from([
  0x83,
  0xa3,
  0x73,
  0x65,
  0x71,
  0xce,
  0,
  1,
  2,
  3,
  0xa2,
  0x74,
  0x73,
  0xcb,
  0x42,
  0x78,
  0,
  0,
  0,
  0,
  0,
  0,
  0xa4,
  0x62,
  0x6f,
  0x64,
  0x79,
  0xab,
  ...new TextEncoder().encode('hello world'),
]);
// One kind per process: a process that ran the other first would have its JIT feedback (and be slower).
const kind = process.argv[2] ?? 'tiny';
if (kind === 'tiny') console.log(`tiny (42): ${nsPerMessage(Uint8Array.of(42), 200).toFixed(1)} ns per message`);
else console.log(`small ({seq, ts, body}): ${nsPerMessage(small, 60).toFixed(1)} ns per message`);
process.exit(0);
