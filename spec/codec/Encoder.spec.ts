import { thrownNetError } from '../helpers/errors.js';
import { decode, ExtData } from '@msgpack/msgpack';
import { Encoder } from '../../lib/codec/Encoder.js';
import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';
import { NetError } from '../../lib/errors.js';
import { prng, toHex } from '../helpers/bytes.js';

function roundTrip(value: unknown): unknown {
  const values: unknown[] = [];
  const decoder = new FrameDecoder({ maxValueBytes: 64 * 1024 * 1024 });
  decoder.write(new Encoder({ maxValueBytes: 64 * 1024 * 1024 }).encode(value), (v) => values.push(v));
  decoder.end();
  return values[0];
}

function sendError(value: unknown, encoder = new Encoder()): NetError {
  return thrownNetError(() => encoder.append(value), 'SEND_ERROR');
}

describe('Encoder', () => {
  it('writes what rmp_serde writes', () => {
    const e = new Encoder();
    expect(toHex(e.encode([7, 1]))).toBe('92 07 01');
    expect(toHex(e.encode([null, 1]))).toBe('92 c0 01');
    expect(toHex(e.encode(2 ** 32))).toBe('cf 00 00 00 01 00 00 00 00');
    expect(toHex(e.encode(2n ** 32n))).toBe('cf 00 00 00 01 00 00 00 00');
    expect(toHex(e.encode('Hello world'))).toBe('ab 48 65 6c 6c 6f 20 77 6f 72 6c 64');
    expect(toHex(e.encode(-33))).toBe('d0 df');
    expect(toHex(e.encode(-129))).toBe('d1 ff 7f');
    expect(toHex(e.encode(-(2 ** 32)))).toBe('d3 ff ff ff ff 00 00 00 00');
    expect(toHex(e.encode(1.5))).toBe('cb 3f f8 00 00 00 00 00 00');
    expect(toHex(e.encode(Uint8Array.of(1, 2, 3)))).toBe('c4 03 01 02 03');
    expect(toHex(e.encode({ a: 1 }))).toBe('81 a1 61 01');
    expect(toHex(e.encode(undefined))).toBe('c0');
  });

  it('writes a bigint as a 64-bit integer', () => {
    const e = new Encoder();
    expect(toHex(e.encode(5n))).toBe('cf 00 00 00 00 00 00 00 05');
    expect(toHex(e.encode(-5n))).toBe('d3 ff ff ff ff ff ff ff fb');
    expect(roundTrip(2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
    expect(roundTrip(-(2n ** 63n))).toBe(-(2n ** 63n));
  });

  it('round-trips integers at every width boundary without rounding', () => {
    const edges = [
      0,
      127,
      128,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      Number.MAX_SAFE_INTEGER,
      -1,
      -32,
      -33,
      -128,
      -129,
      -32768,
      -32769,
      -(2 ** 31),
      -(2 ** 31) - 1,
      Number.MIN_SAFE_INTEGER,
    ];
    for (const n of edges) expect(roundTrip(n)).toBe(n);
  });

  it('round-trips strings at every header boundary, ASCII and not', () => {
    for (const length of [0, 31, 32, 63, 64, 255, 256, 65535, 65536, 100_000]) {
      const ascii = 'a'.repeat(length);
      expect(roundTrip(ascii)).toBe(ascii);
      const mixed = 'é€😀'.repeat(Math.ceil(length / 4)).slice(0, length);
      const safe = mixed.replace(/[\ud800-\udbff]$/, 'x'); // a cut surrogate pair
      expect(roundTrip(safe)).toBe(safe);
      expect(decode(new Encoder({ maxValueBytes: 1e9 }).encode(safe))).toBe(safe);
    }
  });

  it('round-trips binaries at every header boundary', () => {
    for (const length of [0, 255, 256, 65535, 65536]) {
      const data = new Uint8Array(length).map((_, i) => i & 0xff);
      expect(roundTrip(data)).toEqual(data);
    }
  });

  it('round-trips containers, dates and extensions', () => {
    const value = {
      list: Array.from({ length: 70000 }, (_, i) => i),
      nested: { a: [{ b: null }] },
      when: new Date(1234567),
      ext: new ExtData(7, Uint8Array.of(9)),
    };
    expect(roundTrip(value)).toEqual(value);
    const wide: Record<string, number> = {};
    for (let i = 0; i < 70000; i++) wide[`k${i}`] = i;
    expect(roundTrip(wide)).toEqual(wide);
  });

  it('batches values back to back and hands each batch out once', () => {
    const e = new Encoder();
    e.append(1);
    e.append('a');
    expect(e.length).toBe(3);
    const first = e.take();
    expect(toHex(first)).toBe('01 a1 61');
    e.append(2);
    expect(toHex(e.take())).toBe('02');
    expect(toHex(first)).toBe('01 a1 61'); // not overwritten
  });

  it('shares its slab pool between encoders without one ever writing over another', () => {
    // Many encoders appending and taking in a random order: small batches come from the shared
    // pool, growing ones move within it or out of it, and every batch taken must still hold
    // exactly its values when all are decoded at the end (after the pool was replaced many times).
    const random = prng(7);
    const encoders = Array.from({ length: 6 }, () => new Encoder());
    const pending: unknown[][] = encoders.map(() => []);
    const batches: { bytes: Uint8Array; values: unknown[] }[] = [];
    const value = (): unknown => {
      const kind = random();
      if (kind < 0.4) return Math.floor(random() * 70000);
      if (kind < 0.7) return 'x'.repeat(Math.floor(random() * 300));
      if (kind < 0.9) return { seq: batches.length, body: 'é'.repeat(Math.floor(random() * 40)) };
      return new Uint8Array(Math.floor(random() * 20000)).fill(batches.length & 0xff);
    };
    for (let step = 0; step < 4000; step++) {
      const i = Math.floor(random() * encoders.length);
      if (random() < 0.7) {
        const v = value();
        encoders[i]!.append(v);
        pending[i]!.push(v);
      } else {
        batches.push({ bytes: encoders[i]!.take(), values: pending[i]! });
        pending[i] = [];
      }
    }
    expect(batches.length).toBeGreaterThan(1000);
    for (const batch of batches) {
      const decoded: unknown[] = [];
      const decoder = new FrameDecoder();
      decoder.write(batch.bytes, (v) => decoded.push(v));
      expect(decoded).toEqual(batch.values);
    }
  });

  it('sorts map keys when asked (the canonical form)', () => {
    expect(toHex(new Encoder({ sortKeys: true }).encode({ b: 1, a: 2 }))).toBe('82 a1 61 02 a1 62 01');
  });

  describe('refuses what MessagePack cannot carry faithfully, with SEND_ERROR', () => {
    const cases: [string, unknown][] = [
      ['a function', () => 1],
      ['a symbol', Symbol('s')],
      ['a Map', new Map([[1, 2]])],
      ['a Set', new Set([1])],
      [
        'a class instance',
        new (class Point {
          x = 1;
        })(),
      ],
      ['a RegExp', /x/],
      ['an Int16Array', new Int16Array(2)],
      ['an invalid Date', new Date(NaN)],
      ['a bigint beyond 64 bits', 2n ** 64n],
      ['a bigint below -2^63', -(2n ** 63n) - 1n],
      ['a lone surrogate in a short string', 'a\ud800b'],
      ['a lone surrogate in a long string', 'x'.repeat(100) + '\udc00'],
      ['a nested function', { a: [1, { f: () => 1 }] }],
    ];
    for (const [name, value] of cases) {
      it(name, () => {
        sendError(value);
      });
    }

    it('a circular value, as nesting beyond maxDepth', () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      expect(sendError(circular).limit).toBe('maxDepth');
    });

    it('a value over maxValueBytes, checked before copying a large body', () => {
      const error = sendError(new Uint8Array(2000), new Encoder({ maxValueBytes: 1000 }));
      expect(error.limit).toBe('maxValueBytes');
      expect(sendError('x'.repeat(2000), new Encoder({ maxValueBytes: 1000 })).limit).toBe('maxValueBytes');
      expect(sendError([new Uint8Array(600), new Uint8Array(600)], new Encoder({ maxValueBytes: 1000 })).actual).toBeGreaterThan(1000);
    });

    it('and leaves the buffer as it was', () => {
      const e = new Encoder();
      e.append(1);
      sendError({ ok: 'x'.repeat(5000), bad: new Map() }, e);
      e.append(2);
      expect(toHex(e.take())).toBe('01 02');
    });
  });
});
