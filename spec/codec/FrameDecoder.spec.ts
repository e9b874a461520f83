import { thrownNetError } from '../helpers/errors.js';
import { encode } from '@msgpack/msgpack';
import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';
import { NetError } from '../../lib/errors.js';
import { concatBytes, hex, splits } from '../helpers/bytes.js';

/** Bytes as the Rust crate's codec (rmp_serde) writes them, and what they decode to. */
const RUST_FIXTURES: [string, string, unknown][] = [
  ['handshake init=7, id=1', '92 07 01', [7, 1]],
  ['handshake without init (unit is nil)', '92 c0 01', [null, 1]],
  ['u64 2^32', 'cf 00 00 00 01 00 00 00 00', 2 ** 32],
  ['u64 2^53 - 1 (largest safe)', 'cf 00 1f ff ff ff ff ff ff', Number.MAX_SAFE_INTEGER],
  ['u64 2^53 (first unsafe)', 'cf 00 20 00 00 00 00 00 00', 2n ** 53n],
  ['u64 max', 'cf ff ff ff ff ff ff ff ff', 2n ** 64n - 1n],
  ['i64 min', 'd3 80 00 00 00 00 00 00 00', -(2n ** 63n)],
  ['i64 -2^32', 'd3 ff ff ff ff 00 00 00 00', -(2 ** 32)],
  ['String "Hello world"', 'ab 48 65 6c 6c 6f 20 77 6f 72 6c 64', 'Hello world'],
  ['(u64, u64) id', '92 01 02', [1, 2]],
  ['struct as array {seq: 1, body: "hi"}', '92 01 a2 68 69', [1, 'hi']],
  ['Option None', 'c0', null],
  ['Vec<u8> (serde writes an array)', '93 01 02 03', [1, 2, 3]],
  ['f64 1.5', 'cb 3f f8 00 00 00 00 00 00', 1.5],
  ['f32 0.5', 'ca 3f 00 00 00', 0.5],
  ['bool', 'c3', true],
  ['i8 -33', 'd0 df', -33],
  ['i16 -129', 'd1 ff 7f', -129],
  ['negative fixint -1', 'ff', -1],
  ['u16 300', 'cd 01 2c', 300],
  ['u32 70000', 'ce 00 01 11 70', 70000],
  ['map {"a": 1}', '81 a1 61 01', { a: 1 }],
  ['bin8', 'c4 03 01 02 03', Uint8Array.of(1, 2, 3)],
  ['empty array and map', '92 90 80', [[], {}]],
  ['str8', 'd9 20 ' + '61 '.repeat(32), 'a'.repeat(32)],
  ['nested', '92 92 01 92 02 93 03 04 05 81 a1 6b 90', [[1, [2, [3, 4, 5]]], { k: [] }]],
];

function decodeAll(chunks: Uint8Array[], decoder = new FrameDecoder()): unknown[] {
  const values: unknown[] = [];
  for (const chunk of chunks) decoder.write(chunk, (value) => values.push(value));
  decoder.end();
  return values;
}

function readError(fn: () => unknown): NetError {
  return thrownNetError(fn, 'READ_ERROR');
}

