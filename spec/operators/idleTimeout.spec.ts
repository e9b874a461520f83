import { idleTimeout } from '../../lib/operators/idleTimeout.js';
import { netError, testScheduler } from '../helpers/marbles.js';

describe('idleTimeout', () => {
  it('mirrors a source that is never silent for that long', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a--b--c-|');
      expectObservable(source.pipe(idleTimeout(3))).toBe('-a--b--c-|');
      expectSubscriptions(source.subscriptions).toBe('^--------!');
    });
  });

  it('errors with TIMEOUT when silent for that long after a value, and unsubscribes the source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a--b-------c|');
      expectObservable(source.pipe(idleTimeout(5))).toBe('-a--b----#', undefined, netError('TIMEOUT', { limit: 'idleTimeout', max: 5 }));
      expectSubscriptions(source.subscriptions).toBe('^--------!');
    });
  });

  it('counts from subscription when nothing arrives', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('------a|');
      expectObservable(source.pipe(idleTimeout(4))).toBe('----#', undefined, netError('TIMEOUT'));
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('stops its timer when the source completes or errors', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a|').pipe(idleTimeout(2))).toBe('-a|');
      expectObservable(cold('-a#').pipe(idleTimeout(2))).toBe('-a#');
    });
  });

  it('cancels its timer when unsubscribed', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a------');
      expectObservable(source.pipe(idleTimeout(10)), '^--!').toBe('-a-');
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('takes a config with a scheduler and error context', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('---').pipe(idleTimeout({ each: 2, info: { address: '127.0.0.1:1' } }))).toBe(
        '--#',
        undefined,
        netError('TIMEOUT', { address: '127.0.0.1:1' }),
      );
    });
  });

  it('throws a TypeError for a bad duration when built', () => {
    expect(() => idleTimeout(0)).toThrowError(TypeError);
    expect(() => idleTimeout({ each: -1 })).toThrowError(TypeError);
  });
});

describe('idleTimeout, re-armed lazily', () => {
  it('errors exactly `each` after the last of many values', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // armed at 0 for 6; fires at 6, the last value was at 3: re-armed for 3 more; errors at 9
      const source = cold('-abc------------|');
      expectObservable(source.pipe(idleTimeout(6))).toBe('-abc-----#', undefined, netError('TIMEOUT'));
      expectSubscriptions(source.subscriptions).toBe('^--------!');
    });
  });

  it('never errors while the gaps stay under `each`, however long the source runs', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-c-d-e-f-g-h-i-|').pipe(idleTimeout(3))).toBe('-a-b-c-d-e-f-g-h-i-|');
    });
  });

  it('errors on the first gap longer than `each`, after a re-arm', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      // armed for 3 at 0; fires at 3 (a came at 2): re-armed for 2; errors at 5, before b
      expectObservable(cold('--a---b').pipe(idleTimeout(3))).toBe('--a--#', undefined, netError('TIMEOUT'));
    });
  });
});
