import { ElementsModel } from '../../lib/codec/ElementsModel.js';

/** Feeds `keys` to one map of a fresh model; returns the bytes charged in all. */
function charged(keys: number[]): number {
  const model = new ElementsModel();
  let bytes = 0;
  for (const key of keys) bytes += model.key(1, key);
  return bytes;
}

describe('ElementsModel (what V8 allocates for index keys)', () => {
  it('dense keys in order cost about 12 bytes a key (a flat array grown by half)', () => {
    const n = 10_000;
    const bytes = charged(Array.from({ length: n }, (_, i) => i));
    expect(bytes).toBeGreaterThanOrEqual(8 * n);
    expect(bytes).toBeLessThan(16 * n);
  });

  it('keys climbing in steps under 1024 cost the slots V8 allocates: {1000, 2000, 3000} about 24 KB', () => {
    expect(charged([1000, 2000, 3000])).toBeGreaterThanOrEqual(3000 * 8);
  });

  it('a key far beyond the capacity makes a dictionary: a dictionary entry, not the slots', () => {
    expect(charged([1_000_000])).toBe(96);
    expect(charged([1_000_000, 2_000_000, 3_000_000])).toBe(3 * 96);
  });

  it('a dictionary that fills up becomes a flat array again, and that is charged', () => {
    // 1024 makes a dictionary; 86 small keys make it dense enough for V8 to go back to max + 1 slots.
    const keys = [1024, ...Array.from({ length: 86 }, (_, i) => i), 2047, 3321];
    expect(charged(keys)).toBeGreaterThanOrEqual(3322 * 8);
  });

  it('an unknown key (split across reads) is charged as the costliest it could be', () => {
    expect(charged([Number.NaN])).toBeGreaterThanOrEqual(1023 * 8);
  });

  it('nested maps are counted apart, and a closed map is forgotten', () => {
    const model = new ElementsModel();
    expect(model.key(1, 0)).toBeGreaterThan(0); // the outer map, depth 1
    expect(model.key(2, 2000)).toBe(96); // an inner map of its own: far beyond capacity 0
    model.closed(1); // the inner map ended
    expect(model.key(1, 5)).toBe(0); // the outer map already has room for 5
    model.closed(0);
    expect(model.key(1, 5)).toBeGreaterThan(0); // a new map at depth 1 starts from nothing
  });
});
