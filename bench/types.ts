// The benchmark's options and result, apart from the code that makes them (run.ts) and draws them (chart.ts).
import type { PayloadKind } from './payloads.js';

export interface BenchOptions {
  /** Shorter runs, fewer repetitions, 1k connections only: under a minute. */
  readonly quick?: boolean;
  /** A few seconds in all: only checks that the benchmark runs (its figures mean little). */
  readonly smoke?: boolean;
  /** Where to write `latest.json` and `latest.svg`. @default bench/results in this checkout */
  readonly outDir?: string;
  /** Called before each step with the step's name, its index and the step count. */
  readonly onProgress?: (step: string, index: number, total: number) => void;
  /** Only the connection-scale runs, at these sizes (e.g. [10000] for the per-connection memory). @default all parts */
  readonly scaleOnly?: readonly number[];
}

/** One implementation's throughput figures: peak RSS of the receiving and the sending process, in MB. */
export interface Throughput {
  readonly msgsPerSec: number;
  readonly mbPerSec: number;
  readonly recvRssMb: number;
  readonly sendRssMb: number;
  readonly stallMs: number;
  /** The same after the first second (warm-up) of the run; NaN (null in JSON) for a shorter run. */
  readonly steadyStallMs: number;
}

export interface ThroughputRow {
  readonly kind: PayloadKind;
  readonly mpn: Throughput;
  readonly raw: Throughput;
  readonly ratio: number;
  readonly target: number;
}

export interface BenchResult {
  readonly when: string;
  readonly quick: boolean;
  readonly node: string;
  readonly throughput: ThroughputRow[];
  readonly pingPong: { mpn: { p50: number; p99: number }; raw: { p50: number; p99: number }; ratioP50: number };
  readonly scale: { connections: number; mpn: ScaleRun; raw: ScaleRun }[];
  /** The one-way rows over TLS (msgpacknet on tls:// against node:tls); empty in a smoke or scale-only run. */
  readonly tls: ThroughputRow[];
}

export interface ScaleRun {
  establishSeconds: number;
  rssPerConnection: number;
  fanoutMsgsPerSec: number;
}
