import { encode } from '@msgpack/msgpack';
import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';
import { Encoder } from '../../lib/codec/Encoder.js';
import { NetError } from '../../lib/errors.js';
import { hex, prng } from '../helpers/bytes.js';

/** A random MessagePack-able value, from a seeded generator. */
function randomValue(next: () => number, depth = 0): unknown {
  const kind = Math.floor(next() * (depth > 3 ? 6 : 8));
  switch (kind) {
    case 0:
      return Math.floor(next() * 2 ** 40) - 2 ** 39;
    case 1:
      return next() * 1e6;
    case 2:
      return 'ab€😀'.repeat(Math.floor(next() * 20));
    case 3:
      return next() < 0.5;
    case 4:
      return null;
    case 5:
      return new Uint8Array(Math.floor(next() * 300)).map(() => Math.floor(next() * 256));
    case 6:
      return Array.from({ length: Math.floor(next() * 20) }, () => randomValue(next, depth + 1));
    default: {
      const record: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 20); i > 0; i--) record[`k${Math.floor(next() * 1000)}`] = randomValue(next, depth + 1);
      return record;
    }
  }
}

/** Feeds `bytes` in random pieces; returns the values, or the NetError it stopped at. Any other throw fails the spec. */
function feed(decoder: FrameDecoder, bytes: Uint8Array, next: () => number): unknown[] | NetError {
  const values: unknown[] = [];
  try {
    let offset = 0;
    while (offset < bytes.length) {
      const size = 1 + Math.floor(next() * 40);
      decoder.write(bytes.subarray(offset, offset + size), (v) => values.push(v));
      offset += size;
    }
    return values;
  } catch (error) {
    if (!(error instanceof NetError) || error.code !== 'READ_ERROR') throw error;
    return error;
  }
}

/**
 * In CI: five fixed seeds, a few hundred rounds each (a second or two). For a
 * longer hunt: `FUZZ_SECONDS=600 npx jasmine --config=spec/support/jasmine.json --filter=fuzzing`
 * adds random seeds until the time is up (the failing seed is in the spec's message).
 */
const FUZZ_SECONDS = Number(globalThis.process?.env.FUZZ_SECONDS ?? 0);

describe('FrameDecoder under fuzzing (seeded, bounded)', () => {
  const SEEDS = [1, 2, 3, 42, 1337];
  if (FUZZ_SECONDS > 0) {
    const deadline = Date.now() + FUZZ_SECONDS * 1000;
    jasmine.DEFAULT_TIMEOUT_INTERVAL = (FUZZ_SECONDS + 60) * 1000;
    it(`holds for random seeds for ${FUZZ_SECONDS} s`, () => {
      while (Date.now() < deadline) {
        const seed = Math.floor(Math.random() * 2 ** 31);
        const next = prng(seed);
        for (let round = 0; round < 100; round++) {
          const bytes = new Uint8Array(1 + Math.floor(next() * 256)).map(() => Math.floor(next() * 256));
          const outcome = feed(new FrameDecoder({ maxValueBytes: 1 << 16 }), bytes, next);
          expect(Array.isArray(outcome) || outcome instanceof NetError)
            .withContext(`seed ${seed}`)
            .toBeTrue();
        }
      }
    });
  }

  it('decodes random values cut at random places exactly as @msgpack/msgpack encodes them', () => {
    for (const seed of SEEDS) {
      const next = prng(seed);
      const values = Array.from({ length: 200 }, () => randomValue(next));
      const bytes = new Uint8Array(values.flatMap((v) => Array.from(encode(v))));
      expect(feed(new FrameDecoder(), bytes, next)).toEqual(values);
      const ours = new Encoder();
      for (const v of values) ours.append(v);
      expect(feed(new FrameDecoder(), ours.take(), next)).toEqual(values);
    }
  });

  it('turns random bytes into values or one READ_ERROR, never anything else, and a fresh decoder still works', () => {
    const adversarial = [
      hex('c1'),
      hex('db ff ff ff ff'),
      hex('dd ff ff ff ff'),
      new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      hex('16 03 01 02 00 01 00 01 fc 03 03'),
    ];
    for (const seed of SEEDS) {
      const next = prng(seed);
      for (let round = 0; round < 400; round++) {
        const bytes =
          round < adversarial.length
            ? adversarial[round]!
            : new Uint8Array(1 + Math.floor(next() * 64)).map(() => Math.floor(next() * 256));
        const decoder = new FrameDecoder({ maxValueBytes: 4096 });
        const outcome = feed(decoder, bytes, next);
        if (Array.isArray(outcome)) {
          // No error: the decoder is either between values or waiting inside one; ending it tells which, with a typed error.
          try {
            decoder.end();
          } catch (error) {
            expect(error).toBeInstanceOf(NetError);
          }
        }
        const fresh = new FrameDecoder();
        const values: unknown[] = [];
        fresh.write(hex('92 07 01'), (v) => values.push(v));
        expect(values).toEqual([[7, 1]]);
      }
    }
  });

  it('survives valid encodings with random bytes flipped', () => {
    for (const seed of SEEDS) {
      const next = prng(seed);
      for (let round = 0; round < 200; round++) {
        const bytes = encode(randomValue(next));
        const flips = 1 + Math.floor(next() * 3);
        for (let i = 0; i < flips; i++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
        const outcome = feed(new FrameDecoder({ maxValueBytes: 1 << 20 }), bytes, next);
        expect(Array.isArray(outcome) || outcome instanceof NetError).toBeTrue();
      }
    }
  });
});
