/**
 * Why a connection's reading is paused: `pending`, the peer sent more than
 * the pending budget before the accept decision; `events`, the node's event
 * buffer is over its bound; `predecessor`, it replaced a connection to the
 * same peer whose last messages are still being read (order across them).
 */
export type ReadHold = 'pending' | 'events' | 'predecessor';

const BITS: Record<ReadHold, number> = { pending: 1, events: 2, predecessor: 4 };

/**
 * Decides whether a connection reads, from named reasons: it pauses the
 * stream when the first reason holds it and resumes it when the last is
 * released, and never otherwise. The one place that pauses and resumes a
 * connection's reading.
 */
export class ReadGate {
  private holds = 0;
  private open = true;

  constructor(private readonly stream: { pause(): void; resume(): void }) {}

  /** Is reading paused? */
  get paused(): boolean {
    return this.holds !== 0;
  }

  hold(reason: ReadHold): void {
    const before = this.holds;
    this.holds |= BITS[reason];
    if (before === 0 && this.open) this.stream.pause();
  }

  release(reason: ReadHold): void {
    if ((this.holds & BITS[reason]) === 0) return;
    this.holds &= ~BITS[reason];
    if (this.holds === 0 && this.open) this.stream.resume();
  }

  /** From now on reading goes on whatever holds it (a closing connection reads to the peer's FIN, discarding). */
  openForever(): void {
    this.open = false;
    this.stream.resume();
  }
}
