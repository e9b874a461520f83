import { asyncScheduler } from 'rxjs';
import { TimerQueue, type QueuedTimer } from '../../lib/rpc/TimerQueue.js';
import { testScheduler } from '../helpers/marbles.js';
import { sleep } from '../helpers/nodes.js';

/** Timers that record `[name, virtual time]` when they run. */
function recorder(scheduler: { now(): number }): { fired: [string, number][]; note: (name: string) => () => void } {
  const fired: [string, number][] = [];
  return { fired, note: (name) => () => fired.push([name, scheduler.now()]) };
}

const activeTimeouts = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

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

  it('on a real clock: a lane whose timers were all cleared leaves no timer behind (nothing keeps the process alive)', async () => {
    const before = activeTimeouts();
    const queue = new TimerQueue(asyncScheduler);
    const timers = Array.from({ length: 100 }, () => queue.setTimeout(() => fail('a cleared timer ran'), 60_000));
    expect(activeTimeouts()).toBe(before + 1); // one for the lane, not one per timer
    for (const timer of timers) queue.clearTimeout(timer);
    expect(activeTimeouts()).toBe(before);
    let ran = 0;
    queue.setTimeout(() => ran++, 5);
    queue.setTimeout(() => ran++, 5);
    await sleep(100);
    expect(ran).toBe(2);
    expect(activeTimeouts()).toBe(before);
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
});
