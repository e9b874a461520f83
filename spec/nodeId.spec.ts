import { nodeIdEquals, nodeIdKey, randomNodeId } from '../lib/nodeId.js';
import { NetError } from '../lib/errors.js';

describe('node ids', () => {
  it('are equal by value, like Rust Eq', () => {
    expect(nodeIdKey([1, 2])).toBe(nodeIdKey([1, 2]));
    expect(nodeIdEquals({ b: [1, 'x'], a: 2 }, { a: 2, b: [1, 'x'] })).toBeTrue();
    expect(nodeIdEquals('abc', 'abc')).toBeTrue();
    expect(nodeIdEquals(7, 7)).toBeTrue();
  });

  it('tell apart values whose encodings differ', () => {
    expect(nodeIdEquals(1, '1')).toBeFalse();
    expect(nodeIdEquals([1, 2], [2, 1])).toBeFalse();
    expect(nodeIdEquals('s1', 1)).toBeFalse();
    expect(nodeIdEquals(null, 0)).toBeFalse();
    expect(nodeIdEquals(1.5, 1)).toBeFalse();
    expect(nodeIdEquals([1], 1)).toBeFalse();
    expect(nodeIdEquals(2n ** 64n - 1n, 2n ** 64n - 2n)).toBeFalse();
  });

  it('treat a bigint a number holds exactly as that number, as it decodes', () => {
    expect(nodeIdEquals(5n, 5)).toBeTrue();
    expect(nodeIdEquals([2n ** 60n], [2n ** 60n])).toBeTrue();
  });

  it('throw SEND_ERROR for an id that cannot be encoded', () => {
    expect(() => nodeIdKey(new Map())).toThrowMatching((e) => e instanceof NetError && e.code === 'SEND_ERROR');
  });

  it('are random 128-bit values as 32 lower-case hex digits by default', () => {
    const ids = new Set(Array.from({ length: 100 }, () => randomNodeId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });
});
