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
  timer,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import { NetError } from '../errors.js';

/** Options of {@link idleTimeout}. */
export interface IdleTimeoutConfig {
  /** ms of silence after which the stream errors; must be positive. */
  readonly each: number;
  /** The scheduler of the timer (a `TestScheduler` in marble tests). @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
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
  const { each, scheduler = asyncScheduler, info = {} } = typeof config === 'number' ? { each: config } : config;
  if (!(typeof each === 'number' && each > 0)) throw new TypeError(`idleTimeout needs a positive number of ms, got ${String(each)}`);
  return (source) =>
    source.pipe(
      connect((shared) =>
        merge(
          shared,
          shared.pipe(
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
