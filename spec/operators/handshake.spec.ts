import { Subject } from 'rxjs';
import { handshake, type Handshake } from '../../lib/operators/handshake.js';
import type { StandardSchemaV1 } from '../../lib/validate.js';
import { netError, testScheduler } from '../helpers/marbles.js';

const isString = (value: unknown): value is string => typeof value === 'string';

/** A Standard Schema validator for numbers, as zod or valibot would provide. */
const numberSchema: StandardSchemaV1<number> = {
  '~standard': {
    version: 1,
    vendor: 'spec',
    validate: (value) => (typeof value === 'number' ? { value } : { issues: [{ message: 'not a number' }] }),
  },
};

describe('handshake', () => {
  it('emits one request from the first value, carrying the rest as messages', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-h-a-b-|', { h: ['init', 'peer'], a: 1, b: 2 });
      const result = source.pipe(handshake());
      expectObservable(result).toBe('-r-----|', {
        r: jasmine.objectContaining({ initMessage: 'init', nodeId: 'peer' }) as unknown as Handshake,
      });
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
  });

  it('replays the messages kept before the subscription, then goes live', () => {
    const source = new Subject<unknown>();
    const seen: unknown[] = [];
    let request: Handshake | undefined;
    source.pipe(handshake()).subscribe((value) => (request = value));
    source.next([null, 'p']);
    source.next('a');
    source.next('b');
    request!.messages.subscribe({ next: (m) => seen.push(m), complete: () => seen.push('done') });
    source.next('c');
    source.complete();
    expect(seen).toEqual(['a', 'b', 'c', 'done']);
  });

  it('errors with READ_ERROR for a first value that is not [init, id]', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      for (const bad of [42, [1], [1, 2, 3], { init: 1, id: 2 }, 'GET / HTTP/1.1']) {
        const source = cold('-h-a|', { h: bad, a: 1 });
        expectObservable(source.pipe(handshake())).toBe('-#', undefined, netError('READ_ERROR'));
        expectSubscriptions(source.subscriptions).toBe('^!');
      }
    });
  });

  it('checks the id and init with type guards and Standard Schema validators', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const config = { validateNodeId: isString, validateInit: numberSchema };
      expectObservable(cold('h|', { h: [1, 'ok'] }).pipe(handshake(config))).toBe('r|', {
        r: jasmine.objectContaining({ nodeId: 'ok', initMessage: 1 }) as unknown as Handshake,
      });
      expectObservable(cold('h|', { h: [1, 2] }).pipe(handshake(config))).toBe('#', undefined, netError('READ_ERROR'));
      expectObservable(cold('h|', { h: ['x', 'ok'] }).pipe(handshake(config))).toBe('#', undefined, netError('READ_ERROR'));
    });
  });

  it('errors with TIMEOUT when no handshake arrives in time', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-----h|', { h: [0, 0] });
      expectObservable(source.pipe(handshake({ timeout: 3 }))).toBe('---#', undefined, netError('TIMEOUT', { limit: 'handshakeTimeout' }));
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('errors with CONNECTION_ERROR when the source ends before the handshake', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('--|').pipe(handshake())).toBe('--#', undefined, netError('CONNECTION_ERROR'));
    });
  });

  it('errors with READ_ERROR (maxPending) when too many messages wait, and ends the messages with it', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('habc|', { h: [0, 0], a: 1, b: 2, c: 3 });
      expectObservable(source.pipe(handshake({ maxPending: 2 }))).toBe(
        'r--#',
        { r: jasmine.any(Object) as unknown as Handshake },
        netError('READ_ERROR', { limit: 'maxPending' }),
      );
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('delivers a later source error to messages and completes itself', () => {
    const source = new Subject<unknown>();
    let request: Handshake | undefined;
    let completed = false;
    source.pipe(handshake()).subscribe({ next: (value) => (request = value), complete: () => (completed = true) });
    source.next([0, 0]);
    source.error(new Error('reset'));
    expect(completed).toBeTrue();
    let error: unknown;
    request!.messages.subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toEqual(new Error('reset'));
  });

  it('allows one messages subscriber only', () => {
    const source = new Subject<unknown>();
    let request: Handshake | undefined;
    source.pipe(handshake()).subscribe((value) => (request = value));
    source.next([0, 0]);
    request!.messages.subscribe();
    let error: unknown;
    request!.messages.subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toBeInstanceOf(TypeError);
  });

  it('completes the messages when unsubscribed', () => {
    const source = new Subject<unknown>();
    let request: Handshake | undefined;
    const subscription = source.pipe(handshake()).subscribe((value) => (request = value));
    source.next([0, 0]);
    let completed = false;
    request!.messages.subscribe({ complete: () => (completed = true) });
    subscription.unsubscribe();
    expect(completed).toBeTrue();
    expect(source.observed).toBeFalse();
  });

  it('throws a TypeError for bad config when built', () => {
    expect(() => handshake({ timeout: 0 })).toThrowError(TypeError);
    expect(() => handshake({ validateInit: 5 as unknown as typeof isString })).toThrowError(TypeError);
  });
});

describe('handshake accept() and reject()', () => {
  it('accept() gives the messages; reject() drops them and stops reading the source', () => {
    const accepted = new Subject<unknown>();
    const seen: unknown[] = [];
    accepted.pipe(handshake()).subscribe((request) => request.accept().subscribe((m) => seen.push(m)));
    accepted.next([0, 'a']);
    accepted.next('hello');
    expect(seen).toEqual(['hello']);

    const rejected = new Subject<unknown>();
    let completed = false;
    rejected.pipe(handshake()).subscribe({ next: (request) => request.reject(), complete: () => (completed = true) });
    rejected.next([0, 'b']);
    expect(completed).toBeTrue();
    expect(rejected.observed).toBeFalse();
  });
});
