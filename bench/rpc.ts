// Request/reply: msgpacknet's Rpc against a raw request/response over node:net (the same msgpack-rpc
// envelopes, @msgpack/msgpack, batched writes per turn) and against @grpc/grpc-js unary calls (what
// users pick instead; the service defined with @grpc/proto-loader, which grpc-js depends on), side by
// side in one run. Calls per second with 1 and 64 calls in flight, and each call's latency (p50, p99).
// Each measurement is a server process and a client process on 127.0.0.1; the client makes
// WARM_UP_CALLS untimed calls first, then times for `seconds` (bounded in calls too). Repetitions are
// interleaved, alternating the order, and ratios are medians of the in-run ratios, as in bench/run.ts.
// `npm run bench:rpc` (about 45 s), `-- --smoke` (a few seconds: only checks that it runs), `--out DIR`.
// This file is also the worker: `node dist/bench/rpc.js server-mpn` / `client-mpn ADDRESS INFLIGHT SECONDS`.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Encoder } from '@msgpack/msgpack';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Node } from '../lib/index.js';
import { Rpc } from '../lib/rpc/Rpc.js';
import { hostPort, percentiles, report } from './peers/common.js';
import { rawReader } from './peers/rawStream.js';

/** msgpacknet's Rpc over TCP, the raw baseline, grpc-js unary calls. */
type Impl = 'mpn' | 'raw' | 'grpc';
const IMPLS: readonly Impl[] = ['mpn', 'raw', 'grpc'];
const LABELS: Record<Impl, string> = {
  mpn: 'msgpacknet Rpc (TCP)',
  raw: 'raw net + msgpack-rpc, batched',
  grpc: '@grpc/grpc-js unary (proto-loader)',
};
const INFLIGHT = [1, 64] as const;
/** Issue 21's targets: calls/s at least 0.8 of raw and 3x grpc-js, p99 at most grpc-js's. */
const TARGET_RAW = 0.8;
const TARGET_GRPC = 3;
/** Untimed calls before the timed ones, by every implementation alike (see WARM_UP_TRIPS in peers/common.ts). */
const WARM_UP_CALLS = 3000;
/** At most this many timed calls per measurement, whatever the time (bounds the latency array). */
const MAX_CALLS = 2_000_000;
const TEXT = 'x'.repeat(64);
const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------------
// The worker side: one server or one client.

/** A call as the client loop sees it: the params [i, TEXT] go out, the echo comes back. */
type Call = (i: number) => Promise<void>;

/** The gRPC service: Echo.Call(Req) returns (Res), Req and Res being { id, text } (the params array as a message). */
function grpcService(): grpc.ServiceClientConstructor {
  const message = { fields: { id: { type: 'uint32', id: 1 }, text: { type: 'string', id: 2 } } };
  const definition = protoLoader.fromJSON({
    nested: {
      bench: {
        nested: {
          Echo: { methods: { Call: { requestType: 'Req', responseType: 'Res', comment: '' } } },
          Req: message,
          Res: message,
        },
      },
    },
  });
  const bench = grpc.loadPackageDefinition(definition)['bench'] as grpc.GrpcObject;
  return bench['Echo'] as grpc.ServiceClientConstructor;
}

const mismatch = (i: number, got: unknown): Error => new Error(`call ${i} answered with ${JSON.stringify(got)}`);

