import { limitError, type NetError } from '../errors.js';

/**
 * Values kept until their consumer is ready, up to {@link max}, then how the
 * source ended: once for the `handshake` operator's `messages` (held until
 * subscribed) and the node's connections (held until accept, or until a
 * predecessor's last message). Internal; browser-safe.
 */
export class PendingInbox<T> {
  private values: T[] = [];
  /** How the source ended: `null` in order, else `{ error }`; `undefined` while it runs. */
  private ending: { readonly error: unknown } | null | undefined;

  constructor(
    /** Values kept at most; one more is the `maxPending` error. Writable: a consumer that is ready lifts it. */
    public max: number,
  ) {}

  /** Keeps a value; when {@link max} are kept already, keeps nothing and returns the `maxPending` error. */
  keep(value: T): NetError | undefined {
    if (this.values.length >= this.max) return limitError('maxPending', this.max, this.max + 1, 'messages waiting for accept');
    this.values.push(value);
    return undefined;
  }

  /** The source ended after what is kept (with `error`, when given); later ends are ignored. */
  end(error?: unknown): void {
    if (this.ending !== undefined) return;
    this.ending = error === undefined ? null : { error };
  }

  get ended(): boolean {
    return this.ending !== undefined;
  }

  /**
   * Hands what is kept to `next`, oldest first, while `open()` holds (a
   * consumer may close inside `next`: the rest is dropped), then the end to
   * `done` (`error` undefined for an end in order) if the source ended and
   * the consumer is still open. Nothing is kept afterwards.
   */
  drain(next: (value: T) => void, open: () => boolean, done: (error: unknown) => void): void {
    const values = this.values;
    this.values = [];
    for (const value of values) {
      if (!open()) return;
      next(value);
    }
    if (this.ending !== undefined && open()) done(this.ending?.error);
  }

  /** Drops what is kept (a consumer that will never come must not hold it). */
  clear(): void {
    this.values = [];
  }
}
