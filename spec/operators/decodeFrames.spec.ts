import { of } from 'rxjs';
import { decodeFrames } from '../../lib/operators/decodeFrames.js';
import { hex } from '../helpers/bytes.js';
import { netError, testScheduler } from '../helpers/marbles.js';

describe('decodeFrames', () => {
  it('emits each value synchronously with the chunk that completes it', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b------|', { a: hex('92 07'), b: hex('01 2a') });
      expectObservable(source.pipe(decodeFrames())).toBe('---(xy)---|', { x: [7, 1], y: 42 });
      expectSubscriptions(source.subscriptions).toBe('^---------!');
    });
  });

  it('decodes values fed one byte at a time', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('abc|', { a: hex('92'), b: hex('c0'), c: hex('01') });
      expectObservable(source.pipe(decodeFrames())).toBe('--x|', { x: [null, 1] });
    });
  });

  it('errors with READ_ERROR when the source completes inside a value', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-|', { a: hex('92 07') });
      expectObservable(source.pipe(decodeFrames())).toBe('---#', undefined, netError('READ_ERROR'));
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('errors at a broken limit, after the values before it, and unsubscribes the source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a--b-|', { a: hex('01 db ff ff ff ff'), b: hex('02') });
      expectObservable(source.pipe(decodeFrames())).toBe('-(x#)', { x: 1 }, netError('READ_ERROR', { limit: 'maxStrLength' }));
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('passes the source error through', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Uint8Array>('-#', undefined, new Error('boom')).pipe(decodeFrames())).toBe('-#', undefined, new Error('boom'));
    });
  });

  it('keeps no state between subscriptions', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const decoded = cold('a|', { a: hex('92 01') }).pipe(decodeFrames());
      expectObservable(decoded).toBe('-#', undefined, netError('READ_ERROR'));
      expectObservable(decoded).toBe('-#', undefined, netError('READ_ERROR'));
    });
  });

  it('throws a TypeError for a bad limit when the operator is built', () => {
    expect(() => decodeFrames({ maxDepth: -1 })).toThrowError(TypeError);
    expect(() => decodeFrames({ first: { maxValueBytes: NaN } })).toThrowError(TypeError);
  });

  it('works outside of marbles, as in its doc example', () => {
    const values: unknown[] = [];
    of(Uint8Array.of(0x92, 0x07), Uint8Array.of(0x01, 0x2a))
      .pipe(decodeFrames({ maxValueBytes: 1024 }))
      .subscribe((value) => values.push(value));
    expect(values).toEqual([[7, 1], 42]);
  });
});
