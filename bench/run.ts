// The benchmark: msgpacknet Node to Node against the raw baseline (net + @msgpack/msgpack, batched
// writes, synchronous decoding), in separate processes, interleaved, in one run. Ratios are medians
// of msgpacknet/raw measured in the same run, because these machines are shared and noisy.
// Beside them, interleaved in the same repetitions, the libraries users pick instead and the WebSocket
// rows (bench/peers/): zeromq.js, socket.io, `ws` one message per value, raw `ws` with the batched
// framing, and msgpacknet over ws:// when this build has the transport.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { selfSignedArgs } from '../lib/cli/keygen.js';
import { chart } from './chart.js';
import { PAYLOADS, type PayloadKind } from './payloads.js';
import type {
  BenchOptions,
  BenchResult,
  Latency,
  PeerName,
  PeerPingRow,
  PeerThroughputRow,
  ScaleRun,
  Throughput,
  ThroughputRow,
} from './types.js';

export type { BenchOptions, BenchResult } from './types.js';

type Line = Record<string, unknown>;

/** The in-run ratio targets (issue 15: small and 1 KiB at least raw, 64 KiB at least 0.95 of it). */
const TARGETS: Record<PayloadKind, number> = { tiny: 0.7, small: 1.0, '1k': 1.0, '64k': 0.95 };
const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const PEER_WORKER = fileURLToPath(new URL('./peers/worker.js', import.meta.url));

/** msgpacknet, the raw baseline, or one of the peers. */
type Impl = 'mpn' | 'raw' | 'bare' | PeerName;
const PEERS: readonly PeerName[] = ['zeromq', 'socketio', 'wsValue', 'wsBatched', 'mpnWs'];
/** The peers carried over WebSocket: msgpacknet over ws:// is measured against these as well. */
const WS_PEERS: readonly PeerName[] = ['socketio', 'wsValue', 'wsBatched'];
const LABELS: Record<Impl, string> = {
  mpn: 'msgpacknet (TCP)',
  raw: 'raw TCP, batched',
  zeromq: 'zeromq.js PUSH/PULL',
  socketio: 'socket.io + msgpack parser',
  wsValue: 'ws, one message per value',
  wsBatched: 'raw ws, batched',
  mpnWs: 'msgpacknet over ws://',
  bare: 'bare socket pipe (bytes only)',
};
/** The round trips' labels (zeromq.js answers over DEALER/ROUTER). */
const PING_LABELS: Record<Impl, string> = { ...LABELS, zeromq: 'zeromq.js DEALER/ROUTER' };
/** msgpacknet over ws:// against raw `ws` with the same framing (issue 12). */
const WS_TARGET = 0.9;
/** msgpacknet's 64 KiB values against a bare socket pipe moving the same bytes (issue 15). */
const BARE_TARGET = 0.8;
/** bench/results of this checkout (run.js is built to dist/bench/), wherever it is run from. */
const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results', import.meta.url));

/** A worker process and its JSON lines. */
class Worker {
  private readonly lines: Line[] = [];
  private readonly waiters: (() => void)[] = [];
  private closed = false;
  readonly exited: Promise<void>;
  constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (text) => {
      this.lines.push(JSON.parse(text) as Line);
      for (const wake of this.waiters.splice(0)) wake();
    });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // 'close': the process is gone and its output read to the end, so no line will come any more.
    child.once('close', () => {
      this.closed = true;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }
  async next(ms = 60_000): Promise<Line> {
    const deadline = Date.now() + ms;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error(`a benchmark worker exited without answering: ${this.child.spawnargs.slice(2).join(' ')}`);
      if (Date.now() > deadline) throw new Error('a benchmark worker stopped answering');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.lines.shift()!;
  }
}

/** The environment of the workers: MPN_TLS set while the TLS rows run. */
let workerEnv: NodeJS.ProcessEnv = process.env;

