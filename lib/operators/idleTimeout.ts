import { Observable, Subject, asyncScheduler, switchMap, timer, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { IdleClock } from './IdleClock.js';

/** Options of {@link idleTimeout}. */
export interface IdleTimeoutConfig {
  /** ms of silence after which the stream errors; must be positive. */
  readonly each: number;
  /** The scheduler of the timer (a `TestScheduler` in marble tests). @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
  /** Extra context for the error (e.g. the peer's address), copied onto it. @default none */
  readonly info?: {
    /** The peer's node id, when known. */
    readonly nodeId?: unknown;
    /** The peer's address, named in the error message. */
    readonly address?: string;
  };
}

/**
 * Mirrors the source, and errors with a `TIMEOUT` `NetError` (`limit:
 * 'idleTimeout'`) when the source stays silent for `each` ms: after
 * subscription, or after its last value.
 *
 * The timer is a `switchMap` to a fresh `timer` on the scheduler, re-armed
 * lazily: a value only notes the time, and a timer that fires while the
 * source has spoken since it was armed is re-armed for the rest of the
 * period. So the error comes exactly `each` ms after the last value, and a
 * busy source costs one timer per period, not one per value.
 *
 * Completes or errors with the source; unsubscribing cancels the timer. A
 * number is the common case; a config object adds a scheduler and error
 * context. A bad duration throws a `TypeError` when the operator is built.
 *
 * @example
 * ```ts
 * import { interval, take } from 'rxjs';
 * import { idleTimeout } from 'msgpacknet';
 * interval(10).pipe(take(3), idleTimeout(1000)).subscribe({ error: (e) => console.log(e.code) }); // completes, no error
 * ```
 */
export function idleTimeout<T>(config: number | IdleTimeoutConfig): MonoTypeOperatorFunction<T> {
  const { each, scheduler = asyncScheduler, info = {} } = typeof config === 'number' ? { each: config } : config;
  if (!(typeof each === 'number' && each > 0)) throw new TypeError(`idleTimeout needs a positive number of ms, got ${String(each)}`);
  return (source) =>
    new Observable<T>((subscriber) => {
      const clock = new IdleClock(each, scheduler);
      // ms until the deadline, each time the timer is (re-)armed
      const arm = new Subject<number>();
      const timeout = arm.pipe(switchMap((ms) => timer(ms, scheduler))).subscribe(() => {
        const left = clock.left();
        if (left > 0) arm.next(left);
        else subscriber.error(clock.expired(info));
      });
      arm.next(each);
      const subscription = source.subscribe({
        next(value) {
          clock.touch();
          subscriber.next(value);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        timeout.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
