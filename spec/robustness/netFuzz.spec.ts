import { spawn } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { decodeMulti, encode as msgpackEncode } from '@msgpack/msgpack';
import type { Node } from '../../lib/node/Node.js';
import { concatBytes, hex, prng } from '../helpers/bytes.js';
import { Lines } from '../helpers/lines.js';
import { makeNode, sleep } from '../helpers/nodes.js';

/**
 * A socket-level fuzzer against a live node in a child process (fuzzTarget.ts: default options, accepts
 * everyone, echoes every message). Raw node:net sockets on loopback send mutated handshakes, deep and huge
 * values, odd ext types and map keys, random bytes, then end with a FIN, a reset, a destroy, a half-close or
 * silence; 16 at a time, until the time is up. Meanwhile a library canary pings numbered messages through
 * the target. Invariants: the target never crashes; the canary's sequence has no gap, duplicate or
 * reordering, and it stays connected; the target's first bytes on every socket are its handshake; a socket
 * we end is closed by the target within the handshake deadline plus slack; a well-formed stream with a
 * unique id is echoed whole and in order; afterwards the target is back to one connection and one socket
 * (the canary), with heapUsed under a bound. A crash restarts the target and the hunt goes on; each distinct
 * crash is replayed alone against a fresh target to find its bytes.
 *
 * CI runs a short hunt with seed 1. A longer one, with a random seed unless NET_FUZZ_SEED is given:
 * `NET_FUZZ_SECONDS=600 npm run fuzz:net`. The seed and case numbers are printed; a case's bytes depend only
 * on both.
 */
const TARGET = 'build/spec/robustness/fuzzTarget.js';
const SECONDS = Number(process.env.NET_FUZZ_SECONDS ?? 15);
const SEED = Number(process.env.NET_FUZZ_SEED ?? (process.env.NET_FUZZ_SECONDS === undefined ? 1 : Math.floor(Math.random() * 2 ** 31)));
const IN_FLIGHT = 16;
/** The target's handshakeTimeout (its default): a case that took longer to write may be cut, and owes no echo. */
const HANDSHAKE_DEADLINE = 10_000;
/** The target's handshakeTimeout plus slack: a socket must be closed by then. */
const CLOSE_BOUND = 12_000;
const HEAP_BOUND = 300 * 1024 * 1024;
const MAX_CRASHES = 8;
/** Kept per socket for the echo check; beyond it bytes are only counted. */
const KEEP_BYTES = 1 << 20;
const encode = (value: unknown): Uint8Array => msgpackEncode(value, { useBigInt64: true });
const TARGET_HANDSHAKE = encode([null, 'target']);

type Rng = ReturnType<typeof rng>;
function rng(seed: number) {
  const next = prng(seed);
  const int = (n: number): number => Math.floor(next() * n);
  return {
    int,
    chance: (p: number): boolean => next() < p,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    bytes: (n: number): Uint8Array => new Uint8Array(n).map(() => int(256)),
  };
}

const repeat = (unit: string, n: number): Uint8Array => hex(unit.repeat(n));
const DEPTHS = [63, 64, 65, 100, 999, 1000, 1001, 1500, 10_000, 70_000];
const HUGE = ['dbffffffff', 'c6ffffffff', 'ddffffffff', 'dfffffffff', 'c9ffffffff01', 'db7fffffff', 'dd000f4241', 'df000f4241'];
const HUGE_ISH = ['dcffff', 'deffff', 'daffff', 'c5ffff', 'c8ffff05', 'db01000001', 'c601000000', 'c600ffffff'];
const EXTS = [
  'd6ff00000000',
  'd6ffffffffff',
  'd7ffffffffffffffffff',
  'c70cff000000007fffffffffffffff',
  'c70cffffffffff8000000000000000',
  'c70cff3b9aca00ffffffffffffffff',
  'c700ff',
  'c705ff0000000000',
  'c900000000ff',
  'd40100',
  'd5800000',
  'd87f00112233445566778899aabbccddeeff',
  'c70305010203',
];
const SCALARS = [
  'cfffffffffffffffff',
  'd38000000000000000',
  'cb7ff8000000000000',
  'cb8000000000000000',
  'ca7fc00000',
  'cbfff0000000000000',
  'a2fffe',
  'a3eda080',
  'a100',
  'c400',
  'c1',
  'd903616263',
  'db00000003616263',
  'cf0000000000000001',
];
const KEYS = ['__proto__', 'constructor', 'toString', 'toJSON', 'valueOf', 'hasOwnProperty', 'then', ''];
const INTERESTING = [0xc1, 0xdc, 0xdd, 0xde, 0xdf, 0xdb, 0xc6, 0xc9, 0xc7, 0xd6, 0xd7, 0xd8, 0xff, 0x7f, 0x80, 0x90, 0x91, 0xa0, 0xc0];