function worker(role: string, ...args: (string | number)[]): Worker {
  return new Worker(spawn(process.execPath, ['--expose-gc', WORKER, role, ...args.map(String)], { env: workerEnv }));
}

/** A process of bench/peers/worker.ts. */
function peerWorker(role: string, ...args: (string | number)[]): Worker {
  return new Worker(spawn(process.execPath, ['--expose-gc', PEER_WORKER, role, ...args.map(String)], { env: workerEnv }));
}

/** The worker of an implementation's one-way and pong roles: msgpacknet and raw in bench/worker.ts, the peers apart. */
const workerOf = (impl: Impl, role: string, ...args: (string | number)[]): Worker =>
  impl === 'mpn' || impl === 'raw' || impl === 'bare' ? worker(`${role}-${impl}`, ...args) : peerWorker(`${role}-${impl}`, ...args);

/** Whether this build of msgpacknet carries ws:// (another part of the work may not have landed yet). */
async function wsTransport(): Promise<{ ok: boolean; reason?: string }> {
  const probe = peerWorker('probe-mpnWs');
  const answer = await probe.next(10_000);
  await probe.exited;
  return { ok: answer.ok === true, ...(typeof answer.reason === 'string' ? { reason: answer.reason } : {}) };
}

/** A self-signed certificate for 127.0.0.1 in a temporary folder, for the TLS rows (made with openssl). */
function tlsFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpn-bench-tls-'));
  execFileSync('openssl', selfSignedArgs(join(dir, 'node.key'), join(dir, 'node.crt'), 2, 'bench'), { stdio: 'ignore' });
  return dir;
}

const NO_LATENCY: Latency = { p50: Number.NaN, p99: Number.NaN, p999: Number.NaN };

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function throughput(impl: Impl, kind: PayloadKind, seconds: number): Promise<Throughput> {
  const receiver = workerOf(impl, 'recv');
  const { address } = await receiver.next();
  const sender = workerOf(impl, 'send', address as string, kind, seconds);
  const result = await receiver.next();
  const sent = await sender.next();
  await Promise.all([receiver.exited, sender.exited]);
  // Only messages received count; a sender that lost some is a bug in its row, said out loud.
  if (result.count !== sent.sent) process.stderr.write(`${impl} ${kind}: sent ${String(sent.sent)}, received ${String(result.count)}\n`);
  const time = result.seconds as number;
  return {
    msgsPerSec: (result.count as number) / time,
    mbPerSec: (result.bytes as number) / time / 1e6,
    recvRssMb: (result.maxRss as number) / 1e6,
    sendRssMb: (sent.maxRss as number) / 1e6,
    stallMs: result.stallMs as number,
    steadyStallMs: (result.steadyStallMs as number | undefined) ?? Number.NaN,
  };
}

/**
 * Round trips, one in flight. The ping side always runs in bench/peers/worker.ts (which reports p99.9);
 * msgpacknet's and raw's pong side in bench/worker.ts (it exits when the ping goes), the peers' apart
 * (ended here once the ping has reported).
 */
async function pingPong(impl: Impl, count: number): Promise<Latency> {
  const pong = workerOf(impl, 'pong');
  const { address } = await pong.next();
  const ping = peerWorker(`ping-${impl}`, address as string, count);
  const { rtts } = await ping.next();
  if (impl !== 'mpn' && impl !== 'raw') pong.child.kill();
  await Promise.all([ping.exited, pong.exited]);
  return rtts as Latency;
}

async function scale(impl: 'mpn' | 'raw', connections: number, rounds: number): Promise<ScaleRun> {
  const server = worker(`scale-${impl}`, connections, rounds);
  const { address } = await server.next();
  const clients = worker('scale-clients', address as string, connections, rounds);
  await clients.next(120_000); // opened
  const established = await server.next(120_000);
  server.child.stdin.write('go\n');
  const fanout = await clients.next(120_000);
  server.child.kill();
  clients.child.kill();
  await Promise.all([server.exited, clients.exited]);
  return {
    establishSeconds: established.establishSeconds as number,
    rssPerConnection: established.rssPerConnection as number,
    fanoutMsgsPerSec: (connections * rounds) / (fanout.fanoutSeconds as number),
  };
}

