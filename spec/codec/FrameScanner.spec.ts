import { FrameScanner } from '../../lib/codec/FrameScanner.js';
import { resolveDecodeLimits } from '../../lib/codec/limits.js';
import { hex } from '../helpers/bytes.js';

const scanner = (limits = {}): FrameScanner => new FrameScanner(resolveDecodeLimits(limits));

describe('FrameScanner', () => {
  it('scanAll finds where whole values end without decoding them, and leaves a cut-off one in progress', () => {
    const s = scanner();
    // 7, [1, "hi"], then the start of a 3-byte string
    const bytes = hex('07 92 01 a2 68 69 a3 61');
    const result = s.scanAll(bytes, 0, bytes.length, Number.MAX_SAFE_INTEGER);
    expect(result).toEqual({ end: 6, count: 2, int64: false, error: undefined });
    expect(s.inProgress).toBeTrue();
    expect(s.scan(hex('62 63'), 0, 2)).toBe(2); // the rest of the string completes it
  });

  it('scanAll stops after max values (the handshake, under its own limits)', () => {
    const bytes = hex('92 c0 01 02 03');
    expect(scanner().scanAll(bytes, 0, bytes.length, 1)).toEqual({ end: 3, count: 1, int64: false, error: undefined });
  });

  it('scanAll returns a bad value as an error after the whole values before it, instead of throwing', () => {
    const bytes = hex('01 02 c1 03');
    const result = scanner().scanAll(bytes, 0, bytes.length, Number.MAX_SAFE_INTEGER);
    expect(result.end).toBe(2);
    expect(result.count).toBe(2);
    expect(result.error?.code).toBe('READ_ERROR');
  });

  it('tells when a value holds an integer beyond 2^53 - 1 (the exact path)', () => {
    const small = hex('cf 00 1f ff ff ff ff ff ff');
    const big = hex('cf 00 20 00 00 00 00 00 00');
    expect(scanner().scanAll(small, 0, small.length, 9).int64).toBeFalse();
    expect(scanner().scanAll(big, 0, big.length, 9).int64).toBeTrue();
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
});
