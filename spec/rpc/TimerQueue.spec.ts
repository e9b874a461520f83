import { asyncScheduler, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { TimerQueue, type QueuedTimer } from '../../lib/rpc/TimerQueue.js';
import { testScheduler } from '../helpers/marbles.js';
import { sleep } from '../helpers/nodes.js';

/** Timers that record `[name, virtual time]` when they run. */
function recorder(scheduler: { now(): number }): { fired: [string, number][]; note: (name: string) => () => void } {
  const fired: [string, number][] = [];
  return { fired, note: (name) => () => fired.push([name, scheduler.now()]) };
}

/**
 * asyncScheduler, counting its actions not yet run nor cancelled (counting the process's Timeout
 * handles instead raced with other specs' timers ending meanwhile).
 */
function countingScheduler(): SchedulerLike & { readonly live: number } {
  let live = 0;
  return {
    get live() {
      return live;
    },
    now: () => asyncScheduler.now(),
    schedule(work: (this: SchedulerAction<unknown>, state?: unknown) => void, delay?: number, state?: unknown): Subscription {
      let done = false;
      const finish = (): void => {
        if (!done) {
          done = true;
          live--;
        }
      };
      live++;
      const action = asyncScheduler.schedule(
        function (this: SchedulerAction<unknown>, given) {
          finish();
          work.call(this, given);
        },
        delay,
        state,
      );
      action.add(finish);
      return action;
    },
  };
}

describe('TimerQueue (the Rpc call timeouts)', () => {
  it('runs each timer once, at its own deadline, durations interleaved', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const queue = new TimerQueue(scheduler);
      const { fired, note } = recorder(scheduler);
      queue.setTimeout(note('a100'), 100);
      scheduler.schedule(() => {
        queue.setTimeout(note('b100'), 100); // deadline 130
        queue.setTimeout(note('c50'), 50); // deadline 80, set after a100 and due before it
      }, 30);
      scheduler.schedule(() => queue.setTimeout(note('d100'), 100), 31); // deadline 131
      scheduler.flush();
      expect(fired).toEqual([
        ['c50', 80],
        ['a100', 100],
        ['b100', 130],
        ['d100', 131],
      ]);
    });
  });

  it('a cleared timer never runs; clearing one twice, or one that ran, does nothing', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const queue = new TimerQueue(scheduler);
      const { fired, note } = recorder(scheduler);
      const first = queue.setTimeout(note('first'), 10);
      const second = queue.setTimeout(note('second'), 10);
      const third = queue.setTimeout(note('third'), 10);
      queue.clearTimeout(second);
      queue.clearTimeout(second);
      queue.clearTimeout(undefined);
      scheduler.flush();
      queue.clearTimeout(first);
      queue.clearTimeout(third);
      expect(fired).toEqual([
        ['first', 10],
        ['third', 10],
      ]);
    });
  });

  it('of 20,000 timers, those left after clearing most run in order, each once (the lane drops the cleared ones in bulk)', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const queue = new TimerQueue(scheduler);
      const { fired, note } = recorder(scheduler);
      const timers: QueuedTimer[] = [];
      for (let i = 0; i < 20_000; i++) {
        timers.push(queue.setTimeout(note(String(i)), 500));
      }
      timers.forEach((timer, i) => {
        if (i % 97 !== 0) queue.clearTimeout(timer);
      });
      scheduler.flush();
      const kept = timers.map((_timer, i) => i).filter((i) => i % 97 === 0);
      expect(fired.map(([name]) => Number(name))).toEqual(kept);
      expect(fired.every(([, time]) => time === 500)).toBeTrue();
    });
  });

  it('a timer may set and clear timers of its own lane as it runs: each still runs at its own deadline', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const queue = new TimerQueue(scheduler);
      const { fired, note } = recorder(scheduler);
      let doomed: QueuedTimer | undefined;
      queue.setTimeout(() => {
        note('a')();
        queue.setTimeout(note('c (set by a)'), 100); // deadline 200: must not delay b (150)
        queue.clearTimeout(doomed);
      }, 100);
      scheduler.schedule(() => queue.setTimeout(note('b'), 100), 50);
      scheduler.schedule(() => (doomed = queue.setTimeout(note('doomed'), 100)), 60);
      scheduler.flush();
      expect(fired).toEqual([
        ['a', 100],
        ['b', 150],
        ['c (set by a)', 200],
      ]);
    });
  });

  it('a lane whose timers were all cleared leaves no timer behind (nothing keeps the process alive)', async () => {
    const scheduler = countingScheduler();
    const queue = new TimerQueue(scheduler);
    const timers = Array.from({ length: 100 }, () => queue.setTimeout(() => fail('a cleared timer ran'), 60_000));
    expect(scheduler.live).toBe(1); // one for the lane, not one per timer
    for (const timer of timers) queue.clearTimeout(timer);
    expect(scheduler.live).toBe(0);
    let ran = 0;
    queue.setTimeout(() => ran++, 5);
    queue.setTimeout(() => ran++, 5);
    await sleep(100);
    expect(ran).toBe(2);
    expect(scheduler.live).toBe(0);
  });

  it('on a real clock: the wall clock set back or forward an hour moves no timer (asyncScheduler timers are on a monotonic clock)', async () => {
    const queue = new TimerQueue(asyncScheduler);
    const fired: string[] = [];
    queue.setTimeout(() => fired.push('soon'), 30);
    const late = queue.setTimeout(() => fired.push('in a minute'), 60_000);
    const wall = Date.now();
    const now = spyOn(Date, 'now').and.returnValue(wall - 3_600_000);
    await sleep(150);
    expect(fired).toEqual(['soon']);
    now.and.returnValue(wall + 3_600_000);
    queue.setTimeout(() => fired.push('soon again'), 30);
    await sleep(150);
    expect(fired).toEqual(['soon', 'soon again']);
    queue.clearTimeout(late);
  });

  it('on a real clock: a timer past 2**31 - 1 ms (about 24.8 days) waits, with no TimeoutOverflowWarning (such a delay would fire at once)', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const queue = new TimerQueue(asyncScheduler);
      let ran = 0;
      const far = queue.setTimeout(() => ran++, 2 ** 31 + 5);
      await sleep(100);
      queue.clearTimeout(far);
      expect(ran).toBe(0);
      expect(warnings.map((warning) => warning.name)).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});
