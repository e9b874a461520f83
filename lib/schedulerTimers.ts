import type { SchedulerLike, Subscription } from 'rxjs';

/**
 * `p-timeout`'s `customTimers` on an RxJS scheduler, so that a Promise's
 * deadline runs in virtual time under a `TestScheduler` as every other
 * timer of the node does.
 */
export function schedulerTimers(scheduler: SchedulerLike): {
  setTimeout: typeof globalThis.setTimeout;
  clearTimeout: typeof globalThis.clearTimeout;
} {
  return {
    setTimeout: ((fn: () => void, ms: number) => scheduler.schedule(fn, ms)) as unknown as typeof globalThis.setTimeout,
    clearTimeout: ((timer: Subscription | undefined) => timer?.unsubscribe()) as unknown as typeof globalThis.clearTimeout,
  };
}
