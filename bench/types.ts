// The benchmark's options and result, apart from the code that makes them (run.ts) and draws them (chart.ts).
import type { PayloadKind } from './payloads.js';

export interface BenchOptions {
  /** Shorter runs, fewer repetitions, 1k connections only: about a minute without the peers, three with them. */
  readonly quick?: boolean;
  /** A few seconds in all: only checks that the benchmark runs (its figures mean little). */
  readonly smoke?: boolean;
  /** Where to write `latest.json` and `latest.svg`. @default bench/results in this checkout */
  readonly outDir?: string;
  /** Called before each step with the step's name, its index and the step count. */
  readonly onProgress?: (step: string, index: number, total: number) => void;
  /** Only the connection-scale runs, at these sizes (e.g. [10000] for the per-connection memory). @default all parts */
  readonly scaleOnly?: readonly number[];
  /** Run the rows beside msgpacknet (bench/peers/: zeromq.js, socket.io, ws, msgpacknet over ws://). @default true */
  readonly peers?: boolean;
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

/** Round-trip percentiles, in microseconds. */
export interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
}

/**
 * The rows beside msgpacknet (bench/peers/): what users pick instead, and the WebSocket rows.
 * - `zeromq`: zeromq.js, PUSH/PULL one-way, DEALER/ROUTER round trips, one @msgpack/msgpack value per message
 * - `socketio`: socket.io with socket.io-msgpack-parser, WebSocket transport only, one `emit` per value
 * - `wsValue`: `ws` + @msgpack/msgpack, one WebSocket message per value
 * - `wsBatched`: raw `ws` carrying the raw baseline's batched MessagePack stream (msgpacknet over ws:// by hand)
 * - `mpnWs`: msgpacknet over ws://, when this build has the transport
 */
export type PeerName = 'zeromq' | 'socketio' | 'wsValue' | 'wsBatched' | 'mpnWs';

/** One peer's one-way figures for one kind of value. */
export interface PeerThroughputRow {
  readonly kind: PayloadKind;
  readonly peer: PeerName;
  readonly it: Throughput;
  /** Median of the in-run ratios msgpacknet (TCP) / this peer, in messages per second. */
  readonly ratio: number;
  /** The same for msgpacknet over ws:// (WebSocket peers only, when it ran; null otherwise). */
  readonly ratioWs: number | null;
}

/** One peer's round trips: medians of the repetitions' percentiles, and of the in-run ratios msgpacknet / it. */
export interface PeerPingRow {
  readonly peer: PeerName;
  readonly latency: Latency;
  readonly ratioP50: number;
  readonly ratioP99: number;
  /** msgpacknet over ws:// / it, p50 (WebSocket peers only, when it ran; null otherwise). */
  readonly ratioP50Ws: number | null;
}

export interface BenchResult {
  readonly when: string;
  readonly quick: boolean;
  readonly node: string;
  readonly throughput: ThroughputRow[];
  /** Ratios: medians of the in-run msgpacknet / raw of each repetition. */
  readonly pingPong: { mpn: Latency; raw: Latency; ratioP50: number; ratioP99: number; ratioP999: number };
  readonly scale: { connections: number; mpn: ScaleRun; raw: ScaleRun }[];
  /** msgpacknet's 64 KiB row against a bare socket pipe moving the same bytes (no MessagePack); null in a scale-only run. */
  readonly barePipe: { mbPerSec: number; ratio: number; target: number; steadyStallMs: number } | null;
  /** The one-way rows over TLS (msgpacknet on tls:// against node:tls); empty in a smoke or scale-only run. */
  readonly tls: ThroughputRow[];
  /** The rows beside msgpacknet; empty in a scale-only run. */
  readonly peers: {
    /** Whether msgpacknet over ws:// ran (this build has the transport and it answered a probe). */
    readonly wsTransport: boolean;
    /** Why it did not, if it did not. */
    readonly wsSkipped: string | null;
    readonly throughput: PeerThroughputRow[];
    readonly pingPong: PeerPingRow[];
  };
}

export interface ScaleRun {
  establishSeconds: number;
  rssPerConnection: number;
  fanoutMsgsPerSec: number;
}
