/**
 * Random MessagePack-able values for the codec's differential specs, from a seeded source, so a
 * failure reproduces. Browser-safe.
 */
import { ExtData } from '@msgpack/msgpack';

export interface RandomValueOptions {
  /** Longest array, and most entries in a map. @default 16 */
  readonly maxItems?: number;
  /** Longest string in characters, and binary in bytes (one in ten may be up to ten times longer). @default 40 */
  readonly maxLength?: number;
  /** Below this depth, containers may nest. @default 5 */
  readonly maxDepth?: number;
}

/**
 * A generator of values of every MessagePack type and width: integers at every boundary, floats
 * (-0, NaN, infinities, subnormals), 64-bit bigints around ±2^53, ASCII, non-ASCII and astral
 * text, binaries, extensions of every fixed and variable length, timestamps (in and out of the
 * `Date` range), nil, booleans, empty and nested arrays and maps. Map keys mix ordinary names,
 * keys that may be array indices (`'7'`, `'01'`, numbers), the empty key, fixstr-length and longer
 * keys, and random text: both the fast paths and the general ones see them.
 */
export function randomValues(random: () => number, options: RandomValueOptions = {}): () => unknown {
  const { maxItems = 16, maxLength = 40, maxDepth = 5 } = options;
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const length = (): number => int(random() < 0.9 ? maxLength : 10 * maxLength);
  const ascii = Array.from('abcdefghij_0123456789');
  const wide = ['a', 'é', '€', '😀', 'ß', 'ж', '中', '\u0000', '\u007f', '\u0080', '\uffff'];
  const text = (n: number): string => {
    const alphabet = random() < 0.6 ? ascii : wide;
    let s = '';
    while (s.length < n) s += pick(alphabet);
    return s;
  };
  const names = ['seq', 'ts', 'body', 'id', '', '7', '12', '01', 'a1', 'é', '__lo', 'k'.repeat(31), 'x'.repeat(40)];
  const key = (): string | number => {
    switch (int(5)) {
      case 0:
      case 1:
        return pick(names);
      case 2:
        return int(100);
      case 3:
        return text(int(40));
      default:
        return text(1 + int(16));
    }
  };
  const value = (depth: number): unknown => {
    switch (int(depth >= maxDepth ? 9 : 11)) {
      case 0:
        return pick([0, 1, -1, 127, 128, -32, -33, 255, 256, -128, -129, 65_535, 65_536, -32_768, -32_769, 2 ** 32 - 1, 2 ** 32]);
      case 1:
        return pick([-(2 ** 31), -(2 ** 31) - 1, 2 ** 53 - 1, -(2 ** 53 - 1), 1.5, -0, NaN, Infinity, -Infinity, 1e300, 5e-324]);
      case 2:
        return pick([2n ** 53n, -(2n ** 53n), 2n ** 64n - 1n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n - 1n, -(2n ** 53n) + 1n, 12n, -12n]);
      case 3:
        return text(length());
      case 4:
        return new Uint8Array(length()).map(() => int(256));
      case 5:
        return new ExtData(pick([0, 5, 127, -128]), new Uint8Array(pick([1, 2, 4, 8, 16, 3, 12, 300])).fill(7));
      case 6:
        return pick([new Date(0), new Date(1_700_000_000_123), new Date(-1), new Date(8.64e15)]);
      case 7:
        return pick([null, true, false]);
      case 8:
        return pick([[], {}]);
      case 9:
        return Array.from({ length: int(maxItems) }, () => value(depth + 1));
      default: {
        const map: Record<string, unknown> = {};
        for (let i = int(maxItems); i > 0; i--) map[key()] = value(depth + 1);
        return map;
      }
    }
  };
  return () => value(0);
}