/** A map (or nest of them) whose keys are not strings, or are names that objects already have. */
function keyed(r: Rng): Uint8Array {
  const key = r.pick([
    () => encode([1, 2]),
    () => encode({ a: 1 }),
    () => hex('c0'),
    () => hex('c3'),
    () => hex('cb7ff8000000000000'),
    () => hex('c40100'),
    () => hex('d6ff00000000'),
    () => hex('cfffffffffffffffff'),
    () => hex(r.pick(EXTS)),
    () => encode(r.pick(KEYS)),
  ])();
  const value = r.pick([hex('c0'), hex('01'), encode({ x: 1 }), encode(r.pick(KEYS))]);
  // Sometimes the same key twice, and sometimes the map nested as a key of itself, a thousand deep.
  if (r.chance(0.2)) return concatBytes(hex('82'), key, value, key, hex('02'));
  if (r.chance(0.1)) {
    const depth = r.pick(DEPTHS);
    return concatBytes(repeat('81', depth), key, value, repeat('c0', depth - 1));
  }
  return concatBytes(hex('81'), key, value);
}

/** One value made to hurt: deep, huge, ext, odd keys, odd scalars, or a random one. */
function edgeValue(r: Rng): { family: string; bytes: Uint8Array } {
  const family = r.pick(['deep', 'deep-key', 'huge', 'ext', 'keys', 'scalar', 'value'] as const);
  const depth = r.chance(0.2) ? 1 + r.int(3000) : r.pick(DEPTHS);
  const bytes = {
    deep: () =>
      concatBytes(repeat(r.pick(['91', '81c0', '81a161', 'dc0001', 'de0001c0', '9201']), depth), hex(r.pick(['c0', '90', '80', 'a0']))),
    'deep-key': () => concatBytes(repeat('81', depth), hex('c0'), repeat('c0', depth)),
    huge: () => concatBytes(hex(r.pick(r.chance(0.5) ? HUGE : HUGE_ISH)), r.bytes(r.int(64))),
    ext: () => hex(r.pick(EXTS)),
    keys: () => keyed(r),
    scalar: () => hex(r.pick(SCALARS)),
    value: () => encode(randomValue(r)),
  }[family]();
  return { family, bytes };
}

/** A random well-formed value (numbers stay safe integers or floats, so an echo decodes to the same). */
function randomValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 6 : 8)) {
    case 0:
      return r.int(2 ** 40) - 2 ** 39;
    case 1:
      return r.int(1e6) / 7;
    case 2:
      return 'ab€😀'.repeat(r.int(20));
    case 3:
      return r.chance(0.5);
    case 4:
      return null;
    case 5:
      return r.bytes(r.int(300));
    case 6:
      return Array.from({ length: r.int(12) }, () => randomValue(r, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: r.int(12) }, () => [`k${r.int(1000)}`, randomValue(r, depth + 1)]));
  }
}

function validId(r: Rng, index: number): unknown {
  return r.pick([
    () => `fuzz-${r.int(8)}`, // shared by several sockets: duplicates replace each other
    () => r.int(2 ** 32),
    () => [BigInt(r.int(2 ** 32)) * 2n ** 32n, 2n ** 64n - 1n],
    () => ({ host: 'h', n: [r.int(9), null] }),
    () => 'target', // the target's own id
    () => `uniq-${index}`,
  ])();
}

