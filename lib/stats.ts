/**
 * A byte rate that decays exponentially with a half-life, counted per unit of
 * time, not per call: a steady 1000 bytes/s reads ~1000 bytes/s after a few
 * half-lives whether it came as one write a second or a thousand.
 *
 * Each event of `n` bytes adds `n * ln2 / halfLife` to the rate, and the rate
 * decays by half every `halfLife`; that is the continuous form of an
 * exponentially weighted moving average, whose weights integrate to one.
 *
 * @example
 * ```ts
 * import { DecayingRate } from 'msgpacknet';
 * const rate = new DecayingRate(60_000);
 * rate.add(1000, Date.now());
 * rate.rate(Date.now()); // bytes per second
 * ```
 */
export class DecayingRate {
  private value = 0;
  /** When the rate was last brought up to date (ms); kept as the caller gave it. */
  protected at: number;

  /** @param halfLife ms after which an old byte's weight has halved; must be positive. */
  constructor(
    private readonly halfLife: number,
    now = 0,
  ) {
    if (!(halfLife > 0 && Number.isFinite(halfLife))) throw new TypeError(`halfLife must be a positive number of ms, got ${halfLife}`);
    this.at = now;
  }

  /** Records `bytes` at time `now` (ms). */
  add(bytes: number, now: number): void {
    // bytes per ms -> bytes per s; the factors are computed here rather than kept: a node holds two rates a connection.
    this.value = this.decayed(now) + (bytes * 1000 * Math.LN2) / this.halfLife;
    this.at = Math.max(now, this.at);
  }

  /** The rate at time `now`, in bytes per second. */
  rate(now: number): number {
    return this.decayed(now);
  }

  private decayed(now: number): number {
    const elapsed = now - this.at;
    return elapsed > 0 ? this.value * Math.exp((-elapsed * Math.LN2) / this.halfLife) : this.value;
  }
}

/** A snapshot of one connection's traffic, as the crate's `ConnectionStats`. */
export interface ConnectionStats<N = unknown> {
  /** The peer's node id. */
  readonly nodeId: N;
  /** The peer's socket address, `"host:port"` (`"[v6]:port"` for IPv6). */
  readonly remoteAddress: string;
  /** The scheme of its transport: `tcp`, `tls`, `ws`, `wss`, or a custom one. */
  readonly transport: string;
  /** Messages read from the peer (its handshake not counted). */
  readonly messagesRead: number;
  /** Messages written to the peer (our handshake not counted). */
  readonly messagesWritten: number;
  /** Bytes written, handshake included. */
  readonly writeTotal: number;
  /** Decayed write rate, bytes/s. */
  readonly writeRate: number;
  /** ms since the last write. */
  readonly writeIdle: number;
  /** Bytes read, handshake included. */
  readonly readTotal: number;
  /** Decayed read rate, bytes/s. */
  readonly readRate: number;
  /** ms since the last read. */
  readonly readIdle: number;
}

/** A snapshot of a node's connections. */
export interface NodeStats<N = unknown> {
  /** One entry per registered connection. */
  readonly connections: readonly ConnectionStats<N>[];
}

/**
 * The counters of one direction of one connection: total, decayed rate and
 * the time of the last transfer. Times are the caller's clock in ms (the
 * node passes its scheduler's `now()`).
 */
export class TrafficCounter extends DecayingRate {
  /** Bytes so far. */
  total = 0;

  /** Records `bytes` at `now`. */
  override add(bytes: number, now: number): void {
    this.total += bytes;
    super.add(bytes, now);
  }

  /** When the last bytes went through (ms); the creation time before any. */
  get last(): number {
    return this.at;
  }

  /** ms since the last transfer. */
  idle(now: number): number {
    return Math.max(0, now - this.at);
  }
}