async function server(impl: Impl): Promise<void> {
  switch (impl) {
    case 'mpn': {
      const node = new Node<unknown, string>({ nodeId: 'server' });
      node.events$.subscribe((event) => {
        if (event.type === 'connectionRequest') event.request.accept();
      });
      new Rpc<string>(node).handle('echo', (params) => params);
      report({ address: await node.listen('127.0.0.1:0') });
      return;
    }
    case 'raw': {
      // Requests [0, msgid, method, params] answered [1, msgid, null, params]: each read's answers in one write.
      const encoder = new Encoder({ useBigInt64: false });
      const address = await new Promise<string>((resolve) => {
        const listener = createServer({ noDelay: true }, (socket) => {
          const out: Uint8Array[] = [];
          const read = rawReader((value) => {
            const [, msgid, , params] = value as [number, number, string, unknown[]];
            out.push(encoder.encode([1, msgid, null, params]));
          });
          socket.on('data', (chunk: Buffer) => {
            read(chunk);
            if (out.length > 0) socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
            out.length = 0;
          });
          socket.on('error', () => undefined);
        });
        listener.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(listener.address() as { port: number }).port}`));
      });
      report({ address });
      return;
    }
    case 'grpc': {
      const Echo = grpcService();
      const grpcServer = new grpc.Server();
      grpcServer.addService(Echo.service, {
        Call: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, call.request),
      });
      const port = await new Promise<number>((resolve, reject) =>
        grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
          error ? reject(error) : resolve(bound),
        ),
      );
      report({ address: `127.0.0.1:${port}` });
      return;
    }
  }
}

/** The client's call function and how to end it. */
async function connectClient(impl: Impl, address: string): Promise<{ call: Call; close: () => void }> {
  switch (impl) {
    case 'mpn': {
      const node = new Node<unknown, string>({ nodeId: 'client' });
      const rpc = new Rpc<string>(node);
      // Something must take the node's own events: with none taken (here the 'connected' event, kept for a
      // subscriber that never comes), the event buffer charges every read, the Rpc's answers included
      // although the Rpc consumes them, and once that reaches eventBufferBytes (128 MiB estimated, about
      // 82,000 answers of this size) the node stops reading for good and every call times out.
      node.events$.subscribe(() => undefined);
      const peer = await node.connect(address);
      return {
        call: async (i) => {
          const result = await rpc.call<unknown[]>(peer, 'echo', [i, TEXT]);
          if (result[0] !== i) throw mismatch(i, result);
        },
        close: () => void node.close(),
      };
    }
    case 'raw': {
      // What a careful user writes: a map of pending calls by msgid, the requests of a turn encoded into one
      // write (flushed in a microtask), the answers read with the raw baseline's reader.
      const socket = await new Promise<Socket>((resolve) => {
        const opened = netConnect({ ...hostPort(address), noDelay: true }, () => resolve(opened));
      });
      const encoder = new Encoder({ useBigInt64: false });
      const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
      const out: Uint8Array[] = [];
      let nextMsgid = 0;
      const flush = (): void => {
        socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
        out.length = 0;
      };
      socket.on(
        'data',
        rawReader((value) => {
          const [, msgid, error, result] = value as [number, number, unknown, unknown];
          const waiting = pending.get(msgid);
          if (!waiting) return;
          pending.delete(msgid);
          if (error === null) waiting.resolve(result);
          else waiting.reject(new Error(JSON.stringify(error)));
        }),
      );
      const request = (method: string, params: unknown[]): Promise<unknown> =>
        new Promise((resolve, reject) => {
          const msgid = nextMsgid++ >>> 0;
          pending.set(msgid, { resolve, reject });
          if (out.length === 0) queueMicrotask(flush);
          out.push(encoder.encode([0, msgid, method, params]));
        });
      return {
        call: async (i) => {
          const result = (await request('echo', [i, TEXT])) as unknown[];
          if (result[0] !== i) throw mismatch(i, result);
        },
        close: () => socket.destroy(),
      };
    }
    case 'grpc': {
      const Echo = grpcService();
      const client = new Echo(address, grpc.credentials.createInsecure());
      await new Promise<void>((resolve, reject) =>
        client.waitForReady(Date.now() + 10_000, (error?: Error) => (error ? reject(error) : resolve())),
      );
      const unary = client['Call'] as (request: unknown, callback: (error: grpc.ServiceError | null, response?: unknown) => void) => void;
      return {
        call: (i) =>
          new Promise<void>((resolve, reject) =>
            unary.call(client, { id: i, text: TEXT }, (error, response) => {
              if (error) reject(error);
              else if ((response as { id: number }).id !== i) reject(mismatch(i, response));
              else resolve();
            }),
          ),
        close: () => client.close(),
      };
    }
  }
}

/** `inflight` lanes of calls, each starting its next call when its last one is answered. */
async function client(impl: Impl, address: string, inflight: number, seconds: number): Promise<void> {
  const { call, close } = await connectClient(impl, address);
  let i = 0;
  // Warm-up: untimed, the same lanes.
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (i < WARM_UP_CALLS) await call(i++);
    }),
  );
  const times: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let now = started;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (now < deadline && times.length < MAX_CALLS) {
        const sent = now;
        await call(i++);
        now = performance.now();
        times.push(now - sent);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  report({ calls: times.length, seconds: elapsed, latency: percentiles(times) });
  close();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------------
// The coordinator.

/** One measurement: calls per second and the calls' latency in microseconds. */
interface Measure {
  readonly callsPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
}

/** A worker process and its JSON lines. */
class Worker {
  private readonly lines: Record<string, unknown>[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  readonly exited: Promise<void>;
  constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (text) => {
      this.lines.push(JSON.parse(text) as Record<string, unknown>);
      this.wake?.();
    });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }
  async next(ms = 30_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error(`a benchmark worker exited without answering: ${this.child.spawnargs.slice(1).join(' ')}`);
      if (Date.now() > deadline) throw new Error(`a benchmark worker stopped answering: ${this.child.spawnargs.slice(1).join(' ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.lines.shift()!;
  }
}

const worker = (...args: (string | number)[]): Worker => new Worker(spawn(process.execPath, [SELF, ...args.map(String)]));

/** One server, and a client for each in-flight level in turn (a fresh client process each). */
async function measure(impl: Impl, seconds: number): Promise<Record<number, Measure>> {
  const server = worker(`server-${impl}`);
  try {
    const { address } = await server.next();
    const out: Record<number, Measure> = {};
    for (const inflight of INFLIGHT) {
      const client = worker(`client-${impl}`, address as string, inflight, seconds);
      const line = await client.next();
      await client.exited;
      const latency = line.latency as { p50: number; p99: number; p999: number };
      out[inflight] = { callsPerSec: (line.calls as number) / (line.seconds as number), ...latency };
    }
    return out;
  } finally {
    server.child.kill();
    await server.exited;
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** One implementation at one in-flight level: medians of the repetitions. */
interface Row {
  readonly impl: Impl;
  readonly inflight: number;
  readonly callsPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  /** Medians of the in-run ratios msgpacknet / this implementation (null on msgpacknet's own row). */
  readonly mpnOver: { callsPerSec: number; p50: number; p99: number } | null;
}

export interface RpcBenchResult {
  readonly when: string;
  readonly node: string;
  readonly seconds: number;
  readonly reps: number;
  readonly warmUpCalls: number;
  readonly payload: string;
  readonly rows: Row[];
  readonly targets: { name: string; value: number; target: string; met: boolean }[];
  readonly runs: Record<Impl, Record<number, Measure>[]>;
}

async function runRpcBench(smoke: boolean, outDir: string): Promise<RpcBenchResult> {
  const seconds = smoke ? 0.3 : 1.5;
  const reps = smoke ? 1 : 3;
  const runs: Record<Impl, Record<number, Measure>[]> = { mpn: [], raw: [], grpc: [] };
  let step = 0;
  for (let rep = 0; rep < reps; rep++) {
    for (const impl of rep % 2 === 0 ? IMPLS : [...IMPLS].reverse()) {
      process.stderr.write(`[${++step}/${reps * IMPLS.length}] ${LABELS[impl]} (${rep + 1}/${reps})\n`);
      runs[impl].push(await measure(impl, seconds));
    }
  }
  const ratio = (impl: Impl, inflight: number, key: 'callsPerSec' | 'p50' | 'p99'): number =>
    median(runs.mpn.map((run, rep) => run[inflight]![key] / runs[impl][rep]![inflight]![key]));
  const rows = INFLIGHT.flatMap((inflight) =>
    IMPLS.map((impl): Row => {
      const list = runs[impl].map((run) => run[inflight]!);
      return {
        impl,
        inflight,
        callsPerSec: median(list.map((m) => m.callsPerSec)),
        p50: median(list.map((m) => m.p50)),
        p99: median(list.map((m) => m.p99)),
        p999: median(list.map((m) => m.p999)),
        mpnOver:
          impl === 'mpn'
            ? null
            : { callsPerSec: ratio(impl, inflight, 'callsPerSec'), p50: ratio(impl, inflight, 'p50'), p99: ratio(impl, inflight, 'p99') },
      };
    }),
  );
  const over = (impl: Impl, inflight: number): NonNullable<Row['mpnOver']> =>
    rows.find((row) => row.impl === impl && row.inflight === inflight)!.mpnOver!;
  const targets = INFLIGHT.flatMap((inflight) => [
    {
      name: `calls/s at ${inflight} in flight, msgpacknet / raw`,
      value: over('raw', inflight).callsPerSec,
      target: `>= ${TARGET_RAW}`,
      met: over('raw', inflight).callsPerSec >= TARGET_RAW,
    },
    {
      name: `calls/s at ${inflight} in flight, msgpacknet / grpc-js`,
      value: over('grpc', inflight).callsPerSec,
      target: `>= ${TARGET_GRPC}`,
      met: over('grpc', inflight).callsPerSec >= TARGET_GRPC,
    },
    {
      name: `p99 at ${inflight} in flight, msgpacknet / grpc-js`,
      value: over('grpc', inflight).p99,
      target: '<= 1',
      met: over('grpc', inflight).p99 <= 1,
    },
  ]);
  const result: RpcBenchResult = {
    when: new Date().toISOString(),
    node: process.version,
    seconds,
    reps,
    warmUpCalls: WARM_UP_CALLS,
    payload: "params [i, 'x'.repeat(64)], echoed",
    rows,
    targets,
    runs,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${outDir}/rpc.json`, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The result as Markdown tables. */
export function rpcTable(result: RpcBenchResult): string {
  const lines = [
    '| in flight | implementation | calls/s | p50 | p99 | p99.9 | msgpacknet / it: calls/s | p50 | p99 |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of result.rows) {
    const over = row.mpnOver;
    lines.push(
      `| ${row.inflight} | ${LABELS[row.impl]} | ${fmt(row.callsPerSec)} | ${fmt(row.p50)} us | ${fmt(row.p99)} us | ${fmt(row.p999)} us | ${
        over ? `**${fmt(over.callsPerSec, 2)}** | ${fmt(over.p50, 2)} | ${fmt(over.p99, 2)}` : ' | |'
      } |`,
    );
  }
  lines.push('', '| target | measured | wanted | |', '|---|---:|---:|---|');
  for (const target of result.targets) {
    lines.push(`| ${target.name} | ${fmt(target.value, 2)} | ${target.target} | ${target.met ? 'met' : '**missed**'} |`);
  }
  return lines.join('\n');
}

const [role = '', ...args] = process.argv.slice(2);
if (process.argv[1] === SELF) {
  const impl = role.replace(/^(server|client)-/, '') as Impl;
  if (role.startsWith('server-') && IMPLS.includes(impl)) await server(impl);
  else if (role.startsWith('client-') && IMPLS.includes(impl)) await client(impl, args[0] ?? '', Number(args[1]), Number(args[2]));
  else {
    const { values } = parseArgs({ options: { smoke: { type: 'boolean' }, out: { type: 'string' } } });
    const outDir = values.out ?? DEFAULT_OUT;
    const result = await runRpcBench(values.smoke ?? false, outDir);
    console.log(rpcTable(result));
    console.log(`\nwritten: ${outDir}/rpc.json`);
  }
}