function mutate(r: Rng, bytes: Uint8Array): Uint8Array {
  let out = Array.from(bytes);
  for (let n = 1 + r.int(4); n > 0; n--) {
    const at = r.int(out.length + 1);
    const op = r.int(6);
    if (op === 0 && out.length > 0) out[at % out.length]! ^= 1 << r.int(8);
    else if (op === 1) out.splice(at, 0, ...r.bytes(1 + r.int(8)));
    else if (op === 2) out.splice(at, 1 + r.int(8));
    else if (op === 3) out = out.slice(0, at);
    else if (op === 4) out.splice(at, 0, r.pick(INTERESTING));
    else out.splice(at, 0, ...out.slice(at, at + 1 + r.int(16)));
  }
  return Uint8Array.from(out);
}

type Ending = 'fin' | 'half-close' | 'reset' | 'destroy' | 'wait';

/** One fuzz connection: the bytes, where they are cut into writes, and how it ends. */
interface Case {
  readonly index: number;
  readonly kind: string;
  readonly bytes: Uint8Array;
  readonly chunks: Uint8Array[];
  /** Chunks written before the ending. */
  readonly stopAt: number;
  readonly ending: Ending;
  /** For `wait`: ms of silence before our FIN (sometimes the whole close bound: a slowloris). */
  readonly silence: number;
  /** For a well-formed stream with a unique id, written whole and ended: the messages the echo must carry. */
  readonly echo?: unknown[];
}

/** Case `index` of seed `seed`: the same bytes every time. */
function makeCase(seed: number, index: number): Case {
  const r = rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const id = validId(r, index);
  const handshake = encode([r.chance(0.8) ? null : randomValue(r, 3), id]);
  const messages = Array.from({ length: r.chance(0.1) ? 200 : r.int(12) }, () => randomValue(r));
  const stream = concatBytes(handshake, ...messages.map(encode));
  let kind = r.pick(['valid', 'mutated', 'mutated', 'edge', 'edge', 'edge', 'random', 'truncated', 'shape', 'flood']);
  let bytes: Uint8Array;
  if (kind === 'valid') bytes = stream;
  else if (kind === 'mutated') bytes = mutate(r, r.chance(0.5) ? handshake : stream);
  else if (kind === 'random') bytes = concatBytes(r.chance(0.5) ? handshake : new Uint8Array(0), r.bytes(1 + r.int(512)));
  else if (kind === 'truncated') bytes = stream.subarray(0, r.int(stream.length));
  else if (kind === 'flood')
    bytes = concatBytes(handshake, ...Array.from({ length: 1 + r.int(3) }, () => encode(new Uint8Array(r.int(4 << 20)).fill(r.int(256)))));
  else if (kind === 'shape') {
    bytes = r.pick([
      hex('90'),
      hex('91c0'),
      hex('93c0a161c0'),
      hex('c0'),
      hex('80'),
      hex('92c0'),
      encode({ init: null, id: 'x' }),
      new TextEncoder().encode('GET / HTTP/1.1\r\nHost: target\r\n\r\n'),
      hex('16030100a5010000a10303'),
    ]);
  } else {
    const edge = edgeValue(r);
    const place = r.pick(['id', 'init', 'in-id', 'message', 'in-message'] as const);
    kind = `${edge.family} as ${place}`;
    const idBytes = encode(id);
    const at = {
      id: () => concatBytes(hex('92c0'), edge.bytes),
      init: () => concatBytes(hex('92'), edge.bytes, idBytes),
      'in-id': () => concatBytes(hex('92c092'), idBytes, edge.bytes),
      message: () => concatBytes(handshake, edge.bytes),
      'in-message': () => concatBytes(handshake, hex('82a16b'), edge.bytes, hex('a16c01')),
    }[place]();
    // Often followed by well-formed messages: the connection must either go on or end, nothing else.
    bytes = r.chance(0.5) ? concatBytes(at, ...messages.slice(0, 3).map(encode)) : at;
  }
  const chunks: Uint8Array[] = [];
  const size = r.pick([bytes.length, 1 + r.int(64), 1 + r.int(4096), bytes.length <= 512 ? 1 : 64]);
  const step = Math.max(size, Math.ceil(bytes.length / 512));
  for (let offset = 0; offset < bytes.length; offset += step) chunks.push(bytes.subarray(offset, offset + step));
  const ending = r.pick<Ending>(['fin', 'fin', 'fin', 'half-close', 'half-close', 'reset', 'reset', 'destroy', 'wait']);
  const early = ending === 'reset' || ending === 'destroy' || (ending === 'fin' && r.chance(0.25));
  const silence = ending !== 'wait' ? 0 : r.chance(0.1) ? CLOSE_BOUND : 250 + r.int(1750);
  const stopAt = early ? r.int(chunks.length + 1) : chunks.length;
  const echoed = kind === 'valid' && id === `uniq-${index}` && stopAt === chunks.length && (ending === 'fin' || ending === 'half-close');
  return { index, kind, bytes, chunks, stopAt, ending, silence, ...(echoed ? { echo: messages } : {}) };
}

