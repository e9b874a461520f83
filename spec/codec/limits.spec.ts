import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';
import { resolveDecodeLimits } from '../../lib/codec/limits.js';
import {
  DEFAULT_MAX_ARRAY_LENGTH,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_MAP_LENGTH,
  DEFAULT_MAX_OBJECTS,
  DEFAULT_MAX_VALUE_BYTES,
} from '../../lib/defaults.js';
import { NetError } from '../../lib/errors.js';
import { concatBytes, hex, toHex } from '../helpers/bytes.js';
import { defaultExtensionCodec } from '../../lib/codec/defaultExtensionCodec.js';
import { encode } from '@msgpack/msgpack';

/** Feeds `bytes` and returns the READ_ERROR it raises; asserts nothing was emitted and nothing buffered beyond the header. */
function limitOf(bytes: Uint8Array, config: ConstructorParameters<typeof FrameDecoder>[0] = {}): NetError {
  const decoder = new FrameDecoder(config);
  const values: unknown[] = [];
  try {
    decoder.write(bytes, (v) => values.push(v));
  } catch (error) {
    expect(error).toBeInstanceOf(NetError);
    expect((error as NetError).code).toBe('READ_ERROR');
    expect(values).toEqual([]);
    return error as NetError;
  }
  throw new Error('expected a READ_ERROR');
}

