import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';

/** The longest delay a timer holds (setTimeout's and setInterval's 32-bit limit). */
const MAX_DELAY = 2 ** 31 - 1;

/** One timer of a {@link TimerQueue}: its callback is dropped once it ran or was cleared. */
export interface QueuedTimer {
  readonly deadline: number;
  callback: (() => void) | undefined;
  readonly lane: { clear(timer: QueuedTimer): void };
}

/**
 * `p-timeout`'s `customTimers` for many timers of one duration at a time,
 * as an Rpc's calls are: the timers of each duration run out in the order
 * they were set, so each duration keeps a first-in first-out lane with one
 * scheduler action, for its earliest live timer, instead of one action per
 * timer. Setting and clearing a timer is O(1) (amortised: cleared timers
 * are dropped in bulk once they are half of a lane). A lane with no live
 * timer has no action, so nothing keeps the process alive on its account.
 * The deadlines are on `performance.now()` under `asyncScheduler` (whose
 * `now()` is the wall clock: a clock set back an hour would hold every
 * timer an hour, one set forward would fire them all), else on
 * `scheduler.now()`, so a `TestScheduler` drives them in virtual time.
 */
export class TimerQueue {
  private readonly lanes = new Map<number, Lane>();

  private readonly clock: () => number;

  constructor(private readonly scheduler: SchedulerLike) {
    this.clock = scheduler === asyncScheduler ? () => performance.now() : () => scheduler.now();
  }

  /** As `setTimeout(callback, ms)`. */
  readonly setTimeout = (callback: () => void, ms: number): QueuedTimer => {
    let lane = this.lanes.get(ms);
    if (!lane) {
      const made = new Lane(this.scheduler, this.clock, ms, () => {
        if (this.lanes.get(ms) === made) this.lanes.delete(ms);
      });
      lane = made;
      this.lanes.set(ms, lane);
    }
    return lane.add(callback);
  };

  /** As `clearTimeout(timer)`: a timer that ran or was cleared already is ignored. */
  readonly clearTimeout = (timer: QueuedTimer | undefined): void => {
    if (timer?.callback !== undefined) timer.lane.clear(timer);
  };
}

/** The timers of one duration, in deadline order. */
class Lane {
  private timers: QueuedTimer[] = [];
  /** The index of the first timer not yet run (or dropped). */
  private head = 0;
  /** Cleared timers at or after `head`. */
  private cleared = 0;
  private action: Subscription | undefined;

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly now: () => number,
    private readonly ms: number,
    private readonly emptied: () => void,
  ) {}

  add(callback: () => void): QueuedTimer {
    const timer: QueuedTimer = { deadline: this.now() + this.ms, callback, lane: this };
    this.timers.push(timer);
    this.action ??= this.arm(timer.deadline);
    return timer;
  }

  clear(timer: QueuedTimer): void {
    if (timer.callback === undefined) return;
    timer.callback = undefined;
    this.cleared += 1;
    const live = this.timers.length - this.head - this.cleared;
    if (live === 0) this.reset();
    else if (this.cleared > 64 && this.cleared * 2 > this.timers.length - this.head) this.compact();
  }

  private arm(deadline: number): Subscription {
    // Timers hold at most 2**31 - 1 ms (a longer delay fires at once, with a warning): a later deadline re-arms.
    return this.scheduler.schedule(() => this.fire(), Math.min(MAX_DELAY, Math.max(0, deadline - this.now())));
  }

  /** Runs every timer whose deadline has come, in order, then arms for the next live one. */
  private fire(): void {
    this.action = undefined;
    const now = this.now();
    while (this.head < this.timers.length) {
      const timer = this.timers[this.head]!;
      const { callback } = timer;
      if (callback !== undefined && timer.deadline > now) break;
      this.head += 1;
      if (callback === undefined) {
        this.cleared -= 1;
        continue;
      }
      timer.callback = undefined;
      callback(); // may run anything, set or clear timers of this lane too: each turn reads the lane afresh
    }
    if (this.head === this.timers.length) {
      this.reset();
      return;
    }
    // timers[head] is live and not due: arm for it (not for a later one a callback may have set meanwhile).
    const next = this.timers[this.head]!;
    if (this.head > 1024 && this.head * 2 > this.timers.length) this.compact();
    this.disarm();
    this.action = this.arm(next.deadline);
  }

  private disarm(): void {
    this.action?.unsubscribe();
    this.action = undefined;
  }

  /** Drops run and cleared timers (their order stays). */
  private compact(): void {
    this.timers = this.timers.filter((timer, index) => index >= this.head && timer.callback !== undefined);
    this.head = 0;
    this.cleared = 0;
  }

  /** No live timer left: no action, and the lane leaves its queue. */
  private reset(): void {
    this.disarm();
    this.timers = [];
    this.head = 0;
    this.cleared = 0;
    this.emptied();
  }
}
