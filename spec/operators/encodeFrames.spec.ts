import { encodeFrames } from '../../lib/operators/encodeFrames.js';
import { decodeFrames } from '../../lib/operators/decodeFrames.js';
import { hex } from '../helpers/bytes.js';
import { netError, testScheduler } from '../helpers/marbles.js';

describe('encodeFrames', () => {
  it('encodes each value to its bytes', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-|', { a: [7, 1], b: 42 });
      expectObservable(source.pipe(encodeFrames())).toBe('-x-y-|', { x: hex('92 07 01'), y: hex('2a') });
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('errors with SEND_ERROR for a value it cannot carry, and unsubscribes', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-|', { a: 1, b: new Map() });
      expectObservable(source.pipe(encodeFrames())).toBe('-x-#', { x: hex('01') }, netError('SEND_ERROR'));
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('round-trips through decodeFrames', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const values = { a: { id: [1, 2], text: 'hé' }, b: [null, true, 1.5] };
      expectObservable(cold('ab|', values).pipe(encodeFrames(), decodeFrames())).toBe('ab|', values);
    });
  });
});