describe('decode limits', () => {
  it('are on by default, with the documented values', () => {
    expect(resolveDecodeLimits()).toEqual({
      maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
      maxStrLength: DEFAULT_MAX_VALUE_BYTES,
      maxBinLength: DEFAULT_MAX_VALUE_BYTES,
      maxExtLength: DEFAULT_MAX_VALUE_BYTES,
      maxArrayLength: DEFAULT_MAX_ARRAY_LENGTH,
      maxMapLength: DEFAULT_MAX_MAP_LENGTH,
      maxDepth: DEFAULT_MAX_DEPTH,
      maxObjects: DEFAULT_MAX_OBJECTS,
    });
    expect(DEFAULT_MAX_VALUE_BYTES).toBeGreaterThanOrEqual(1024 * 1024);
    expect(DEFAULT_MAX_VALUE_BYTES).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(DEFAULT_MAX_ARRAY_LENGTH).toBeLessThanOrEqual(1_000_000);
    expect(DEFAULT_MAX_DEPTH).toBeLessThanOrEqual(1000);
  });

  it('reject a bad limit at construction with a TypeError', () => {
    expect(() => new FrameDecoder({ maxDepth: -1 })).toThrowError(TypeError);
    expect(() => new FrameDecoder({ maxValueBytes: 1.5 })).toThrowError(TypeError);
  });

  it('maxStrLength: a header claiming a 4 GiB string fails at the header', () => {
    const error = limitOf(hex('db ff ff ff ff'));
    expect(error.limit).toBe('maxStrLength');
    expect(error.actual).toBe(0xffffffff);
  });

  it('maxBinLength: a header claiming a 4 GiB binary fails at the header', () => {
    expect(limitOf(hex('c6 ff ff ff ff')).limit).toBe('maxBinLength');
  });

  it('maxExtLength: a header claiming a 4 GiB extension fails at the header', () => {
    expect(limitOf(hex('c9 ff ff ff ff 01')).limit).toBe('maxExtLength');
  });

  it('maxArrayLength: a header claiming 4 billion items fails at the header', () => {
    const error = limitOf(hex('dd ff ff ff ff'));
    expect(error.limit).toBe('maxArrayLength');
    expect(error.max).toBe(DEFAULT_MAX_ARRAY_LENGTH);
  });

  it('maxMapLength: a header claiming 4 billion entries fails at the header', () => {
    expect(limitOf(hex('df ff ff ff ff')).limit).toBe('maxMapLength');
  });

  it('maxDepth: nesting a million deep fails at the first level too deep', () => {
    const bytes = new Uint8Array(1_000_000).fill(0x91);
    const error = limitOf(bytes);
    expect(error.limit).toBe('maxDepth');
    expect(error.actual).toBe(DEFAULT_MAX_DEPTH + 1);
  });

  it('maxDepth: exactly the limit is fine', () => {
    const bytes = new Uint8Array(11).fill(0x91);
    bytes[10] = 0x01;
    const values: unknown[] = [];
    new FrameDecoder({ maxDepth: 10 }).write(bytes, (v) => values.push(v));
    expect(values.length).toBe(1);
    expect(limitOf(bytes, { maxDepth: 9 }).limit).toBe('maxDepth');
  });

  it('maxValueBytes: 0 refuses even a one-byte value (a fixint, nil, a boolean), whatever the path', () => {
    for (const extensionCodec of [undefined, defaultExtensionCodec]) {
      for (const bytes of [hex('01'), hex('ff'), hex('c0'), hex('c3')]) {
        const decoder = new FrameDecoder({ maxValueBytes: 0, first: { maxValueBytes: 10 }, ...(extensionCodec ? { extensionCodec } : {}) });
        decoder.write(hex('92 c0 01'), () => undefined); // the handshake, under its own limits
        let error: NetError | undefined;
        try {
          decoder.write(bytes, () => undefined);
        } catch (thrown) {
          error = thrown as NetError;
        }
        expect(error?.limit)
          .withContext(`${toHex(bytes)}, ${extensionCodec ? 'scanner first' : 'one pass'}`)
          .toBe('maxValueBytes');
      }
    }
  });

  it('maxValueBytes: a nested value of exactly the limit is fine, split anywhere; one byte over is refused', () => {
    // [[[...[1]...]]] and {0: {0: ... {0: 1}}}: every open container owes the item in progress, counted once.
    const nested = (depth: number, map: boolean): Uint8Array => {
      const bytes = new Uint8Array(depth * (map ? 2 : 1) + 1);
      for (let i = 0; i < depth; i++) bytes.set(map ? [0x81, 0x00] : [0x91], i * (map ? 2 : 1));
      bytes[bytes.length - 1] = 0x01;
      return bytes;
    };
    for (const map of [false, true]) {
      for (const depth of [1, 2, 3, 20, 500]) {
        const bytes = nested(depth, map);
        for (const cut of [0, 1, Math.floor(bytes.length / 2), bytes.length - 1]) {
          const values: unknown[] = [];
          const decoder = new FrameDecoder({ maxValueBytes: bytes.length });
          decoder.write(bytes.subarray(0, cut), (v) => values.push(v));
          decoder.write(bytes.subarray(cut), (v) => values.push(v));
          expect(values.length)
            .withContext(`${map ? 'maps' : 'arrays'} ${depth} deep, cut at ${cut}`)
            .toBe(1);
        }
        expect(limitOf(bytes, { maxValueBytes: bytes.length - 1 }).limit).toBe('maxValueBytes');
      }
    }
  });

  it('maxObjects: counts arrays, maps, binaries and extensions (empty ones too), not strings or scalars', () => {
    // 1 array + 3 objects inside = 4 > 3
    for (const bytes of [hex('94 90 80 c4 00 01'), hex('94 90 80 d4 01 00 01'), hex('94 91 90 90 01')]) {
      const error = limitOf(bytes, { maxObjects: 3 });
      expect(error.limit).toBe('maxObjects');
      expect(error.actual).toBe(4);
    }
    const values: unknown[] = [];
    new FrameDecoder({ maxObjects: 3 }).write(hex('94 90 80 a0 01 93 a1 61 a1 62 02'), (value) => values.push(value));
    expect(values).toEqual([
      [[], {}, '', 1],
      ['a', 'b', 2],
    ]);
  });

  it('maxObjects: map keys that V8 stores as array indices are charged by the element slots they allocate', () => {
    // {1000: nil, 2000: nil, 3000: nil} is 13 bytes, and ~23 KB of heap as a plain object.
    const sparse = hex('83 cd 03 e8 c0 cd 07 d0 c0 cd 0b b8 c0');
    const asStrings = hex('83 a4 31 30 30 30 c0 a4 32 30 30 30 c0 a4 33 30 30 30 c0');
    for (const map of [sparse, asStrings]) {
      const value = concatBytes(hex('dc 00 64'), ...Array.from({ length: 100 }, () => map)); // 100 such maps
      expect(limitOf(value, { maxObjects: 5000 }).limit).toBe('maxObjects');
    }
    // Dense keys in order, keys far apart (V8 keeps those in a dictionary), and non-index strings are cheap.
    const dense: Record<number, null> = {};
    for (let i = 0; i < 10_000; i++) dense[i] = null;
    const far = hex('83 ce 00 0f 42 40 c0 ce 00 1e 84 80 c0 ce 00 2d c6 c0 c0'); // 1e6, 2e6, 3e6
    for (const bytes of [encode(dense), far, hex('82 a3 30 31 32 c0 a2 2d 31 c0')]) {
      const values: unknown[] = [];
      new FrameDecoder({ maxObjects: 5000 }).write(bytes, (value) => values.push(value));
      expect(values.length).toBe(1);
    }
  });

  it('maxObjects: at the default limits, a 4 MiB value of maps that go dictionary then fast again is refused', () => {
    // Each map: key 1024 (a dictionary), 86 small keys (dense: back to a flat array), 2047 and 3321 (growth): 39 KiB of heap.
    const keys = [1024, ...Array.from({ length: 86 }, (_, i) => i), 2047, 3321];
    const map = [0xde, 0, keys.length];
    for (const k of keys) map.push(...(k < 128 ? [k] : [0xcd, k >> 8, k & 0xff]), 0xc0);
    const n = Math.floor((4 * 2 ** 20 - 5) / map.length);
    const value = new Uint8Array(5 + n * map.length);
    value.set([0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    for (let i = 0; i < n; i++) value.set(map, 5 + i * map.length);
    expect(limitOf(value).limit).toBe('maxObjects');
  });

  it('maxObjects: the budget is per value', () => {
    const values: unknown[] = [];
    const decoder = new FrameDecoder({ maxObjects: 2 });
    for (let i = 0; i < 100; i++) decoder.write(hex('91 90'), (value) => values.push(value));
    expect(values.length).toBe(100);
  });

  it('maxValueBytes: counts the whole value, bodies included when announced', () => {
    const error = limitOf(hex('92 a5 68 65'), { maxValueBytes: 6 }); // 1 + 1 + 5 bytes announced > 6
    expect(error.limit).toBe('maxValueBytes');
    expect(error.actual).toBe(7);
  });

  it('maxValueBytes: refuses containers whose items cannot fit, before they arrive', () => {
    // an array of 65535 items needs at least 65535 more bytes
    expect(limitOf(hex('dc ff ff'), { maxValueBytes: 1000 }).limit).toBe('maxValueBytes');
  });

  it('maxValueBytes: a value of exactly the limit is fine', () => {
    const values: unknown[] = [];
    new FrameDecoder({ maxValueBytes: 4 }).write(hex('93 01 02 03'), (v) => values.push(v));
    expect(values).toEqual([[1, 2, 3]]);
  });

  it('first: limits the first value (the handshake) on its own', () => {
    const decoder = new FrameDecoder({ first: { maxValueBytes: 3 } });
    const values: unknown[] = [];
    decoder.write(hex('92 07 01 a4 61 62 63 64'), (v) => values.push(v));
    expect(values).toEqual([[7, 1], 'abcd']);
    expect(limitOf(hex('92 a2 61 62'), { first: { maxValueBytes: 3 } }).limit).toBe('maxValueBytes');
  });

  it('first: applies when the first value arrives split', () => {
    const decoder = new FrameDecoder({ first: { maxStrLength: 2 } });
    decoder.write(hex('92'), () => undefined);
    expect(() => decoder.write(hex('a3'), () => undefined)).toThrowMatching((e) => (e as NetError).limit === 'maxStrLength');
  });

  it('checks a split length header when it is complete', () => {
    const decoder = new FrameDecoder({ maxStrLength: 10 });
    decoder.write(hex('db 00'), () => undefined);
    decoder.write(hex('00'), () => undefined);
    expect(() => decoder.write(hex('01 00'), () => undefined)).toThrowMatching((e) => (e as NetError).limit === 'maxStrLength');
  });
});
