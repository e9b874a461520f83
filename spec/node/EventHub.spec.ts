import { VirtualTimeScheduler } from 'rxjs';
import { EventHub } from '../../lib/node/EventHub.js';

describe('EventHub', () => {
  it('keeps events while nobody subscribes and hands them, in order, to the next subscriber only', () => {
    const hub = new EventHub<number>(100, () => undefined);
    hub.emit(1);
    hub.emit(2);
    const first: number[] = [];
    const second: number[] = [];
    hub.events$.subscribe((n) => first.push(n));
    hub.events$.subscribe((n) => second.push(n));
    hub.emit(3);
    expect(first).toEqual([1, 2, 3]);
    expect(second).toEqual([3]);
  });

  it('asks the producer to pause beyond its bound, and to resume once half is taken', () => {
    const calls: boolean[] = [];
    const hub = new EventHub<number>(4, (paused) => calls.push(paused));
    for (let i = 0; i < 6; i++) hub.emit(i);
    expect(calls).toEqual([true]);
    const seen: number[] = [];
    hub.events$.subscribe((n) => seen.push(n));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(calls).toEqual([true, false]);
  });

  it('asks the producer to pause when the kept events cost more than maxCost, and to resume once they are taken', () => {
    const calls: boolean[] = [];
    const hub = new EventHub<number>(1000, (paused) => calls.push(paused), 100);
    hub.charge(500); // nothing kept: events went to subscribers, no cost
    expect(calls).toEqual([]);
    hub.emit(1);
    hub.charge(60);
    hub.emit(2);
    hub.charge(60);
    expect(calls).toEqual([true]);
    const seen: number[] = [];
    hub.events$.subscribe((n) => seen.push(n));
    expect(seen).toEqual([1, 2]);
    expect(calls).toEqual([true, false]);
  });

  it('charges only reads that kept something: intercepted events cost nothing, even while others are kept', () => {
    const calls: boolean[] = [];
    const hub = new EventHub<number>(1000, (paused) => calls.push(paused), 100);
    hub.intercept((n) => n < 0); // negative numbers are someone else's (as Rpc's answers are)
    hub.emit(1); // kept: nobody subscribes
    hub.charge(10);
    for (let i = 0; i < 1000; i++) {
      hub.emit(-1); // intercepted, never kept
      hub.charge(60);
    }
    expect(calls).toEqual([]);
    expect(hub.size).toBe(1);
    hub.emit(2);
    hub.charge(95); // kept: 10 + 95 > 100
    expect(calls).toEqual([true]);
  });

  it('an event emitted from inside a handler reaches every subscriber after the current one, so all see one order', () => {
    const hub = new EventHub<string>(100, () => undefined);
    const first: string[] = [];
    const second: string[] = [];
    hub.events$.subscribe((event) => {
      first.push(event);
      if (event === 'request') hub.emit('connected');
    });
    hub.events$.subscribe((event) => second.push(event));
    hub.emit('request');
    expect(first).toEqual(['request', 'connected']);
    expect(second).toEqual(['request', 'connected']);
  });

  it('keeps the order when a subscriber emits while it is being handed kept events', () => {
    const hub = new EventHub<number>(100, () => undefined);
    hub.emit(1);
    hub.emit(2);
    const seen: number[] = [];
    hub.events$.subscribe((n) => {
      seen.push(n);
      if (n === 1) hub.emit(3);
    });
    expect(seen).toEqual([1, 2, 3]);
  });

  it('completes subscribers once the kept events are out, and late subscribers get what is kept', () => {
    const hub = new EventHub<string>(100, () => undefined);
    hub.emit('last');
    hub.complete();
    const seen: string[] = [];
    let completed = false;
    hub.events$.subscribe({ next: (e) => seen.push(e), complete: () => (completed = true) });
    expect(seen).toEqual(['last']);
    expect(completed).toBeTrue();
  });

  it('receive() takes one event, and a timed-out receive takes none', async () => {
    const scheduler = new VirtualTimeScheduler();
    const hub = new EventHub<string>(100, () => undefined);
    const late = hub.receive('closed', 1000, scheduler);
    scheduler.flush();
    await expectAsync(late).toBeRejectedWith(jasmine.objectContaining({ code: 'TIMEOUT' }));
    hub.emit('a');
    hub.emit('b');
    expect(await hub.receive('closed', undefined, scheduler)).toBe('a');
    expect(await hub.receive('closed', undefined, scheduler)).toBe('b');
    hub.complete();
    expect(await hub.receive('closed', undefined, scheduler)).toBe('closed');
  });

  it('receive() calls made at once take distinct events, in call order; a timed-out one takes none', async () => {
    const scheduler = new VirtualTimeScheduler();
    const hub = new EventHub<string>(100, () => undefined);
    const first = hub.receive('closed', undefined, scheduler);
    const timedOut = hub.receive('closed', 10, scheduler);
    const second = hub.receive('closed', undefined, scheduler);
    const third = hub.receive('closed', 1000, scheduler);
    scheduler.maxFrames = 10;
    scheduler.flush(); // the 10 ms timeout passes, the 1000 ms one does not
    await expectAsync(timedOut).toBeRejectedWith(jasmine.objectContaining({ code: 'TIMEOUT' }));
    hub.emit('a');
    hub.emit('b');
    hub.emit('c');
    hub.emit('d');
    expect(await Promise.all([first, second, third])).toEqual(['a', 'b', 'c']);
    // With no receiver left, the next event is kept for whoever comes next.
    expect(hub.size).toBe(1);
    expect(await hub.receive('closed', undefined, scheduler)).toBe('d');
  });

  it('receive() calls waiting when the stream completes all resolve with closed', async () => {
    const scheduler = new VirtualTimeScheduler();
    const hub = new EventHub<string>(100, () => undefined);
    const waiting = [hub.receive('closed', undefined, scheduler), hub.receive('closed', undefined, scheduler)];
    hub.emit('last');
    hub.complete();
    expect(await Promise.all(waiting)).toEqual(['last', 'closed']);
  });

  it('a receive() whose timeout fires in the same synchronous flush after its event arrived keeps the event', async () => {
    const scheduler = new VirtualTimeScheduler();
    const hub = new EventHub<string>(100, () => undefined);
    const pending = hub.receive('closed', 5, scheduler);
    scheduler.schedule(() => hub.emit('in time'), 4); // then the timeout, before any promise callback runs
    scheduler.flush();
    expect(await pending).toBe('in time');
    expect(hub.size).toBe(0);
  });
});