/** What one fuzz connection saw. */
interface Outcome {
  received: Uint8Array[];
  receivedBytes: number;
  /** The target ended it (FIN or reset) before we did. */
  closedByTarget: boolean;
  /** Every write was made, within the target's handshake deadline less some slack. */
  writtenInTime?: boolean;
  connectError?: string;
  /** Still open `CLOSE_BOUND` ms after our FIN. */
  hung?: boolean;
  /** When we last wrote or ended. */
  lastAct: number;
}

function timeout(ms: number): { done: Promise<false>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return { done, cancel: () => clearTimeout(timer) };
}

async function runCase(port: number, c: Case, bound = CLOSE_BOUND): Promise<Outcome> {
  const outcome: Outcome = { received: [], receivedBytes: 0, closedByTarget: false, lastAct: Date.now() };
  const socket: Socket = netConnect({ host: '127.0.0.1', port, noDelay: true });
  let connected = false;
  let ours = false;
  socket.on('data', (chunk: Buffer) => {
    if (outcome.receivedBytes < KEEP_BYTES) outcome.received.push(chunk);
    outcome.receivedBytes += chunk.length;
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (!connected) outcome.connectError ??= error.code ?? error.message;
  });
  socket.on('end', () => (outcome.closedByTarget ||= !ours));
  const closed = new Promise<true>((resolve) =>
    socket.once('close', () => {
      outcome.closedByTarget ||= !ours;
      resolve(true);
    }),
  );
  connected = await Promise.race([
    new Promise<boolean>((resolve) => socket.once('connect', () => resolve(true))),
    closed.then(() => false),
  ]);
  if (!connected) return outcome;
  const connectedAt = Date.now();
  let written = 0;
  for (; written < c.stopAt && !socket.destroyed && socket.writable; written++) {
    socket.write(c.chunks[written]!);
    outcome.lastAct = Date.now();
    if (c.chunks.length > 1) await new Promise((resolve) => setImmediate(resolve));
  }
  // On a loaded machine a case written a byte per turn can take longer than the target's handshake deadline.
  outcome.writtenInTime = written === c.stopAt && Date.now() - connectedAt < HANDSHAKE_DEADLINE - 2000;
  const waitClosed = async (ms: number): Promise<boolean> => {
    const limit = timeout(ms);
    const result = await Promise.race([closed, limit.done]);
    limit.cancel();
    return result;
  };
  if (c.silence > 0 && !socket.destroyed) await waitClosed(Math.min(c.silence, bound));
  if (!socket.destroyed && !outcome.closedByTarget) {
    ours = true;
    outcome.lastAct = Date.now();
    if (c.ending === 'reset') socket.resetAndDestroy();
    else if (c.ending === 'destroy') socket.destroy();
    else {
      if (c.ending === 'half-close') {
        socket.pause();
        setTimeout(() => socket.resume(), 20 + (c.index % 280));
      }
      socket.end();
      if (!(await waitClosed(bound))) {
        outcome.hung = true;
        socket.destroy();
      }
    }
  }
  await closed;
  return outcome;
}

