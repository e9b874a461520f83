import {
  asyncScheduler,
  connect,
  endWith,
  ignoreElements,
  map,
  merge,
  startWith,
  switchMap,
  takeUntil,
  throttleTime,
  timer,
  type MonoTypeOperatorFunction,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { NetError } from '../errors.js';

/** Options of {@link idleTimeout}. */
export interface IdleTimeoutConfig {
  /** ms of silence after which the stream errors; must be positive. */
  readonly each: number;
  /** The scheduler of the timer (a `TestScheduler` in marble tests). @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
  /**
   * ms: restart the timer at most once per `resolution` (leading and trailing
   * edge), so a busy source costs one timer per window instead of one per
   * value. The error then comes between `each` and `each + resolution` ms
   * after the last value: never early. @default 0 (every value restarts it)
   */
  readonly resolution?: number;
  /** Extra context for the error (e.g. the peer's address), copied onto it. */
  readonly info?: { readonly nodeId?: unknown; readonly address?: string };
}

/**
 * Mirrors the source, and errors with a `TIMEOUT` `NetError` (`limit:
 * 'idleTimeout'`) when the source stays silent for `each` ms: after
 * subscription, or after its last value. Every value restarts the timer
 * (`switchMap` to a fresh `timer`). Completes or errors with the source;
 * unsubscribing cancels the timer.
 *
 * A number is the common case; a config object adds a scheduler and error
 * context. Bad arguments throw a `TypeError` when the operator is built.
 *
 * @example
 * ```ts
 * import { interval, take } from 'rxjs';
 * import { idleTimeout } from 'msgpacknet';
 * interval(10).pipe(take(3), idleTimeout(1000)).subscribe({ error: (e) => console.log(e.code) }); // completes, no error
 * ```
 */
export function idleTimeout<T>(config: number | IdleTimeoutConfig): MonoTypeOperatorFunction<T> {
  const { each, scheduler = asyncScheduler, info = {}, resolution = 0 } = typeof config === 'number' ? { each: config } : config;
  if (!(typeof each === 'number' && each > 0)) throw new TypeError(`idleTimeout needs a positive number of ms, got ${String(each)}`);
  if (!(typeof resolution === 'number' && resolution >= 0))
    throw new TypeError(`resolution must be a non-negative number of ms, got ${String(resolution)}`);
  const restarts = (values: Observable<T>): Observable<unknown> =>
    resolution > 0 ? values.pipe(throttleTime(resolution, scheduler, { leading: true, trailing: true })) : values;
  return (source) =>
    source.pipe(
      connect((shared) =>
        merge(
          shared,
          restarts(shared).pipe(
            startWith(null),
            switchMap(() => timer(each, scheduler)),
            map(() => {
              throw new NetError('TIMEOUT', `nothing received for ${each} ms${info.address ? ` from ${info.address}` : ''}`, {
                ...info,
                limit: 'idleTimeout',
                max: each,
              });
            }),
            takeUntil(shared.pipe(ignoreElements(), endWith(null))),
          ),
        ),
      ),
    );
}
