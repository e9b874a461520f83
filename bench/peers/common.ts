// What every benchmark process shares (bench/worker.ts's roles and the peers'), so that their figures mean the same:
// the JSON lines on stdout, the receiver's meter (first message to END), the sender's loop (batches of about
// 256 KiB of values, then the peer's own backpressure and one event-loop turn) and the round-trip percentiles.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { payload, type PayloadKind } from '../payloads.js';
import type { Latency } from '../types.js';

/** The value that ends a one-way run (after the last counted message). */
export const END = 'end';

/** Reports one JSON line to the coordinator, with the process's peak RSS. */
export const report = (value: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ...value, maxRss: process.resourceUsage().maxRSS * 1024 })}\n`);
};

/** One event-loop turn. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Counts messages from the first until END, and the longest event-loop stall meanwhile: over the whole
 * run, and once the first second (V8 warming up) is over.
 */
export class Meter {
  count = 0;
  private first = 0;
  private readonly delay = monitorEventLoopDelay({ resolution: 5 });
  private readonly steady = monitorEventLoopDelay({ resolution: 5 });
  private warm: ReturnType<typeof setTimeout> | undefined;
  constructor() {
    this.delay.enable();
  }
  message(): void {
    if (this.count++ === 0) {
      this.first = performance.now();
      this.warm = setTimeout(() => this.steady.enable(), 1000);
    }
  }
  /** Reports the run (`bytes`: what the receiver read of the library's own messages). */
  done(bytes: number): void {
    this.delay.disable();
    this.steady.disable();
    clearTimeout(this.warm);
    const seconds = (performance.now() - this.first) / 1000;
    const steadyStallMs = this.steady.count > 0 ? this.steady.max / 1e6 : undefined;
    report({ count: this.count, bytes, seconds, stallMs: this.delay.max / 1e6, steadyStallMs });
  }
}

/**
 * At most this many values between two backpressure checks (and event-loop turns) for a library that sends
 * each value as a message of its own: 256 KiB of tiny values is 262,144 of them, seconds of work for such a
 * library, during which it could neither flush nor see its backpressure (and nobody writes a loop like that).
 */
export const PER_MESSAGE_BATCH = 1024;

/**
 * The sender's loop of every one-way row: batches of about 256 KiB of values (at most `maxBatch` values) until
 * `seconds` are over, then END. `sendOne` may return a promise (zeromq.js's `send`), awaited before the next
 * value; `afterBatch` is where a peer waits for its backpressure signal.
 */
export async function sendLoop(
  kind: PayloadKind,
  seconds: number,
  sendOne: (value: unknown) => void | Promise<void>,
  afterBatch: () => Promise<void>,
  maxBatch = Number.POSITIVE_INFINITY,
): Promise<void> {
  const make = payload(kind);
  const batch = Math.max(1, Math.min(maxBatch, Math.floor((256 * 1024) / make.size)));
  const deadline = performance.now() + seconds * 1000;
  let seq = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < batch; i++) {
      const sending = sendOne(make.next(seq++));
      if (sending) await sending;
    }
    await afterBatch();
  }
  const sending = sendOne(END);
  if (sending) await sending;
  await afterBatch();
  report({ sent: seq });
}

/**
 * Round trips made before any is timed, by every implementation alike: the first few hundred run
 * before the JIT has compiled the path (and a library with more code on it takes longer to get
 * there), which is start-up cost, not the tail a long-lived connection sees.
 */
export const WARM_UP_TRIPS = 2000;

/**
 * Round trips, one in flight, driven by the peer's reply callback (as bench/worker.ts's ping roles):
 * `start()` sends the first ping, `reply()` takes each answer and sends the next until `count`.
 */
export class RoundTrips {
  private readonly times: number[] = [];
  private started = 0;
  private warming = Number(process.env['MPN_WARMUP'] ?? WARM_UP_TRIPS);
  private resolve: (latency: Latency) => void = () => undefined;
  readonly done = new Promise<Latency>((resolve) => (this.resolve = resolve));
  constructor(
    private readonly count: number,
    private readonly sendPing: () => void,
  ) {}
  start(): void {
    this.started = performance.now();
    this.sendPing();
  }
  reply(): void {
    if (this.warming > 0) {
      this.warming--;
      this.start();
      return;
    }
    this.times.push(performance.now() - this.started);
    if (this.times.length === this.count) this.resolve(percentiles(this.times));
    else this.start();
  }
}

/** Round trips for a promise-shaped API (zeromq.js): `once` sends a ping and resolves when its answer is back. */
export async function pingLoop(count: number, once: () => Promise<void>): Promise<Latency> {
  for (let i = 0; i < WARM_UP_TRIPS; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await once();
    times.push(performance.now() - started);
  }
  return percentiles(times);
}

/** p50, p99 and p99.9 of round-trip times in ms, in us. */
export function percentiles(times: readonly number[]): Latency {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number): number => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 1000;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) };
}

/** `host:port` of an address (`tcp://host:port`, `ws://host:port/`, or bare). */
export function hostPort(address: string): { host: string; port: number } {
  const match = /^(?:[a-z]+:\/\/)?([^:/]+):(\d+)/.exec(address);
  if (!match) throw new Error(`not an address: ${address}`);
  return { host: match[1]!, port: Number(match[2]) };
}

/** One library's four processes: a receiver and a sender (one-way), a pong and a ping (round trips). */
export interface PeerRoles {
  /** Listens and reports `{ address }`; counts values until END and reports the meter's line; exits when the sender goes. */
  recv(): Promise<void>;
  /** Connects to `address` and sends values of `kind` for `seconds`, then END; reports `{ sent }` and exits. */
  send(address: string, kind: PayloadKind, seconds: number): Promise<void>;
  /** Listens, reports `{ address }` and answers each value with the same value (the coordinator ends it). */
  pong(): Promise<void>;
  /** Connects to `address`, runs `count` round trips of the value 42, reports `{ rtts }` and exits. */
  ping(address: string, count: number): Promise<void>;
}
