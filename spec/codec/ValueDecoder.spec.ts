import { thrownNetError } from '../helpers/errors.js';
import { Decoder, ExtData, ExtensionCodec, encode } from '@msgpack/msgpack';
import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';
import { defaultExtensionCodec } from '../../lib/codec/defaultExtensionCodec.js';
import { NetError } from '../../lib/errors.js';
import { concatBytes, hex, prng } from '../helpers/bytes.js';
import { randomValues } from '../helpers/randomValues.js';

/** What `@msgpack/msgpack` decodes, with the contract's 64-bit rule (a number when exact): the reference. */
const reference = new Decoder({
  useBigInt64: true,
  extensionCodec: defaultExtensionCodec,
  mapKeyConverter: (key: unknown) => {
    if (typeof key === 'string' || typeof key === 'number') return key;
    if (typeof key === 'bigint') return Number.isSafeInteger(Number(key)) ? Number(key) : key.toString();
    throw new Error(`key ${typeof key}`);
  },
});

function exactInts(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (Array.isArray(value)) return value.map(exactInts);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = exactInts(item);
    return out;
  }
  return value;
}

/** A value with the class of every binary and extension spelt out, so `toEqual` compares those too (a `Buffer` is not a `Uint8Array`). */
function shape(value: unknown): unknown {
  if (value instanceof Uint8Array) return { class: value.constructor.name, bytes: Array.from(value) };
  if (value instanceof ExtData) return { class: 'ExtData', type: value.type, data: shape(value.data) };
  if (value instanceof Date) return { class: 'Date', ms: value.getTime() };
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === 'object') {
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, shape(item)]));
  }
  return value;
}

/** Node.js's Buffer; undefined in the browser (this spec also runs in Chromium). */
const NodeBuffer = (globalThis as { Buffer?: { from(buffer: ArrayBufferLike, offset: number, length: number): Uint8Array } }).Buffer;

