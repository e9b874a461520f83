import type { SchedulerLike } from 'rxjs';
import { idleError, type NetError } from '../errors.js';

/**
 * The idle rule, once for the `idleTimeout` operator and the node's read
 * path (`FrameReader` extends it): a value only notes the time ({@link touch});
 * when the timer fires, {@link left} says how much of the period remains
 * (more than 0: re-arm for that long, so a busy source costs one timer per
 * period, not one per value); at 0 or less the period passed in silence and
 * {@link expired} is the `TIMEOUT` error. How the timer is armed is the
 * owner's: `idleTimeout` switches to a fresh `timer` on its scheduler, the
 * read path re-schedules one action (a node may hold tens of thousands).
 * Internal; browser-safe.
 */
export class IdleClock {
  private last: number;

  constructor(
    /** ms of silence allowed. */
    readonly idle: number,
    readonly scheduler: SchedulerLike,
  ) {
    this.last = scheduler.now();
  }

  /** A value arrived: the period starts again. */
  touch(): void {
    this.last = this.scheduler.now();
  }

  /**
   * Is the silence ours rather than the source's (its reader is held)? Then
   * the period starts again whenever the timer looks. Never, unless a
   * subclass says otherwise.
   */
  protected held(): boolean {
    return false;
  }

  /** ms left of the period (0 or less: it has passed in silence). */
  left(): number {
    const now = this.scheduler.now();
    if (this.held()) this.last = now;
    return this.last + this.idle - now;
  }

  /** The error of a silent period: `TIMEOUT`, `limit: 'idleTimeout'`, the address named when known. */
  expired(context?: { readonly address?: string; readonly nodeId?: unknown }): NetError {
    return idleError(this.idle, context);
  }
}
