import { TestScheduler } from 'rxjs/testing';
import type { NetError } from '../lib/errors.js';
import { readFrames, type ReadFramesConfig } from '../lib/readFrames.js';
import { hex } from './helpers/bytes.js';

function config(scheduler: TestScheduler, seen: { chunks: [number, number, number][]; failures: unknown[] }): ReadFramesConfig {
  return {
    frames: { maxValueBytes: 1024, first: { maxValueBytes: 16 } },
    idle: 100,
    scheduler,
    address: '10.0.0.1:7',
    onChunk: (length, objects, values) => seen.chunks.push([length, objects, values]),
    onFail: (error) => seen.failures.push(error),
  };
}

describe('readFrames (a connection read path)', () => {
  it('decodes frames split anywhere and reports each chunk: its length, objects and values', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const seen = { chunks: [] as [number, number, number][], failures: [] as unknown[] };
    const values: unknown[] = [];
    let completed = false;
    scheduler.run(({ cold }) => {
      cold('a-b-c|', { a: hex('92 c0 a1'), b: hex('61 91 90'), c: hex('07') })
        .pipe(readFrames(config(scheduler, seen)))
        .subscribe({ next: (value) => values.push(value), complete: () => (completed = true) });
    });
    expect(values).toEqual([[null, 'a'], [[]], 7]);
    expect(completed).toBeTrue();
    expect(seen.chunks).toEqual([
      [3, 1, 0],
      [3, 2, 2],
      [1, 0, 1],
    ]);
    expect(seen.failures).toEqual([]);
  });

  it('errors with TIMEOUT (idleTimeout) after idle ms without a chunk, re-armed lazily by each chunk', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const seen = { chunks: [] as [number, number, number][], failures: [] as unknown[] };
    scheduler.run(({ cold, expectSubscriptions }) => {
      const source = cold('50ms a 99ms b', { a: hex('01'), b: hex('02') });
      const error = (actual: unknown): boolean => (actual as NetError).code === 'TIMEOUT' && (actual as NetError).limit === 'idleTimeout';
      const values: unknown[] = [];
      const errors: unknown[] = [];
      source.pipe(readFrames(config(scheduler, seen))).subscribe({ next: (v) => values.push(v), error: (e) => errors.push(e) });
      expectSubscriptions(source.subscriptions).toBe('^ 249ms !'); // b at 150, then 100 ms of silence
      scheduler.flush();
      expect(values).toEqual([1, 2]);
      expect(errors.length).toBe(1);
      expect(error(errors[0])).toBeTrue();
    });
    expect(seen.failures.length).toBe(1);
  });

  it('the first value has its own limits; a bad value is a READ_ERROR told to onFail first', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const seen = { chunks: [] as [number, number, number][], failures: [] as unknown[] };
    const errors: NetError[] = [];
    scheduler.run(({ cold }) => {
      cold('a|', { a: hex('d9 20') }) // a 32-byte string first: over the handshake's 16
        .pipe(readFrames(config(scheduler, seen)))
        .subscribe({ error: (e: NetError) => errors.push(e) });
    });
    expect(errors.map((e) => [e.code, e.limit])).toEqual([['READ_ERROR', 'maxValueBytes']]);
    expect(seen.failures).toEqual(errors);
  });
});
