import { SlabPool } from '../../lib/codec/SlabPool.js';

describe('SlabPool', () => {
  it('carves slabs one after another, and takes back the unused tail of the last one only', () => {
    const pool = new SlabPool();
    const first = pool.carve(1024);
    const second = pool.carve(2048);
    expect(second).toBe(first + 1024);
    pool.giveBack(pool.bytes, first + 10, first + 1024); // not the last carve: kept
    expect(pool.carve(16)).toBe(second + 2048);
    const last = pool.carve(4096);
    pool.giveBack(pool.bytes, last + 100, last + 4096); // the last carve: its tail comes back
    expect(pool.carve(8)).toBe(last + 100);
  });

  it('starts a fresh buffer when a slab no longer fits; a batch cut from the old one is never written again', () => {
    const pool = new SlabPool();
    const old = pool.bytes;
    let start = 0;
    for (let i = 0; i < 8; i++) start = pool.carve(SlabPool.MAX_SLAB);
    old.fill(7, start, start + 4);
    expect(pool.carve(SlabPool.MAX_SLAB)).toBe(0);
    expect(pool.bytes).not.toBe(old);
    expect(Array.from(old.subarray(start, start + 4))).toEqual([7, 7, 7, 7]);
  });
});
