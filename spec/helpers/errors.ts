/** Test helper for failures: the NetError a call throws, checked for its code. Browser-safe. */
import { NetError, type NetErrorCode } from '../../lib/errors.js';

/** The `NetError` with `code` that `fn` throws; fails the spec when it throws something else or nothing. */
export function thrownNetError(fn: () => unknown, code: NetErrorCode): NetError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NetError);
    expect((error as NetError).code).toBe(code);
    return error as NetError;
  }
  throw new Error(`expected a ${code}`);
}

/** What `promise` rejects with; fails the spec when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}
