import { FrameScanner } from '../../lib/codec/FrameScanner.js';
import { resolveDecodeLimits } from '../../lib/codec/limits.js';
import { Encoder } from '../../lib/codec/Encoder.js';
import { hex, prng } from '../helpers/bytes.js';
import { randomValues } from '../helpers/randomValues.js';

const scanner = (limits = {}): FrameScanner => new FrameScanner(resolveDecodeLimits(limits));

describe('FrameScanner', () => {
  it('scanAll finds where whole values end without decoding them, and leaves a cut-off one in progress', () => {
    const s = scanner();
    // 7, [1, "hi"], then the start of a 3-byte string
    const bytes = hex('07 92 01 a2 68 69 a3 61');
    const result = s.scanAll(bytes, 0, bytes.length, Number.MAX_SAFE_INTEGER);
    expect(result).toEqual({ end: 6, count: 2, error: undefined });
    expect(s.inProgress).toBeTrue();
    expect(s.scan(hex('62 63'), 0, 2)).toBe(2); // the rest of the string completes it
  });

  it('scanAll stops after max values (the handshake, under its own limits)', () => {
    const bytes = hex('92 c0 01 02 03');
    expect(scanner().scanAll(bytes, 0, bytes.length, 1)).toEqual({ end: 3, count: 1, error: undefined });
  });

  it('scanAll returns a bad value as an error after the whole values before it, instead of throwing', () => {
    const bytes = hex('01 02 c1 03');
    const result = scanner().scanAll(bytes, 0, bytes.length, Number.MAX_SAFE_INTEGER);
    expect(result.end).toBe(2);
    expect(result.count).toBe(2);
    expect(result.error?.code).toBe('READ_ERROR');
  });

  it('completes a header split across calls (a str32 length in two parts) and checks its limit then', () => {
    const s = scanner({ maxStrLength: 10 });
    expect(s.scan(hex('db 00 00'), 0, 3)).toBe(-1);
    expect(() => s.scan(hex('00 0b'), 0, 2)).toThrowMatching((error: { limit?: string }) => error.limit === 'maxStrLength');
  });

  it('counts objects per value and in total; trim() after a value keeps the counts right', () => {
    const s = scanner();
    const bytes = hex('92 90 80 91 c4 00');
    s.scanAll(bytes, 0, bytes.length, Number.MAX_SAFE_INTEGER);
    expect(s.objectsTotal).toBe(5); // [ [], {} ], [ bin ]
    s.trim();
    s.scanAll(hex('90'), 0, 1, 1);
    expect(s.objectsTotal).toBe(6);
  });

  it('the fast path for whole values agrees with the general scan on every value and limit (10,000 random values)', () => {
    const random = prng(7);
    const nextValue = randomValues(random);
    const encoder = new Encoder({ maxValueBytes: 1 << 24, maxDepth: 100 });
    for (let i = 0; i < 10_000; i++) {
      const bytes = encoder.encode(nextValue());
      const limits = resolveDecodeLimits(
        random() < 0.5
          ? {}
          : {
              maxValueBytes: Math.floor(random() * 2000),
              maxStrLength: Math.floor(random() * 300),
              maxBinLength: Math.floor(random() * 300),
              maxExtLength: Math.floor(random() * 20),
              maxArrayLength: Math.floor(random() * 20),
              maxMapLength: Math.floor(random() * 10),
              maxDepth: Math.floor(random() * 8),
              maxObjects: Math.floor(random() * 30),
            },
      );
      // The general path alone: scan() never takes the fast path.
      const general = new FrameScanner(limits);
      let expected: { end: number; objects: number } | string;
      try {
        const end = general.scan(bytes, 0, bytes.length);
        expected = { end, objects: general.objectsTotal };
      } catch (error) {
        expected = (error as { limit?: string }).limit ?? 'error';
      }
      const fast = new FrameScanner(limits);
      const result = fast.scanAll(bytes, 0, bytes.length, 1);
      const actual = result.error ? (result.error.limit ?? 'error') : { end: result.end, objects: fast.objectsTotal };
      expect(actual)
        .withContext(`value ${i}: ${Array.from(bytes.subarray(0, 40), (b) => b.toString(16).padStart(2, '0')).join(' ')}`)
        .toEqual(expected);
    }
  });
});
