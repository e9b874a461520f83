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

describe('idleTimeout with a resolution', () => {
  it('restarts at most once per window, and never errors before `each` after the last value', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // values at 1, 2, 3; window 4: restarts at 1 (leading) and 5 (trailing, for 3) -> error at 5 + 6 = 11
      const source = cold('-abc------------|');
      expectObservable(source.pipe(idleTimeout({ each: 6, resolution: 4 }))).toBe('-abc-------#', undefined, netError('TIMEOUT'));
      expectSubscriptions(source.subscriptions).toBe('^----------!');
    });
  });

  it('mirrors a source that keeps talking', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-c-d-e-f-|').pipe(idleTimeout({ each: 3, resolution: 2 }))).toBe('-a-b-c-d-e-f-|');
    });
  });

  it('refuses a negative resolution', () => {
    expect(() => idleTimeout({ each: 1, resolution: -1 })).toThrowError(TypeError);
  });
});