/** Bytes as hex, with runs of a repeated unit (up to 4 bytes) written `(unit)xN`, so a 70,000-deep value fits a line. */
function compactHex(bytes: Uint8Array): string {
  const h = Buffer.from(bytes).toString('hex');
  let out = '';
  for (let i = 0; i < h.length;) {
    let best = { unit: 0, count: 1 };
    for (let unit = 2; unit <= 8; unit += 2) {
      let count = 1;
      while (h.startsWith(h.slice(i, i + unit), i + count * unit) && i + (count + 1) * unit <= h.length) count++;
      if (count >= 8 && count * unit > best.count * best.unit) best = { unit, count };
    }
    if (best.unit > 0) {
      out += ` (${h.slice(i, i + best.unit)})x${best.count} `;
      i += best.unit * best.count;
    } else {
      out += h.slice(i, i + 2);
      i += 2;
    }
  }
  return out.trim().replace(/\s+/g, ' ');
}

/** The echo numbers of the canary, checked in order as they come. */
class Canary {
  count = 0;
  failure: string | undefined;
  maxRoundTrip = 0;
  private readonly inbox: unknown[] = [];
  private wake: (() => void) | undefined;
  private running = true;
  private loop: Promise<void> | undefined;

  constructor(readonly node: Node<number, string>) {
    node.events$.subscribe((event) => {
      if (event.type === 'message') this.inbox.push(event.message);
      else if (event.type === 'disconnected') this.failure ??= `canary disconnected: ${event.reason} ${event.error?.message ?? ''}`;
      this.wake?.();
    });
  }

