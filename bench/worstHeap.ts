// The worst heap one value can cost at the default limits: the largest value the decoder accepts,
// built from the costliest shapes per wire byte, decoded through FrameDecoder, heap measured after
// a full GC. `npm run bench:heap` (runs node with --expose-gc).
// With LIMITS=old, the round-one defaults (16 MiB, no object budget), for the before/after figure.
import { FrameDecoder } from '../lib/codec/FrameDecoder.js';
import { DEFAULT_MAX_OBJECTS, DEFAULT_MAX_VALUE_BYTES } from '../lib/defaults.js';

const old = process.env['LIMITS'] === 'old';
const maxValueBytes = old ? 16 * 1024 * 1024 : DEFAULT_MAX_VALUE_BYTES;
const maxObjects = old ? Number.MAX_SAFE_INTEGER : DEFAULT_MAX_OBJECTS;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** An array (array32 header) of `objects` items of `object`, then `filler` items up to maxValueBytes. */
function value(object: Uint8Array, objects: number, filler: Uint8Array): Uint8Array {
  const room = maxValueBytes - 5;
  const count = Math.min(objects, Math.floor(room / object.length));
  const fill = Math.floor((room - count * object.length) / filler.length);
  const bytes = new Uint8Array(5 + count * object.length + fill * filler.length);
  bytes[0] = 0xdd;
  new DataView(bytes.buffer).setUint32(1, count + fill);
  let p = 5;
  for (let i = 0; i < count; i++, p += object.length) bytes.set(object, p);
  for (let i = 0; i < fill; i++, p += filler.length) {
    bytes.set(filler, p);
    if (filler.length === 3) bytes[p + 1] = 0x61 + (i % 26); // distinct 2-byte strings: not interned
    if (filler.length === 3) bytes[p + 2] = 0x61 + ((i >> 5) % 26);
  }
  return bytes;
}

/** A map (map16) of these integer keys, each to nil. */
function reviewMap(keys: number[]): Uint8Array {
  const bytes = [0xde, keys.length >> 8, keys.length & 0xff];
  for (const k of keys) bytes.push(...(k < 128 ? [k] : [0xcd, k >> 8, k & 0xff]), 0xc0);
  return Uint8Array.from(bytes);
}

const shapes: [string, Uint8Array, Uint8Array][] = [
  ['empty arrays', Uint8Array.of(0x90), Uint8Array.of(0xa2, 0x61, 0x61)],
  ['empty maps', Uint8Array.of(0x80), Uint8Array.of(0xa2, 0x61, 0x61)],
  ['maps {1: nil}', Uint8Array.of(0x81, 0x01, 0xc0), Uint8Array.of(0xa2, 0x61, 0x61)],
  ['empty binaries', Uint8Array.of(0xc4, 0x00), Uint8Array.of(0xa2, 0x61, 0x61)],
  // {1000: nil, 2000: nil, 3000: nil}: V8 allocates 3000 element slots for 13 bytes
  [
    'sparse integer keys',
    Uint8Array.of(0x83, 0xcd, 0x03, 0xe8, 0xc0, 0xcd, 0x07, 0xd0, 0xc0, 0xcd, 0x0b, 0xb8, 0xc0),
    Uint8Array.of(0xa2, 0x61, 0x61),
  ],
  // first key 1024 (a dictionary), 86 small keys (back to a flat array), then keys that grow it: 187 bytes
  ['dictionary, then fast', reviewMap([1024, ...Array.from({ length: 86 }, (_, i) => i), 2047, 3321]), Uint8Array.of(0xa2, 0x61, 0x61)],
  // a dictionary of 129 index keys: 263 bytes
  ['index-key dictionary', reviewMap([5000, ...Array.from({ length: 128 }, (_, i) => i)]), Uint8Array.of(0xa2, 0x61, 0x61)],
  ['2-byte strings only', Uint8Array.of(0xa2, 0x61, 0x61), Uint8Array.of(0xa2, 0x61, 0x61)],
];

console.log(`limits: maxValueBytes ${maxValueBytes}, maxObjects ${old ? 'none' : maxObjects}`);
let worst = 0;
for (const [name, object, filler] of shapes) {
  // As many of the shape as the object budget admits (a shape may count as several objects).
  const sample = new FrameDecoder({ maxObjects: Number.MAX_SAFE_INTEGER });
  const sampleBytes = new Uint8Array(1000 * object.length);
  for (let i = 0; i < 1000; i++) sampleBytes.set(object, i * object.length);
  sample.write(sampleBytes, () => undefined);
  const units = sample.objectsScanned / 1000;
  const count = name.includes('only') ? 0 : Math.floor((maxObjects - 1) / units); // the outer array is one
  const bytes = value(object, count, filler);
  const decoder = new FrameDecoder({ maxValueBytes, maxObjects, maxArrayLength: maxValueBytes });
  gc();
  const before = process.memoryUsage().heapUsed;
  const held: unknown[] = []; // alive until measured
  decoder.write(bytes, (v) => held.push(v));
  gc();
  const heap = process.memoryUsage().heapUsed - before;
  worst = Math.max(worst, heap);
  console.log(
    `${name.padEnd(22)} ${(bytes.length / 2 ** 20).toFixed(2)} MiB on the wire, ${count} of the shape -> ${(heap / 2 ** 20).toFixed(1)} MiB heap`,
  );
  held.length = 0;
}
console.log(`worst case per value: ${(worst / 2 ** 20).toFixed(1)} MiB of heap`);
