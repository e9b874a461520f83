import { TestScheduler } from 'rxjs/testing';
import type { NetError } from '../../lib/errors.js';
import { FrameReader, readFrames, type ReadFramesConfig, type ReadFramesHost } from '../../lib/node/readFrames.js';
import { hex } from '../helpers/bytes.js';

function config(scheduler: TestScheduler): ReadFramesConfig {
  return { frames: { maxValueBytes: 1024, first: { maxValueBytes: 16 } }, idle: 100, scheduler };
}

function host(seen: { chunks: [number, number, number][] }): ReadFramesHost {
  return { remoteAddress: '10.0.0.1:7', onChunk: (length, objects, values) => seen.chunks.push([length, objects, values]) };
}

describe('readFrames (a connection read path)', () => {
  it('decodes frames split anywhere and reports each chunk: its length, objects and values', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const seen = { chunks: [] as [number, number, number][], failures: [] as unknown[] };
    const values: unknown[] = [];
    let completed = false;
    scheduler.run(({ cold }) => {
      cold('a-b-c|', { a: hex('92 c0 a1'), b: hex('61 91 90'), c: hex('07') })
        .pipe(readFrames(config(scheduler), host(seen)))
        .subscribe({ next: (value) => values.push(value), complete: () => (completed = true) });
    });
    expect(values).toEqual([[null, 'a'], [[]], 7]);
    expect(completed).toBeTrue();
    expect(seen.chunks).toEqual([
      [3, 1, 0],
      [3, 2, 2],
      [1, 0, 1],
    ]);
  });

  it('errors with TIMEOUT (idleTimeout) after idle ms without a chunk, re-armed lazily by each chunk', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const seen = { chunks: [] as [number, number, number][], failures: [] as unknown[] };
    scheduler.run(({ cold, expectSubscriptions }) => {
      const source = cold('50ms a 99ms b', { a: hex('01'), b: hex('02') });
      const error = (actual: unknown): boolean => (actual as NetError).code === 'TIMEOUT' && (actual as NetError).limit === 'idleTimeout';
      const values: unknown[] = [];
      const errors: unknown[] = [];
      source.pipe(readFrames(config(scheduler), host(seen))).subscribe({ next: (v) => values.push(v), error: (e) => errors.push(e) });
      expectSubscriptions(source.subscriptions).toBe('^ 249ms !'); // b at 150, then 100 ms of silence
      scheduler.flush();
      expect(values).toEqual([1, 2]);
      expect(errors.length).toBe(1);
      expect(error(errors[0])).toBeTrue();
    });
  });

  it('the first value has its own limits; a bad value is a READ_ERROR', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const seen = { chunks: [] as [number, number, number][], failures: [] as unknown[] };
    const errors: NetError[] = [];
    scheduler.run(({ cold }) => {
      cold('a|', { a: hex('d9 20') }) // a 32-byte string first: over the handshake's 16
        .pipe(readFrames(config(scheduler), host(seen)))
        .subscribe({ error: (e: NetError) => errors.push(e) });
    });
    expect(errors.map((e) => [e.code, e.limit])).toEqual([['READ_ERROR', 'maxValueBytes']]);
  });

  it('FrameReader (what a connection subscribes directly): frames, then one failure; nothing after it or after stop()', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const told: unknown[] = [];
    const sink = {
      remoteAddress: '10.0.0.1:7',
      onChunk: () => undefined,
      onFrame: (value: unknown) => told.push(value),
      onFramesError: (error: NetError) => told.push(error.code),
      onFramesEnd: () => told.push('end'),
    };
    scheduler.run(() => {
      const reader = new FrameReader(config(scheduler), sink);
      reader.next(hex('92 c0 a1 61 01 c1 02')); // the handshake, 1, then an invalid byte
      reader.next(hex('03'));
      reader.complete();
      const stopped = new FrameReader(config(scheduler), sink);
      stopped.next(hex('92 c0 a1 62'));
      stopped.stop();
      stopped.next(hex('04'));
      stopped.complete();
      scheduler.flush(); // a stopped reader's idle timer is gone: no TIMEOUT
    });
    expect(told).toEqual([[null, 'a'], 1, 'READ_ERROR', [null, 'b']]);
  });
});
