import { Observable, Subject } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { NetError } from '../../lib/errors.js';
import { link, type LifecycleEvent, type LinkEvent, type LinkHost, type LinkOptions } from '../../lib/node/link.js';
import { nodeIdKey } from '../../lib/nodeId.js';
import { netError, testScheduler } from '../helpers/marbles.js';

const refused = new NetError('CONNECTION_ERROR', 'refused', { address: 'peer:1' });

/**
 * A node as a link sees it, in virtual time: each attempt plays the next
 * marble of `attempts` (`c` = connected to 'peer', `#` = refused); the spec
 * drives losses and the closing through `lifecycle`.
 */
class FakeHost implements LinkHost<string> {
  readonly owner = {};
  readonly lifecycle = new Subject<LifecycleEvent>();
  readonly lifecycle$ = this.lifecycle.asObservable();
  readonly connected = new Set<string>();
  readonly disconnects: { id: string; at: number }[] = [];
  /** When each attempt began, and whether it was given up before it ended. */
  readonly attempts: { at: number; abandoned: boolean }[] = [];
  closing = false;

  constructor(
    public scheduler: TestScheduler,
    private readonly plan: readonly string[],
  ) {}

  connect(): Observable<string> {
    const marble = this.plan[Math.min(this.attempts.length, this.plan.length - 1)]!;
    const record = { at: this.scheduler.now(), abandoned: false };
    this.attempts.push(record);
    return new Observable<string>((subscriber) => {
      let settled = false;
      const inner = this.scheduler.createColdObservable(marble, { c: 'peer' }, refused).subscribe({
        next: (id) => {
          settled = true;
          this.connected.add(id);
          subscriber.next(id);
        },
        error: (error: unknown) => {
          settled = true;
          subscriber.error(error);
        },
      });
      return () => {
        if (!settled) record.abandoned = true;
        inner.unsubscribe();
      };
    });
  }

  disconnect(id: string): Promise<void> {
    this.disconnects.push({ id, at: this.scheduler.now() });
    this.connected.delete(id);
    return Promise.resolve();
  }

  isConnected(id: string): boolean {
    return this.connected.has(id);
  }

  isClosing(): boolean {
    return this.closing;
  }

  /** The peer's connection ends (as the node would report it). */
  lose(reason: 'remote-closed' | 'idle' | 'error' | 'replaced'): void {
    if (reason !== 'replaced') this.connected.delete('peer');
    this.lifecycle.next({ type: 'disconnected', key: nodeIdKey('peer'), reason });
  }
}

/** link() on a FakeHost (its scheduler is the TestScheduler), with no jitter and no settle time unless asked. */
function linkOn(host: FakeHost, options: LinkOptions = {}): Observable<LinkEvent<string>> {
  return link<string>(host, 'peer:1', { jitter: 0, settleTime: 0, ...options });
}

const connecting = (attempt: number): LinkEvent<string> => ({ state: 'connecting', attempt });
const connected: LinkEvent<string> = { state: 'connected', nodeId: 'peer' };
const failed = (retryIn: number): LinkEvent<string> => ({ state: 'disconnected', reason: 'error', error: refused, retryIn });
const lost = (reason: 'remote-closed' | 'idle', retryIn: number): LinkEvent<string> => ({ state: 'disconnected', reason, retryIn });