  start(): void {
    this.loop = (async () => {
      // Bursts of 1 to 8 in flight, so reordering would show, not only loss.
      for (let burst = 1; this.running && this.failure === undefined; burst = (burst % 8) + 1) {
        const first = this.count;
        const sent = Date.now();
        try {
          for (let i = 0; i < burst; i++) this.node.send('target', first + i);
        } catch (error) {
          this.failure ??= `canary send ${first}: ${String(error)}`;
          return;
        }
        for (let i = 0; i < burst && this.failure === undefined; i++) {
          const echo = await this.next(10_000);
          if (echo !== first + i) this.failure ??= `canary expected ${first + i}, got ${String(echo)}`;
          else this.count++;
        }
        this.maxRoundTrip = Math.max(this.maxRoundTrip, Date.now() - sent);
        await sleep(2);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await sleep(200);
    if (this.inbox.length > 0) this.failure ??= `canary got extra messages: ${this.inbox.slice(0, 5).join(', ')}`;
  }

  private async next(ms: number): Promise<unknown> {
    const limit = timeout(ms);
    while (this.inbox.length === 0 && this.failure === undefined) {
      const woken = new Promise<true>((resolve) => (this.wake = () => resolve(true)));
      if (!(await Promise.race([woken, limit.done]))) {
        this.failure ??= `canary: no echo of ${this.count} within ${ms} ms`;
      }
    }
    limit.cancel();
    return this.inbox.shift();
  }
}

/** A running fuzzTarget.js: its address, its stdout lines, and whether it died. */
class Target extends Lines<string> {
  /** Resolves once it exited and its output is read. */
  readonly closed: Promise<number | null>;
  /** When it exited (0 while it runs). */
  diedAt = 0;
  port = 0;

  constructor() {
    super(spawn(process.execPath, ['--expose-gc', '--max-old-space-size=1024', TARGET]), (text) => text);
    this.child.once('exit', () => (this.diedAt = Date.now()));
    this.closed = new Promise((resolve) => this.child.once('close', resolve));
  }

  get dead(): boolean {
    return this.diedAt > 0;
  }

  async start(): Promise<string> {
    const line = await this.wait((text) => text.startsWith('{"address"'), 10_000, 'address line');
    const { address } = JSON.parse(line) as { address: string };
    this.port = Number(address.split(':')[1]);
    return address;
  }

  get crash(): string | undefined {
    const line = this.lines.find((text) => text.startsWith('CRASH '));
    return line === undefined ? undefined : (JSON.parse(line.slice(6)) as string);
  }

  async stats(): Promise<Record<string, unknown> & { heapUsed: number; connectionCount: number; handles: Record<string, number> }> {
    const seen = this.lines.length;
    this.send('stats');
    const line = await this.until(() => this.lines.slice(seen).find((text) => text.startsWith('{"stats"')), 10_000, 'stats line');
    return (JSON.parse(line) as { stats: Awaited<ReturnType<Target['stats']>> }).stats;
  }

  stop(): Promise<number | null> {
    this.child.stdin.end();
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    return this.closed.finally(() => clearTimeout(kill));
  }
}

/** A crash's identity: its message (numbers blanked) and the frame it was thrown from. */
const signature = (stack: string): string => {
  const [message = '', frame = ''] = stack.split('\n');
  return `${message.replace(/\d+/g, 'N')} @ ${frame.trim()}`;
};

/** Replays each candidate alone against a fresh target, four at a time, latest first; the first that kills its target. */
async function reproduce(candidates: Case[], until: number): Promise<{ c: Case; stack: string } | undefined> {
  for (let i = 0; i < candidates.length && Date.now() < until; i += 4) {
    const found = await Promise.all(
      candidates.slice(i, i + 4).map(async (c) => {
        const target = new Target();
        await target.start();
        await runCase(target.port, c, 2000);
        await Promise.race([target.closed, sleep(1000)]);
        if (target.dead) await target.closed;
        const stack = target.crash ?? (target.dead ? `exited without CRASH; stderr: ${target.stderr.slice(-2000)}` : undefined);
        await target.stop();
        return stack === undefined ? undefined : { c, stack };
      }),
    );
    const first = found.find((result) => result !== undefined);
    if (first) return first;
  }
  return undefined;
}

/** What one finished case breaks, if anything. */
function judge(c: Case, outcome: Outcome): string[] {
  const broken: string[] = [];
  const got = Buffer.concat(outcome.received);
  const what = describeCase(c);
  if (outcome.connectError !== undefined) broken.push(`connect failed (${outcome.connectError}): ${what}`);
  if (outcome.hung) broken.push(`still open ${CLOSE_BOUND} ms after our FIN: ${what}`);
  if (!TARGET_HANDSHAKE.subarray(0, got.length).every((b, i) => got[i] === b)) {
    broken.push(`the target's first bytes are not its handshake: ${compactHex(got.subarray(0, 64))}; ${what}`);
  }
  // The echo is owed only when the whole case reached the target well within its handshake deadline.
  if (c.echo && outcome.receivedBytes < KEEP_BYTES && !outcome.hung && outcome.writtenInTime === true) {
    let echoed: unknown[] = [];
    try {
      // As a plain Uint8Array: bin values decoded from a Buffer would be Buffers, never equal to the sent ones.
      echoed = [...decodeMulti(new Uint8Array(got.buffer, got.byteOffset, got.length))].slice(1);
    } catch (error) {
      broken.push(`the echo does not decode (${String(error)}): ${what}`);
    }
    const sent = [...decodeMulti(concatBytes(...c.echo.map(encode)))];
    if (!isDeepStrictEqual(echoed, sent)) broken.push(`echo of ${sent.length} messages came back as ${echoed.length}: ${what}`);
  }
  return broken;
}

const describeCase = (c: Case): string =>
  `case #${c.index} (${c.kind}, ${c.bytes.length} bytes, ${c.stopAt}/${c.chunks.length} writes, then ${c.ending}${c.silence > 0 ? ` ${c.silence} ms` : ''}): ${compactHex(c.bytes.subarray(0, 4096))}${c.bytes.length > 4096 ? ' ...' : ''}`;

describe('a live node under network fuzzing (child process, raw sockets, seeded)', () => {
  it(
    `keeps its invariants for ${SECONDS} s of hostile connections`,
    async () => {
      const violations: string[] = [];
      const crashes = new Map<string, { stack: string; candidates: Case[]; count: number }>();
      const started = Date.now();
      const deadline = started + SECONDS * 1000;
      let nextIndex = 0;
      let fuzzed = 0;
      let closedByTarget = 0;
      let final: { target: Target; canary: Canary } | undefined;

      while (Date.now() < deadline && crashes.size < MAX_CRASHES) {
        const target = new Target();
        const address = await target.start();
        const canary = new Canary(makeNode<number>({ nodeId: 'canary' }));
        await canary.node.connect(address);
        canary.start();
        const recent: { c: Case; at: number }[] = [];
        const found: { at: number; violation: string }[] = [];

        await Promise.all(
          Array.from({ length: IN_FLIGHT }, async () => {
            while (Date.now() < deadline && !target.dead) {
              const c = makeCase(SEED, nextIndex++);
              const outcome = await runCase(target.port, c);
              fuzzed++;
              if (outcome.closedByTarget) closedByTarget++;
              recent.push({ c, at: outcome.lastAct });
              if (recent.length > 4 * IN_FLIGHT) recent.shift();
              for (const violation of judge(c, outcome)) found.push({ at: Date.now(), violation });
            }
          }),
        );

        // A crash resets and refuses every socket at once: what broke in the second before it is its echo, not news.
        violations.push(...found.filter((entry) => !target.dead || entry.at < target.diedAt - 1000).map((entry) => entry.violation));
        if (!target.dead) {
          final = { target, canary };
          break;
        }
        await canary.stop();
        await canary.node.close();
        const code = await target.closed;
        const stack = target.crash ?? `exited ${String(code)} without CRASH; stderr: ${target.stderr.slice(-2000)}`;
        // Whatever wrote or ended in the 2 s before the crash, the latest first.
        const candidates = recent
          .filter((entry) => entry.at > target.diedAt - 2000 && entry.at <= target.diedAt)
          .sort((a, b) => b.at - a.at)
          .map((entry) => entry.c);
        const known = crashes.get(signature(stack));
        if (known) known.count++;
        else crashes.set(signature(stack), { stack, candidates, count: 1 });
        console.log(`network fuzzing: the target crashed (${signature(stack)}); restarting it`);
      }

      const seconds = (Math.min(Date.now(), deadline) - started) / 1000;
      if (final) {
        const { target, canary } = final;
        await canary.stop();
        if (canary.failure !== undefined) violations.push(canary.failure);
        if (!canary.node.isConnected('target')) violations.push('the canary is no longer connected');
        // Every fuzz socket is closed on our side now: the target must be back to the canary alone.
        let stats = await target.stats();
        const settleBy = Date.now() + 15_000;
        while ((stats.connectionCount !== 1 || (stats.handles.TCPSocketWrap ?? 0) > 1) && Date.now() < settleBy && !target.dead) {
          await sleep(500);
          stats = await target.stats();
        }
        if (stats.connectionCount !== 1) violations.push(`connectionCount is ${stats.connectionCount} after the run, not 1 (the canary)`);
        if ((stats.handles.TCPSocketWrap ?? 0) > 1)
          violations.push(`${stats.handles.TCPSocketWrap} sockets open in the target after the run`);
        if (stats.heapUsed > HEAP_BOUND) violations.push(`target heapUsed ${stats.heapUsed} > ${HEAP_BOUND} after the run`);
        if (target.crash !== undefined || target.dead) violations.push(`the target died at the end: ${target.crash ?? target.stderr}`);
        console.log(
          `network fuzzing: target heapUsed ${(stats.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${((stats.rss as number) / 2 ** 20).toFixed(1)} MiB, ` +
            `canary ${canary.count} echoes (slowest burst ${canary.maxRoundTrip} ms); ${JSON.stringify(stats)}`,
        );
        await canary.node.close();
        await target.stop();
      }
      console.log(`network fuzzing: ${fuzzed} connections in ${seconds.toFixed(1)} s (${(fuzzed / seconds).toFixed(1)}/s), seed ${SEED}`);
      console.log(`network fuzzing: the target ended ${closedByTarget} of them itself; ${crashes.size} distinct crashes`);

      const reports: string[] = [];
      for (const [sig, { stack, candidates, count }] of crashes) {
        const found = await reproduce(candidates, started + (SECONDS + 150) * 1000);
        reports.push(
          `CRASH x${count}: ${sig}\n` +
            (found
              ? `reproduced alone by ${describeCase(found.c)}\n${found.stack}`
              : `not reproduced alone; in flight then:\n${candidates.map(describeCase).join('\n')}\n${stack}`),
        );
      }
      for (const report of reports) console.log(`network fuzzing (seed ${SEED}): ${report}`);
      for (const violation of violations.slice(0, 20)) console.log(`network fuzzing (seed ${SEED}): ${violation}`);
      expect(reports).withContext(`seed ${SEED}`).toEqual([]);
      expect(violations.slice(0, 20)).withContext(`seed ${SEED}, ${violations.length} violations`).toEqual([]);
    },
    (SECONDS + 240) * 1000,
  );
});
