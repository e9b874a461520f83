import { NET_ERROR_CODES, NetError, isNetError, limitError, toNetError } from '../lib/errors.js';

describe('NetError', () => {
  it('has a stable code, a cause and context', () => {
    const cause = new Error('ECONNRESET');
    const error = new NetError('CONNECTION_ABORTED', 'reset by 127.0.0.1:1', { cause, nodeId: [1, 2], address: '127.0.0.1:1' });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('NetError');
    expect(error.code).toBe('CONNECTION_ABORTED');
    expect(error.cause).toBe(cause);
    expect(error.nodeId).toEqual([1, 2]);
    expect(error.address).toBe('127.0.0.1:1');
    expect(isNetError(error, 'CONNECTION_ABORTED')).toBeTrue();
    expect(isNetError(error, 'TIMEOUT')).toBeFalse();
    expect(isNetError(cause)).toBeFalse();
  });

  it('covers the crate codes, TIMEOUT and the Rpc codes', () => {
    expect([...NET_ERROR_CODES].sort() as string[]).toEqual(
      [
        'ALREADY_CLOSED',
        'OPEN_ERROR',
        'CONNECTION_ERROR',
        'SEND_ERROR',
        'READ_ERROR',
        'NOT_CONNECTED',
        'CONNECTION_ABORTED',
        'CLOSE_ERROR',
        'TIMEOUT',
        'REMOTE_ERROR',
        'BUSY',
        'DISCOVERY_ERROR',
      ].sort(),
    );
  });

  it('names the broken limit', () => {
    const error = limitError('maxDepth', 10, 11, 'nesting depth');
    expect(error.code).toBe('READ_ERROR');
    expect([error.limit, error.max, error.actual]).toEqual(['maxDepth', 10, 11]);
  });

  it('wraps foreign errors with cause and keeps NetErrors', () => {
    const foreign = new RangeError('x');
    const wrapped = toNetError(foreign, 'READ_ERROR', 'bad');
    expect(wrapped.cause).toBe(foreign);
    expect(toNetError(wrapped, 'SEND_ERROR', 'other')).toBe(wrapped);
  });

  it('wraps a thrown value that cannot be printed (no toString, or one that throws) instead of throwing itself', () => {
    const unprintable: unknown[] = [
      Object.create(null),
      {
        toString: () => {
          throw new Error('no');
        },
      },
    ];
    for (const thrown of unprintable) {
      const wrapped = toNetError(thrown, 'READ_ERROR', 'bad');
      expect(wrapped.code).toBe('READ_ERROR');
      expect(wrapped.message).toBe('bad: a value that cannot be printed');
      expect(wrapped.cause).toBe(thrown);
    }
  });
});