/** A stall in ms, or '-' when the run was too short to have one after its first second. */
function stall(ms: number): string {
  return Number.isNaN(ms) ? '-' : fmt(ms, 1);
}

/** The repetitions of one implementation and kind: medians of the rates, maxima of memory and stalls. */
function pick(runs: Map<string, Throughput[]>, kind: PayloadKind, impl: Impl): Throughput {
  const list = runs.get(`${kind}/${impl}`)!;
  return {
    msgsPerSec: median(list.map((r) => r.msgsPerSec)),
    mbPerSec: median(list.map((r) => r.mbPerSec)),
    recvRssMb: Math.max(...list.map((r) => r.recvRssMb)),
    sendRssMb: Math.max(...list.map((r) => r.sendRssMb)),
    stallMs: Math.max(...list.map((r) => r.stallMs)),
    steadyStallMs: Math.max(...list.map((r) => r.steadyStallMs)),
  };
}

/** The median of the in-run ratios a/b of messages per second (repetition i of a against repetition i of b). */
function ratioOf(runs: Map<string, Throughput[]>, kind: PayloadKind, a: Impl, b: Impl): number {
  const bList = runs.get(`${kind}/${b}`)!;
  return median(runs.get(`${kind}/${a}`)!.map((r, i) => r.msgsPerSec / bList[i]!.msgsPerSec));
}

/** The median of the in-run ratios a/b of bytes per second. */
function mbRatioOf(runs: Map<string, Throughput[]>, kind: PayloadKind, a: Impl, b: Impl): number {
  const bList = runs.get(`${kind}/${b}`)!;
  return median(runs.get(`${kind}/${a}`)!.map((r, i) => r.mbPerSec / bList[i]!.mbPerSec));
}

/** One row from the runs of a kind: medians of each, and the median of the in-run ratios. */
function summarize(kind: PayloadKind, runs: Map<string, Throughput[]>): ThroughputRow {
  return {
    kind,
    mpn: pick(runs, kind, 'mpn'),
    raw: pick(runs, kind, 'raw'),
    ratio: ratioOf(runs, kind, 'mpn', 'raw'),
    target: TARGETS[kind],
  };
}

/** A peer's row of a kind: its figures, msgpacknet (TCP) / it and, for the WebSocket peers, msgpacknet over ws:// / it. */
function peerRow(kind: PayloadKind, peer: PeerName, runs: Map<string, Throughput[]>, ws: boolean): PeerThroughputRow {
  return {
    kind,
    peer,
    it: pick(runs, kind, peer),
    ratio: ratioOf(runs, kind, 'mpn', peer),
    ratioWs: ws && WS_PEERS.includes(peer) ? ratioOf(runs, kind, 'mpnWs', peer) : null,
  };
}

/** Round trips of an implementation: medians of the repetitions' percentiles. */
function latencyOf(pings: Map<Impl, Latency[]>, impl: Impl): Latency {
  const list = pings.get(impl)!;
  return { p50: median(list.map((r) => r.p50)), p99: median(list.map((r) => r.p99)), p999: median(list.map((r) => r.p999)) };
}

/** The median of the in-run ratios a/b of a percentile. */
function latencyRatio(pings: Map<Impl, Latency[]>, a: Impl, b: Impl, q: keyof Latency): number {
  const bList = pings.get(b)!;
  return median(pings.get(a)!.map((r, i) => r[q] / bList[i]![q]));
}