describe('FrameDecoder', () => {
  for (const [name, bytes, expected] of RUST_FIXTURES) {
    it(`decodes ${name} split at every byte and one byte at a time`, () => {
      for (const chunks of splits(hex(bytes))) expect(decodeAll(chunks)).toEqual([expected]);
    });
  }

  it('decodes every fixture back to back in one stream, however it is cut', () => {
    const stream = concatBytes(...RUST_FIXTURES.map(([, bytes]) => hex(bytes)));
    const expected = RUST_FIXTURES.map(([, , value]) => value);
    for (const chunks of splits(stream)) expect(decodeAll(chunks)).toEqual(expected);
  });

  it('decodes many values from one chunk, in order', () => {
    const values = Array.from({ length: 1000 }, (_, i) => ({ seq: i, body: 'x'.repeat(i % 50) }));
    expect(decodeAll([concatBytes(...values.map((v) => encode(v)))])).toEqual(values);
  });

  it('turns safe 64-bit integers into numbers inside containers and keys', () => {
    const bytes = hex('82 a1 61 92 cf 00 00 00 00 00 00 00 05 cf ff ff ff ff ff ff ff ff a1 62 c0');
    expect(decodeAll([bytes])).toEqual([{ a: [5, 2n ** 64n - 1n], b: null }]);
    // a map key read as a 64-bit integer
    expect(decodeAll([hex('81 cf 00 00 00 00 00 00 00 07 01')])).toEqual([{ 7: 1 }]);
  });

  it('decodes timestamps as Date and other extensions as ExtData', () => {
    const [date, ext] = decodeAll([hex('d6 ff 00 00 00 01'), hex('d4 05 2a')]) as [Date, { type: number; data: Uint8Array }];
    expect(date).toEqual(new Date(1000));
    expect(ext.type).toBe(5);
    expect(Array.from(ext.data)).toEqual([0x2a]);
  });

  it('copies a small leftover out of a Buffer chunk, so a partial value does not pin the chunk', () => {
    // Node's Buffer#slice returns a view, not a copy (this class does the same in a browser).
    class ViewSlicing extends Uint8Array {
      override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
        return this.subarray(start, end);
      }
    }
    const decoder = new FrameDecoder();
    const chunk = new ViewSlicing(60_000).fill(0x01); // 59,998 fixints, then the start of a string
    chunk[59_998] = 0xa3;
    chunk[59_999] = 0x61;
    let count = 0;
    decoder.write(chunk, () => count++);
    expect(count).toBe(59_998);
    const held = (decoder as unknown as { held: Uint8Array }).held;
    expect(decoder.bufferedBytes).toBe(2);
    expect(held.buffer.byteLength).toBeLessThan(1024); // its own small buffer, not the chunk's
    const values: unknown[] = [];
    decoder.write(Uint8Array.of(0x62, 0x63), (value) => values.push(value));
    expect(values).toEqual(['abc']);
  });

  it('errors with READ_ERROR when the input ends inside a value', () => {
    const decoder = new FrameDecoder();
    decoder.write(hex('92 01'), () => undefined);
    readError(() => decoder.end());
  });

  it('errors with READ_ERROR on the never-used byte c1, after the values before it', () => {
    const values: unknown[] = [];
    readError(() => new FrameDecoder().write(hex('01 02 c1 03'), (v) => values.push(v)));
    expect(values).toEqual([1, 2]);
  });

  it('refuses map keys that are not strings or numbers', () => {
    readError(() => decodeAll([hex('81 90 01')]));
  });

  it('refuses the __proto__ key', () => {
    readError(() => decodeAll([hex('81 a9 5f 5f 70 72 6f 74 6f 5f 5f 01')]));
  });

  it('decodes a 64 MiB value arriving in 64 KiB chunks with raised limits', () => {
    const size = 64 * 1024 * 1024;
    const header = hex('c6 04 00 00 00');
    const body = new Uint8Array(size);
    body[0] = 1;
    body[size - 1] = 2;
    const decoder = new FrameDecoder({ maxValueBytes: size + 5 });
    const values: Uint8Array[] = [];
    decoder.write(header, (v) => values.push(v as Uint8Array));
    for (let offset = 0; offset < size; offset += 65536)
      decoder.write(body.subarray(offset, offset + 65536), (v) => values.push(v as Uint8Array));
    decoder.end();
    expect(values.length).toBe(1);
    expect(values[0]!.length).toBe(size);
    expect(values[0]![0]).toBe(1);
    expect(values[0]![size - 1]).toBe(2);
  });

  it('copies a small leftover instead of pinning the whole chunk', () => {
    const decoder = new FrameDecoder();
    const chunk = new Uint8Array(65536);
    chunk.set(hex('c5 00 10'), 65536 - 3); // a value starts in the last 3 bytes
    const values: unknown[] = [];
    decoder.write(chunk, (v) => values.push(v));
    expect(decoder.bufferedBytes).toBe(3);
    chunk.fill(0xff); // the leftover was copied: changing the chunk does not change it
    decoder.write(new Uint8Array(16).fill(7), (v) => values.push(v));
    expect(values.length).toBe(65536 - 3 + 1);
    expect(Array.from(values[values.length - 1] as Uint8Array)).toEqual(new Array(16).fill(7));
  });
});