function toHexList(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

function decodeOne(bytes: Uint8Array, decoder = new FrameDecoder({ maxValueBytes: 1 << 24 })): unknown {
  const values: unknown[] = [];
  decoder.write(bytes, (value) => values.push(value));
  expect(values.length).toBe(1);
  return values[0];
}

function readError(bytes: Uint8Array, decoder = new FrameDecoder()): NetError {
  return thrownNetError(() => decoder.write(bytes, () => undefined), 'READ_ERROR');
}

describe('ValueDecoder (through FrameDecoder)', () => {
  it('decodes 5,000 random values as @msgpack/msgpack does (every type and width, non-ASCII and astral text, many distinct keys, Buffer and Uint8Array input)', () => {
    const random = prng(15);
    const nextValue = randomValues(random);
    for (let i = 0; i < 5000; i++) {
      const item = nextValue();
      let bytes: Uint8Array = encode(item, { useBigInt64: true, extensionCodec: defaultExtensionCodec, forceFloat32: random() < 0.1 });
      // Node.js reads Buffers: a binary decoded from one is a view of the same class.
      if (NodeBuffer !== undefined && random() < 0.5) bytes = NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const expected = exactInts(reference.decode(bytes));
      expect(shape(decodeOne(bytes)))
        .withContext(`value ${i}`)
        .toEqual(shape(expected));
    }
  });

  it('the one-pass path (decode while checking) gives exactly what the scanner then the decoder give: 3,000 random streams under random limits, split at random, some corrupted', () => {
    const random = prng(1515);
    const int = (n: number): number => Math.floor(random() * n);
    const nextValue = randomValues(random, { maxItems: 12, maxLength: 40, maxDepth: 6 });
    const outcome = (decoder: FrameDecoder, chunks: Uint8Array[]): unknown => {
      const values: unknown[] = [];
      try {
        for (const chunk of chunks) decoder.write(chunk, (item) => values.push(shape(item)));
        decoder.end();
      } catch (error) {
        const netError = error as NetError;
        return { values, error: `${netError.code} ${netError.limit ?? ''}`, objects: decoder.objectsScanned };
      }
      return { values, objects: decoder.objectsScanned };
    };
    for (let i = 0; i < 3000; i++) {
      const stream = concatBytes(
        ...Array.from({ length: 1 + int(4) }, () => encode(nextValue(), { useBigInt64: true, extensionCodec: defaultExtensionCodec })),
      );
      if (random() < 0.15) stream[int(stream.length)] = int(256);
      const limits =
        random() < 0.4
          ? {}
          : {
              maxValueBytes: int(600),
              maxStrLength: int(70),
              maxBinLength: int(70),
              maxExtLength: int(20),
              maxArrayLength: int(14),
              maxMapLength: int(7),
              maxDepth: int(9),
              maxObjects: int(40),
            };
      const chunks: Uint8Array[] = [];
      for (let p = 0; p < stream.length;) {
        const q = Math.min(stream.length, p + 1 + int(random() < 0.5 ? 8 : stream.length));
        chunks.push(stream.subarray(p, q));
        p = q;
      }
      // An extension codec given explicitly turns the one-pass path off: the scanner, then the decoder.
      const reference = outcome(new FrameDecoder({ ...limits, extensionCodec: defaultExtensionCodec }), chunks);
      expect(outcome(new FrameDecoder(limits), chunks))
        .withContext(`stream ${i}: ${toHexList(Array.from(stream.subarray(0, 48)))} under ${JSON.stringify(limits)}`)
        .toEqual(reference);
    }
  });

  it('decodes 64-bit integers in every encoding as numbers when exact, bigints otherwise', () => {
    const cases: [string, unknown][] = [
      ['cf 00 00 00 00 00 00 00 07', 7],
      ['cf 00 1f ff ff ff ff ff ff', 2 ** 53 - 1],
      ['cf 00 20 00 00 00 00 00 00', 2n ** 53n],
      ['cf ff ff ff ff ff ff ff ff', 2n ** 64n - 1n],
      ['d3 00 00 00 00 00 00 00 07', 7],
      ['d3 ff ff ff ff ff ff ff ff', -1],
      ['d3 ff e0 00 00 00 00 00 01', -(2 ** 53 - 1)],
      ['d3 ff e0 00 00 00 00 00 00', -(2n ** 53n)],
      ['d3 80 00 00 00 00 00 00 00', -(2n ** 63n)],
      ['d3 7f ff ff ff ff ff ff ff', 2n ** 63n - 1n],
      ['d2 80 00 00 00', -(2 ** 31)],
      ['ce ff ff ff ff', 2 ** 32 - 1],
      ['81 cf ff ff ff ff ff ff ff ff 01', { '18446744073709551615': 1 }],
      ['81 d3 ff ff ff ff ff ff ff fe 01', { '-2': 1 }],
    ];
    for (const [bytes, expected] of cases)
      expect(decodeOne(hex(bytes)))
        .withContext(bytes)
        .toEqual(expected);
  });

  it('refuses a string that is not valid UTF-8, short or long, value or key (a lone surrogate as a lenient encoder writes it too)', () => {
    const loneSurrogate = encode('a\ud800b');
    expect(readError(loneSurrogate).message).toContain('not valid UTF-8');
    readError(hex('a2 c3 28'));
    readError(hex('a1 80'));
    readError(concatBytes(hex('d9 40'), new Uint8Array(63).fill(0x61), hex('ff')));
    readError(hex('81 a2 c3 28 01'));
    readError(hex('81 d9 02 c3 28 01'));
    readError(concatBytes(hex('81 d9 30'), new Uint8Array(47).fill(0x61), hex('ff 01')));
    // An invalid key is not cached: the same bytes fail again, and a valid key of the same length decodes.
    readError(hex('81 a2 c3 28 01'));
    expect(decodeOne(hex('81 a2 c3 a9 01'))).toEqual({ é: 1 });
  });

  it('decodes short strings exactly as TextDecoder with fatal does: every lead byte, every boundary of the second, third and fourth', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    const edges = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    const tails = [0x7f, 0x80, 0xbf, 0xc0];
    const decoder = new FrameDecoder();
    let checked = 0;
    const check = (text: number[]): void => {
      const bytes = Uint8Array.from([0xa0 | text.length, ...text]);
      let expected: string | undefined;
      try {
        expected = strict.decode(Uint8Array.from(text));
      } catch {
        expected = undefined;
      }
      let actual: unknown;
      try {
        decoder.write(bytes, (value) => (actual = value));
      } catch (error) {
        if (!(error instanceof NetError) || error.code !== 'READ_ERROR') throw error;
        actual = undefined;
      }
      checked++;
      if (actual !== expected) expect(actual).withContext(toHexList(text)).toBe(expected);
    };
    for (let lead = 0x80; lead <= 0xff; lead++) {
      for (const second of edges) {
        for (const prefix of [[], [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c]]) {
          check([...prefix, lead, second]);
          for (const third of tails) {
            check([...prefix, lead, second, third]);
            for (const fourth of tails) check([...prefix, lead, second, third, fourth]);
          }
        }
        check([lead]);
      }
    }
    expect(checked).toBeGreaterThan(50_000);
  });

  it('refuses map keys that are not strings or numbers, and __proto__ in every string encoding', () => {
    for (const keyBytes of ['c0', 'c2', 'c3', 'c4 01 00', '90', '80', 'd4 05 00', 'd6 ff 00 00 00 00']) {
      expect(readError(hex(`81 ${keyBytes} 01`)).message)
        .withContext(keyBytes)
        .toContain('map key');
    }
    const proto = '5f 5f 70 72 6f 74 6f 5f 5f';
    for (const header of ['a9', 'd9 09', 'da 00 09', 'db 00 00 00 09']) {
      expect(readError(hex(`81 ${header} ${proto} 01`)).message)
        .withContext(header)
        .toContain('__proto__');
    }
  });

  it('caches keys by their bytes: 20,000 distinct keys through a 1,024-slot cache all decode to themselves', () => {
    const decoder = new FrameDecoder();
    for (let i = 0; i < 20_000; i++) {
      const key = `k${(i * 7919) % 100_000}`.slice(0, 1 + (i % 16));
      const map = { [key]: i };
      expect(decodeOne(encode(map), decoder)).toEqual(map);
    }
  });

  it('lets a handler between two values of one read decode other values (no state kept between values)', () => {
    const outer = new FrameDecoder();
    const inner = new FrameDecoder();
    const seen: unknown[] = [];
    outer.write(concatBytes(encode({ a: [1, 'x'] }), encode({ b: 2 }), encode('three')), (value) => {
      seen.push(value);
      inner.write(encode({ other: ['value', 9] }), (nested) => seen.push(nested));
    });
    expect(seen).toEqual([{ a: [1, 'x'] }, { other: ['value', 9] }, { b: 2 }, { other: ['value', 9] }, 'three', { other: ['value', 9] }]);
  });

  it('an extension codec that throws anything (an Error, a NetError of another code, an object with no toString) is a READ_ERROR with it as the cause', () => {
    const thrown: unknown[] = [new Error('no such thing'), new NetError('SEND_ERROR', 'not mine'), Object.create(null), 7];
    for (const value of thrown) {
      const failing = new ExtensionCodec();
      failing.register({
        type: 9,
        encode: () => null,
        decode: () => {
          throw value;
        },
      });
      const error = readError(hex('92 01 d4 09 00'), new FrameDecoder({ extensionCodec: failing }));
      expect(error.message).toContain('extension type 9');
      expect(error.cause).toBe(value);
    }
  });

  it('an extension codec may decode its payload with another FrameDecoder; writing to the same one from inside its write is refused, not misread', () => {
    const nesting = new ExtensionCodec();
    const inner = new FrameDecoder();
    nesting.register({ type: 3, encode: () => null, decode: (data) => decodeOne(data, inner) });
    const outer = new FrameDecoder({ extensionCodec: nesting });
    // The chunk ends inside the next value's header: the scanner holds that value while the codec runs.
    const values: unknown[] = [];
    outer.write(hex('93 01 d5 03 a1 7a a1 79 92 01 d9'), (value) => values.push(value));
    outer.write(hex('01 71'), (value) => values.push(value));
    expect(values).toEqual([
      [1, 'z', 'y'],
      [1, 'q'],
    ]);

    const selfish = new ExtensionCodec();
    const same: FrameDecoder = new FrameDecoder({ extensionCodec: selfish });
    selfish.register({ type: 3, encode: () => null, decode: (data) => decodeOne(data, same) });
    const error = readError(hex('93 01 d5 03 a1 7a a1 79 92 01 d9'), same);
    expect(error.cause).toBeInstanceOf(TypeError);
    expect((error.cause as TypeError).message).toContain('inside its own write');
    // From an emit callback: a TypeError, and the decoder reads on from the next write.
    const emitting = new FrameDecoder();
    expect(() => emitting.write(hex('01 02'), () => emitting.write(hex('03'), () => undefined))).toThrowError(
      TypeError,
      /inside its own write/,
    );
    expect(decodeOne(hex('81 a1 61 01'), emitting)).toEqual({ a: 1 });
  });

  it('after a bad value the next write starts a new value (a decoder fed one value per write recovers)', () => {
    const decoder = new FrameDecoder({ maxObjects: 3 });
    readError(hex('94 90 90 90 90'), decoder);
    expect(decodeOne(hex('92 01 02'), decoder)).toEqual([1, 2]);
    readError(hex('92 01 c1'), decoder);
    expect(decodeOne(hex('a2 6f 6b'), decoder)).toBe('ok');
  });

  it('a value nested deeper than the call stack allows, under a raised maxDepth, is a READ_ERROR, not a crash', () => {
    const depth = 2_000_000;
    const limits = { maxDepth: depth + 1, maxObjects: depth + 1, maxValueBytes: depth + 1 };
    const error = readError(concatBytes(new Uint8Array(depth).fill(0x91), hex('01')), new FrameDecoder(limits));
    expect(error.message).toContain('nested too deeply');
    expect(decodeOne(hex('91 91 01'), new FrameDecoder(limits))).toEqual([[1]]);
  });
});