/** Runs the whole benchmark and returns (and writes) its result. */
export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const smoke = options.smoke ?? false;
  const quick = smoke || (options.quick ?? false);
  const seconds = smoke ? 0.2 : quick ? 1 : 3;
  const reps = smoke ? 1 : quick ? 2 : 5;
  // Round trips are the noisiest figure on a shared machine (where the scheduler puts the two
  // processes moves p50 by tens of percent): more, shorter repetitions for a steadier median.
  const pingReps = smoke ? 1 : quick ? 3 : 9;
  const pings = smoke ? 200 : quick ? 3000 : 10_000;
  const scaleOnly = options.scaleOnly;
  const sizes = scaleOnly ?? (smoke ? [100] : quick ? [1000] : [1000, 10_000]);
  const rounds = 20;
  const tlsKinds: PayloadKind[] = scaleOnly || smoke ? [] : ['small', '64k'];
  const tlsReps = quick ? 1 : 3;

  // The peers run only if asked, and msgpacknet over ws:// only if this build has it.
  const withPeers = !scaleOnly && (options.peers ?? true);
  const ws = withPeers ? await wsTransport() : { ok: false };
  if (withPeers && !ws.ok) process.stderr.write(`msgpacknet over ws:// not measured: ${ws.reason ?? 'no ws:// transport'}\n`);
  const peers = withPeers ? PEERS.filter((peer) => peer !== 'mpnWs' || ws.ok) : [];
  const impls: readonly Impl[] = ['mpn', 'raw', ...peers];
  // A smoke run only checks that each peer's code runs: on a map and on a large binary value.
  const peerKinds: readonly PayloadKind[] = smoke ? ['small', '64k'] : PAYLOADS;

  const total =
    (scaleOnly ? 0 : reps * (PAYLOADS.length * 2 + 1 + peerKinds.length * peers.length) + pingReps * impls.length) +
    sizes.length * 2 +
    tlsKinds.length * tlsReps * 2;
  let step = 0;
  const progress = (name: string): void => options.onProgress?.(name, step++, total);
  /** Interleaved, alternating which goes first, so drift on the machine hits every implementation alike. */
  const order = (rep: number): readonly Impl[] => (rep % 2 === 0 ? impls : [...impls].reverse());
  const name = (impl: Impl, ping = false): string =>
    impl === 'mpn' ? 'msgpacknet' : impl === 'raw' ? 'raw' : ping ? PING_LABELS[impl] : LABELS[impl];

  const runs = new Map<string, Throughput[]>();
  for (let rep = 0; rep < (scaleOnly ? 0 : reps); rep++) {
    for (const kind of PAYLOADS) {
      for (const impl of order(rep).filter((impl) => impl === 'mpn' || impl === 'raw' || peerKinds.includes(kind))) {
        progress(`throughput ${kind} ${name(impl)} (${rep + 1}/${reps})`);
        const key = `${kind}/${impl}`;
        runs.set(key, [...(runs.get(key) ?? []), await throughput(impl, kind, seconds)]);
      }
      if (kind === '64k') {
        progress(`throughput 64k bare socket pipe (${rep + 1}/${reps})`);
        runs.set('64k/bare', [...(runs.get('64k/bare') ?? []), await throughput('bare', kind, seconds)]);
      }
    }
  }
  // The ceiling of the 64k row: msgpacknet's bytes per second against a bare pipe's (issue 15: >= 0.8).
  const barePipe = scaleOnly
    ? null
    : {
        mbPerSec: pick(runs, '64k', 'bare').mbPerSec,
        ratio: mbRatioOf(runs, '64k', 'mpn', 'bare'),
        target: BARE_TARGET,
        steadyStallMs: pick(runs, '64k', 'bare').steadyStallMs,
      };
  const throughputRows = (scaleOnly ? [] : PAYLOADS).map((kind): ThroughputRow => summarize(kind, runs));
  const peerRows = peerKinds.flatMap((kind) => peers.map((peer) => peerRow(kind, peer, runs, ws.ok)));

  const pingRuns = new Map<Impl, Latency[]>();
  for (let rep = 0; rep < (scaleOnly ? 0 : pingReps); rep++) {
    for (const impl of order(rep)) {
      progress(`ping-pong ${name(impl, true)} (${rep + 1}/${pingReps})`);
      pingRuns.set(impl, [...(pingRuns.get(impl) ?? []), await pingPong(impl, pings)]);
    }
  }
  const pingPongResult = scaleOnly
    ? { mpn: NO_LATENCY, raw: NO_LATENCY, ratioP50: Number.NaN, ratioP99: Number.NaN, ratioP999: Number.NaN }
    : {
        mpn: latencyOf(pingRuns, 'mpn'),
        raw: latencyOf(pingRuns, 'raw'),
        ratioP50: latencyRatio(pingRuns, 'mpn', 'raw', 'p50'),
        ratioP99: latencyRatio(pingRuns, 'mpn', 'raw', 'p99'),
        ratioP999: latencyRatio(pingRuns, 'mpn', 'raw', 'p999'),
      };
  const peerPings = peers.map((peer): PeerPingRow => ({
    peer,
    latency: latencyOf(pingRuns, peer),
    ratioP50: latencyRatio(pingRuns, 'mpn', peer, 'p50'),
    ratioP99: latencyRatio(pingRuns, 'mpn', peer, 'p99'),
    ratioP50Ws: ws.ok && WS_PEERS.includes(peer) ? latencyRatio(pingRuns, 'mpnWs', peer, 'p50') : null,
  }));

  // The same one-way runs over TLS: msgpacknet on tls:// against node:tls + @msgpack/msgpack.
  const tlsRuns = new Map<string, Throughput[]>();
  if (tlsKinds.length > 0) {
    const dir = tlsFolder();
    workerEnv = { ...process.env, MPN_TLS: dir };
    try {
      for (let rep = 0; rep < tlsReps; rep++) {
        for (const kind of tlsKinds) {
          for (const impl of rep % 2 === 0 ? (['mpn', 'raw'] as const) : (['raw', 'mpn'] as const)) {
            progress(`TLS throughput ${kind} ${impl === 'mpn' ? 'msgpacknet' : 'raw'} (${rep + 1}/${tlsReps})`);
            const key = `${kind}/${impl}`;
            tlsRuns.set(key, [...(tlsRuns.get(key) ?? []), await throughput(impl, kind, seconds)]);
          }
        }
      }
    } finally {
      workerEnv = process.env;
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const tlsRows = tlsKinds.map((kind): ThroughputRow => summarize(kind, tlsRuns));

  const scaleRuns: BenchResult['scale'] = [];
  for (const connections of sizes) {
    progress(`${connections} connections, msgpacknet`);
    const mpn = await scale('mpn', connections, rounds);
    progress(`${connections} connections, raw`);
    const raw = await scale('raw', connections, rounds);
    scaleRuns.push({ connections, mpn, raw });
  }

  const result: BenchResult = {
    when: new Date().toISOString(),
    quick,
    node: process.version,
    throughput: throughputRows,
    pingPong: pingPongResult,
    scale: scaleRuns,
    barePipe,
    tls: tlsRows,
    peers: {
      wsTransport: ws.ok,
      wsSkipped: withPeers && !ws.ok ? (ws.reason ?? 'no ws:// transport') : null,
      throughput: peerRows,
      pingPong: peerPings,
    },
  };
  const outDir = options.outDir ?? DEFAULT_OUT;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${outDir}/latest.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${outDir}/latest.svg`, chart(result));
  return result;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * The result as Markdown tables (the README's Performance section uses them): the one-way rows beside the
 * peers first (the longest), then msgpacknet against raw, the round trips of all, TLS and the connection scale.
 */
export function table(result: BenchResult): string {
  const lines: string[] = [];
  const { pingPong, peers } = result;
  const us = (n: number): string => `${fmt(n)} us`;
  const ws = peers.wsTransport;
  const ratioCell = (ratio: number | null, higherIsBetter: boolean): string =>
    ratio === null ? '' : `**${fmt(ratio, 2)}**${(higherIsBetter ? ratio < 1 : ratio > 1) ? ' behind' : ''}`;
  if (peers.throughput.length > 0) {
    lines.push(
      `| one-way beside the peers | library | msgs/s | MB/s | msgpacknet / it (median) |${ws ? ' msgpacknet ws:// / it (median) |' : ''} peak RSS recv+send |`,
      `|---|---|---:|---:|---:|${ws ? '---:|' : ''}---:|`,
    );
    const line = (kind: string, label: string, it: Throughput, ratio: string, ratioWs: string): void => {
      lines.push(
        `| ${kind} | ${label} | ${fmt(it.msgsPerSec)} | ${fmt(it.mbPerSec, 1)} | ${ratio} |${ws ? ` ${ratioWs} |` : ''} ${fmt(it.recvRssMb)}+${fmt(it.sendRssMb)} MB |`,
      );
    };
    for (const row of result.throughput) {
      line(row.kind, LABELS.mpn, row.mpn, '', '');
      line(row.kind, LABELS.raw, row.raw, ratioCell(row.ratio, true), '');
      for (const peer of peers.throughput.filter((p) => p.kind === row.kind)) {
        const target =
          peer.peer === 'wsBatched' && peer.ratioWs !== null
            ? ` (target >= ${WS_TARGET}${peer.ratioWs >= WS_TARGET ? '' : ': **missed**'})`
            : '';
        line(row.kind, LABELS[peer.peer], peer.it, ratioCell(peer.ratio, true), `${ratioCell(peer.ratioWs, true)}${target}`);
      }
    }
    if (!ws) lines.push('', `msgpacknet over ws:// not measured: ${peers.wsSkipped ?? 'no ws:// transport'}.`);
  }
  lines.push(
    ...(lines.length > 0 ? [''] : []),
    '| one-way | msgpacknet msgs/s | MB/s | raw msgs/s | MB/s | ratio (median) | target | peak RSS recv+send mpn / raw | longest stall: mpn all / mpn after 1 s / raw after 1 s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const row of result.throughput) {
    lines.push(
      `| ${row.kind} | ${fmt(row.mpn.msgsPerSec)} | ${fmt(row.mpn.mbPerSec, 1)} | ${fmt(row.raw.msgsPerSec)} | ${fmt(row.raw.mbPerSec, 1)} | **${fmt(row.ratio, 2)}** | ${row.ratio >= row.target ? '>=' : '**missed** >='} ${row.target} | ${fmt(row.mpn.recvRssMb)}+${fmt(row.mpn.sendRssMb)} / ${fmt(row.raw.recvRssMb)}+${fmt(row.raw.sendRssMb)} MB | ${fmt(row.mpn.stallMs, 1)} / ${stall(row.mpn.steadyStallMs)} / ${stall(row.raw.steadyStallMs)} ms |`,
    );
  }
  if (result.barePipe) {
    const { mbPerSec, ratio, target, steadyStallMs } = result.barePipe;
    const mpn64k = result.throughput.find((row) => row.kind === '64k');
    lines.push(
      '',
      `64k against a bare socket pipe moving the same bytes (no MessagePack): ${fmt(mpn64k?.mpn.mbPerSec ?? Number.NaN, 1)} MB/s against ${fmt(mbPerSec, 1)} MB/s, ratio **${fmt(ratio, 2)}** (${ratio >= target ? '>=' : '**missed** >='} ${target}); the bare pipe's receiver, which only counts bytes, stalled up to ${stall(steadyStallMs)} ms after 1 s (this host's floor)`,
    );
  }
  lines.push(
    '',
    `| ping-pong (tiny, one in flight) | p50 | p99 | p99.9 | msgpacknet / it: p50 | p99 |${ws ? ' msgpacknet ws:// / it: p50 |' : ''}`,
    `|---|---:|---:|---:|---:|---:|${ws ? '---:|' : ''}`,
  );
  lines.push(`| msgpacknet | ${us(pingPong.mpn.p50)} | ${us(pingPong.mpn.p99)} | ${us(pingPong.mpn.p999)} | | |${ws ? ' |' : ''}`);
  lines.push(
    `| raw | ${us(pingPong.raw.p50)} | ${us(pingPong.raw.p99)} | ${us(pingPong.raw.p999)} | ${ratioCell(pingPong.ratioP50, false)} | ${ratioCell(pingPong.ratioP99, false)} |${ws ? ' |' : ''}`,
  );
  for (const row of peers.pingPong) {
    const label = PING_LABELS[row.peer];
    lines.push(
      `| ${label} | ${us(row.latency.p50)} | ${us(row.latency.p99)} | ${us(row.latency.p999)} | ${ratioCell(row.ratioP50, false)} | ${ratioCell(row.ratioP99, false)} |${ws ? ` ${ratioCell(row.ratioP50Ws, false)} |` : ''}`,
    );
  }
  lines.push(
    `| ratio p50 (median) | **${fmt(pingPong.ratioP50, 2)}** (target <= 1.2) | ratio p99: **${fmt(pingPong.ratioP99, 2)}** (target <= 1.2) | p99.9: **${fmt(pingPong.ratioP999, 2)}** | | |${ws ? ' |' : ''}`,
  );
  if (result.tls.length > 0) {
    lines.push(
      '',
      '| TLS one-way | msgpacknet msgs/s | MB/s | raw (node:tls) msgs/s | MB/s | ratio (median) |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const row of result.tls) {
      lines.push(
        `| ${row.kind} | ${fmt(row.mpn.msgsPerSec)} | ${fmt(row.mpn.mbPerSec, 1)} | ${fmt(row.raw.msgsPerSec)} | ${fmt(row.raw.mbPerSec, 1)} | **${fmt(row.ratio, 2)}** |`,
      );
    }
  }
  lines.push(
    '',
    '| connections | establish mpn / raw | RSS per connection mpn / raw | fan-out msgs/s mpn / raw |',
    '|---:|---:|---:|---:|',
  );
  for (const run of result.scale) {
    lines.push(
      `| ${fmt(run.connections)} | ${fmt(run.mpn.establishSeconds, 2)} s / ${fmt(run.raw.establishSeconds, 2)} s | ${fmt(run.mpn.rssPerConnection / 1024, 1)} KiB / ${fmt(run.raw.rssPerConnection / 1024, 1)} KiB | ${fmt(run.mpn.fanoutMsgsPerSec)} / ${fmt(run.raw.fanoutMsgsPerSec)} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      smoke: { type: 'boolean' },
      out: { type: 'string' },
      scale: { type: 'string' },
      'skip-peers': { type: 'boolean' },
    },
  });
  const tty = process.stderr.isTTY;
  const width = 30;
  const result = await runBench({
    quick: values.quick ?? false,
    smoke: values.smoke ?? false,
    ...(values.out === undefined ? {} : { outDir: values.out }),
    ...(values.scale === undefined ? {} : { scaleOnly: values.scale.split(',').map(Number) }),
    peers: !(values['skip-peers'] ?? false),
    onProgress: (name, index, total) => {
      if (tty) {
        const done = Math.round((index / total) * width);
        process.stderr.write(`\r\x1b[K[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${index + 1}/${total} ${name}`);
      } else process.stderr.write(`[${index + 1}/${total}] ${name}\n`);
    },
  });
  if (tty) process.stderr.write(`\r\x1b[K[${'#'.repeat(width)}] done\n`);
  console.log(table(result));
  const out = values.out ?? DEFAULT_OUT;
  console.log(`\nwritten: ${out}/latest.json, ${out}/latest.svg`);
}