describe('link (marbles, virtual time)', () => {
  it('the backoff sequence: each failed attempt waits initialDelay * factor^(n-1), capped at maxDelay', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const host = new FakeHost(scheduler, ['#']);
      const source = linkOn(host, { initialDelay: 10, factor: 2, maxDelay: 40 });
      // Attempts at 0, 10, 30, 70, 110 (delays 10, 20, 40, 40); unsubscribed at 120.
      expectObservable(source, '^ 120ms !').toBe('(ab) 6ms (cd) 16ms (ef) 36ms (gh) 36ms (ij)', {
        a: connecting(1),
        b: failed(10),
        c: connecting(2),
        d: failed(20),
        e: connecting(3),
        f: failed(40),
        g: connecting(4),
        h: failed(40),
        i: connecting(5),
        j: failed(40),
      });
    });
  });

  it('jitter: each delay is drawn from [d * (1 - jitter), d] with the seeded random source, and the next attempt waits exactly that', () => {
    const scheduler = testScheduler();
    // A seeded generator (mulberry32): the same draws every run.
    let seed = 42;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const events: LinkEvent<string>[] = [];
    const times: number[] = [];
    scheduler.run(() => {
      const host = new FakeHost(scheduler, ['#']);
      const subscription = linkOn(host, { initialDelay: 100, factor: 2, maxDelay: 1000, jitter: 0.5, random }).subscribe((event) => {
        events.push(event);
        times.push(scheduler.now());
      });
      scheduler.schedule(() => subscription.unsubscribe(), 10_000);
    });
    const delays = events.flatMap((event) => (event.state === 'disconnected' ? [event.retryIn] : []));
    expect(delays.length).toBeGreaterThan(8);
    delays.forEach((delay, i) => {
      const d = Math.min(100 * 2 ** i, 1000);
      expect(delay).toBeGreaterThanOrEqual(d * 0.5);
      expect(delay).toBeLessThanOrEqual(d);
    });
    // Not all at one end of the range: the jitter is real.
    expect(new Set(delays.map((delay, i) => delay / Math.min(100 * 2 ** i, 1000))).size).toBe(delays.length);
    // Each attempt begins exactly retryIn after the failure before it.
    const attemptTimes = times.filter((_, i) => events[i]!.state === 'connecting');
    for (let i = 1; i < attemptTimes.length; i++) expect(attemptTimes[i]! - attemptTimes[i - 1]!).toBeCloseTo(delays[i - 1]!, 6);
  });

  it('maxAttempts: after that many failed attempts in a row, it errors with the last error (no disconnected for the last)', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const host = new FakeHost(scheduler, ['---#']);
      expectObservable(linkOn(host, { initialDelay: 10, maxAttempts: 3 })).toBe(
        'a 2ms b 9ms c 2ms d 19ms e 2ms #',
        { a: connecting(1), b: failed(10), c: connecting(2), d: failed(20), e: connecting(3) },
        netError('CONNECTION_ERROR'),
      );
    });
  });

  it('a connection resets the delay and the count: after it is lost, attempt 1 again, waiting initialDelay', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      // Two refusals, then connected after 5 ms; lost at 100; then refused again.
      const host = new FakeHost(scheduler, ['#', '#', '-----c', '#']);
      scheduler.schedule(() => host.lose('idle'), 100);
      expectObservable(linkOn(host, { initialDelay: 10, maxAttempts: 3 }), '^ 140ms !').toBe(
        '(ab) 6ms (cd) 16ms e 4ms f 64ms g 9ms (hi) 16ms (jk)',
        {
          a: connecting(1),
          b: failed(10),
          c: connecting(2),
          d: failed(20),
          e: connecting(3),
          f: connected,
          g: lost('idle', 10),
          h: connecting(1),
          i: failed(20),
          j: connecting(2),
          k: failed(40),
        },
      );
    });
  });

  it('unsubscribing closes the held connection gracefully (once), and gives up an attempt in flight', () => {
    const scheduler = testScheduler();
    const host = new FakeHost(scheduler, ['--c']);
    scheduler.run(({ expectObservable }) => {
      expectObservable(linkOn(host), '^ 9ms !').toBe('a 1ms b', { a: connecting(1), b: connected });
    });
    expect(host.disconnects).toEqual([{ id: 'peer', at: 10 }]);

    const fresh = testScheduler();
    const slow = new FakeHost(fresh, ['-----c']);
    fresh.run(({ expectObservable }) => {
      expectObservable(linkOn(slow), '^ 2ms !').toBe('a', { a: connecting(1) });
    });
    expect(slow.attempts).toEqual([{ at: 0, abandoned: true }]);
    expect(slow.disconnects).toEqual([]);
  });

  it("the node's closing completes the link: while connected, while connecting, and while waiting to retry", () => {
    for (const [plan, closeAt, expected] of [
      [['-c'], 5, 'a b 3ms |'],
      [['-----c'], 3, 'a 2ms |'],
      [['#'], 4, '(ab) |'],
    ] as const) {
      const scheduler = testScheduler();
      const host = new FakeHost(scheduler, plan);
      scheduler.run(({ expectObservable }) => {
        scheduler.schedule(() => {
          host.closing = true;
          host.lifecycle.next({ type: 'closing' });
        }, closeAt);
        expectObservable(linkOn(host, { initialDelay: 100 })).toBe(expected, {
          a: connecting(1),
          b: plan[0] === '#' ? failed(100) : connected,
        });
      });
      // The node closes its own connections: the link leaves them to it.
      expect(host.disconnects).toEqual([]);
    }
  });

  it('a duplicate connection that replaced the link’s counts as connected: no disconnected, no new attempt', () => {
    const scheduler = testScheduler();
    const host = new FakeHost(scheduler, ['c']);
    scheduler.run(({ expectObservable }) => {
      scheduler.schedule(() => host.lose('replaced'), 5);
      scheduler.schedule(() => host.lose('remote-closed'), 20);
      expectObservable(linkOn(host, { initialDelay: 10 }), '^ 35ms !').toBe('(ab) 16ms c 9ms (de)', {
        a: connecting(1),
        b: connected,
        c: lost('remote-closed', 10),
        d: connecting(1),
        e: connected,
      });
    });
    expect(host.attempts.length).toBe(2);
  });

  it('a second link to the same address from one node is refused with CONNECTION_ERROR; after the first ends, it is allowed', () => {
    const scheduler = testScheduler();
    const host = new FakeHost(scheduler, ['c']);
    scheduler.run(({ expectObservable }) => {
      expectObservable(linkOn(host), '^ 10ms !').toBe('(ab)', { a: connecting(1), b: connected });
      expectObservable(linkOn(host), '--^').toBe('--#', undefined, netError('CONNECTION_ERROR', { address: 'peer:1' }));
    });
    // After the first is unsubscribed, a new link to the address works (a fresh virtual clock, the same node).
    host.scheduler = testScheduler();
    host.scheduler.run(({ expectObservable }) => {
      expectObservable(linkOn(host), '^ 3ms !').toBe('(ab)', { a: connecting(1), b: connected });
    });
  });

  it('settleTime: connected only once the connection has held; one the peer ends sooner (a rejection) is a failed attempt, backing off', () => {
    const scheduler = testScheduler();
    const host = new FakeHost(scheduler, ['c']);
    scheduler.run(({ expectObservable }) => {
      scheduler.schedule(() => host.lose('remote-closed'), 10);
      scheduler.schedule(() => host.lose('remote-closed'), 30);
      const rejected = (retryIn: number): LinkEvent<string> => ({
        state: 'disconnected',
        reason: 'remote-closed',
        error: netError('CONNECTION_ERROR', { address: 'peer:1', nodeId: 'peer' }) as unknown as NetError,
        retryIn,
      });
      expectObservable(linkOn(host, { initialDelay: 10, settleTime: 50 }), '^ 110ms !').toBe('a 9ms b 9ms c 9ms d 19ms e 49ms f', {
        a: connecting(1),
        b: rejected(10),
        c: connecting(2),
        d: rejected(20),
        e: connecting(3),
        f: connected,
      });
    });
    expect(host.attempts.length).toBe(3);
  });
});
