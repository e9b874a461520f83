import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';
import type { NetError } from '../../lib/errors.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap kept by the values decoded from `bytes`, per byte on the wire (after a full GC). */
function heapPerWireByte(bytes: Uint8Array): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const values: unknown[] = [];
  new FrameDecoder({ maxValueBytes: bytes.length }).write(bytes, (value) => values.push(value));
  gc();
  const kept = process.memoryUsage().heapUsed - before;
  expect(values.length).toBe(1);
  return kept / bytes.length;
}

describe('the heap decoded values keep', () => {
  it('short ASCII strings of 13-16 bytes are flat strings: about 2x their bytes, not 4-10x (a cons string per character)', () => {
    for (const length of [12, 13, 16]) {
      // One array of 200,000 distinct strings of `length` ASCII characters, each a fixstr.
      const count = 200_000;
      const bytes = new Uint8Array(5 + count * (1 + length));
      bytes.set([0xdd, 0, count >> 16, (count >> 8) & 0xff, count & 0xff]);
      for (let i = 0, p = 5; i < count; i++) {
        bytes[p++] = 0xa0 | length;
        const text = i.toString(36).padStart(length, 'x');
        for (let k = 0; k < length; k++) bytes[p++] = text.charCodeAt(k);
      }
      // A flat one-byte string of 16 characters is 32 bytes of heap, its slot in the array 4-8: ~2.4x its 17 bytes on the wire.
      expect(heapPerWireByte(bytes)).withContext(`${length} characters`).toBeLessThan(3.5);
    }
  });

  it('nested headers each claiming a whole chunk of items are refused before their arrays are made: a 63 KB read costs no heap', () => {
    // 1000 arrays, each header claiming 60,000 items, then bytes that are never valid: the claims add up far
    // past the bytes and maxValueBytes, so nothing may allocate 60,000 slots a level (460 MiB) on their word.
    const levels = 1000;
    const claimed = 60_000;
    const bytes = new Uint8Array(3 * levels + claimed).fill(0xc1);
    for (let i = 0; i < levels; i++) bytes.set([0xdc, claimed >> 8, claimed & 0xff], 3 * i);
    gc();
    const before = process.memoryUsage().heapUsed;
    let error: NetError | undefined;
    try {
      new FrameDecoder().write(bytes, () => undefined);
    } catch (thrown) {
      error = thrown as NetError;
    }
    const grown = process.memoryUsage().heapUsed - before;
    expect([error?.code, error?.limit]).toEqual(['READ_ERROR', 'maxValueBytes']);
    expect(grown).toBeLessThan(32 * 1024 * 1024);
  });
});
