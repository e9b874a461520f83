// The benchmark: msgpacknet Node to Node against the raw baseline (net + @msgpack/msgpack, batched
// writes, synchronous decoding), in separate processes, interleaved, in one run. Ratios are medians
// of msgpacknet/raw measured in the same run, because these machines are shared and noisy.
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
import type { BenchOptions, BenchResult, ScaleRun, Throughput, ThroughputRow } from './types.js';

export type { BenchOptions, BenchResult } from './types.js';

type Line = Record<string, unknown>;

const TARGETS: Record<PayloadKind, number> = { tiny: 0.7, small: 0.7, '1k': 0.85, '64k': 0.9 };
const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
/** bench/results of this checkout (run.js is built to dist/bench/), wherever it is run from. */
const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results', import.meta.url));

/** A worker process and its JSON lines. */
class Worker {
  private readonly lines: Line[] = [];
  private readonly waiters: (() => void)[] = [];
  readonly exited: Promise<void>;
  constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (text) => {
      this.lines.push(JSON.parse(text) as Line);
      for (const wake of this.waiters.splice(0)) wake();
    });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }
  async next(ms = 60_000): Promise<Line> {
    const deadline = Date.now() + ms;
    while (this.lines.length === 0) {
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

/** A self-signed certificate for 127.0.0.1 in a temporary folder, for the TLS rows (made with openssl). */
function tlsFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpn-bench-tls-'));
  execFileSync('openssl', selfSignedArgs(join(dir, 'node.key'), join(dir, 'node.crt'), 2, 'bench'), { stdio: 'ignore' });
  return dir;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function throughput(impl: 'mpn' | 'raw', kind: PayloadKind, seconds: number): Promise<Throughput> {
  const receiver = worker(`recv-${impl}`);
  const { address } = await receiver.next();
  const sender = worker(`send-${impl}`, address as string, kind, seconds);
  const result = await receiver.next();
  const sent = await sender.next();
  await Promise.all([receiver.exited, sender.exited]);
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

async function pingPong(impl: 'mpn' | 'raw', count: number): Promise<{ p50: number; p99: number }> {
  const pong = worker(`pong-${impl}`);
  const { address } = await pong.next();
  const ping = worker(`ping-${impl}`, address as string, count);
  const { rtts } = await ping.next();
  await Promise.all([ping.exited, pong.exited]);
  return rtts as { p50: number; p99: number };
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

/** One row from the runs of a kind: medians of each, and the median of the in-run ratios. */
function summarize(kind: PayloadKind, runs: Map<string, Throughput[]>): ThroughputRow {
  const pick = (impl: string): Throughput => {
    const list = runs.get(`${kind}/${impl}`)!;
    return {
      msgsPerSec: median(list.map((r) => r.msgsPerSec)),
      mbPerSec: median(list.map((r) => r.mbPerSec)),
      recvRssMb: Math.max(...list.map((r) => r.recvRssMb)),
      sendRssMb: Math.max(...list.map((r) => r.sendRssMb)),
      stallMs: Math.max(...list.map((r) => r.stallMs)),
      steadyStallMs: Math.max(...list.map((r) => r.steadyStallMs)),
    };
  };
  const mpnList = runs.get(`${kind}/mpn`)!;
  const rawList = runs.get(`${kind}/raw`)!;
  const ratio = median(mpnList.map((r, i) => r.msgsPerSec / rawList[i]!.msgsPerSec));
  return { kind, mpn: pick('mpn'), raw: pick('raw'), ratio, target: TARGETS[kind] };
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
  const total = (scaleOnly ? 0 : reps * PAYLOADS.length * 2 + pingReps * 2) + sizes.length * 2 + tlsKinds.length * tlsReps * 2;
  let step = 0;
  const progress = (name: string): void => options.onProgress?.(name, step++, total);

  const runs = new Map<string, Throughput[]>();
  for (let rep = 0; rep < (scaleOnly ? 0 : reps); rep++) {
    for (const kind of PAYLOADS) {
      // Interleaved, alternating which goes first, so drift on the machine hits both.
      for (const impl of rep % 2 === 0 ? (['mpn', 'raw'] as const) : (['raw', 'mpn'] as const)) {
        progress(`throughput ${kind} ${impl === 'mpn' ? 'msgpacknet' : 'raw'} (${rep + 1}/${reps})`);
        const key = `${kind}/${impl}`;
        runs.set(key, [...(runs.get(key) ?? []), await throughput(impl, kind, seconds)]);
      }
    }
  }
  const throughputRows = (scaleOnly ? [] : PAYLOADS).map((kind): ThroughputRow => summarize(kind, runs));

  const pings50: { mpn: { p50: number; p99: number }[]; raw: { p50: number; p99: number }[] } = { mpn: [], raw: [] };
  for (let rep = 0; rep < (scaleOnly ? 0 : pingReps); rep++) {
    for (const impl of rep % 2 === 0 ? (['mpn', 'raw'] as const) : (['raw', 'mpn'] as const)) {
      progress(`ping-pong ${impl === 'mpn' ? 'msgpacknet' : 'raw'} (${rep + 1}/${pingReps})`);
      pings50[impl].push(await pingPong(impl, pings));
    }
  }
  const pingSummary = (impl: 'mpn' | 'raw'): { p50: number; p99: number } => ({
    p50: median(pings50[impl].map((r) => r.p50)),
    p99: median(pings50[impl].map((r) => r.p99)),
  });
  const pingPongResult = {
    mpn: pingSummary('mpn'),
    raw: pingSummary('raw'),
    ratioP50: median(pings50.mpn.map((r, i) => r.p50 / pings50.raw[i]!.p50)),
  };

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
    tls: tlsRows,
  };
  const outDir = options.outDir ?? DEFAULT_OUT;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${outDir}/latest.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${outDir}/latest.svg`, chart(result));
  return result;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The result as a Markdown table (the README's Performance section uses it). */
export function table(result: BenchResult): string {
  const lines = [
    '| one-way | msgpacknet msgs/s | MB/s | raw msgs/s | MB/s | ratio (median) | target | peak RSS recv+send mpn / raw | longest stall (mpn): all / after 1 s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of result.throughput) {
    lines.push(
      `| ${row.kind} | ${fmt(row.mpn.msgsPerSec)} | ${fmt(row.mpn.mbPerSec, 1)} | ${fmt(row.raw.msgsPerSec)} | ${fmt(row.raw.mbPerSec, 1)} | **${fmt(row.ratio, 2)}** | ${row.ratio >= row.target ? '>=' : '**missed** >='} ${row.target} | ${fmt(row.mpn.recvRssMb)}+${fmt(row.mpn.sendRssMb)} / ${fmt(row.raw.recvRssMb)}+${fmt(row.raw.sendRssMb)} MB | ${fmt(row.mpn.stallMs, 1)} / ${Number.isNaN(row.mpn.steadyStallMs) ? '-' : fmt(row.mpn.steadyStallMs, 1)} ms |`,
    );
  }
  const { pingPong } = result;
  lines.push('', '| ping-pong (tiny, one in flight) | p50 | p99 |', '|---|---:|---:|');
  lines.push(`| msgpacknet | ${fmt(pingPong.mpn.p50)} us | ${fmt(pingPong.mpn.p99)} us |`);
  lines.push(`| raw | ${fmt(pingPong.raw.p50)} us | ${fmt(pingPong.raw.p99)} us |`);
  lines.push(`| ratio p50 (median) | **${fmt(pingPong.ratioP50, 2)}** (target <= 1.2) | |`);
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
    },
  });
  const tty = process.stderr.isTTY;
  const width = 30;
  const result = await runBench({
    quick: values.quick ?? false,
    smoke: values.smoke ?? false,
    ...(values.out === undefined ? {} : { outDir: values.out }),
    ...(values.scale === undefined ? {} : { scaleOnly: values.scale.split(',').map(Number) }),
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
