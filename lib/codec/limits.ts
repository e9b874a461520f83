import {
  DEFAULT_MAX_ARRAY_LENGTH,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_MAP_LENGTH,
  DEFAULT_MAX_OBJECTS,
  DEFAULT_MAX_VALUE_BYTES,
} from '../defaults.js';

/**
 * Limits on one decoded MessagePack value. Each is checked when its header is
 * read, before the bytes it announces are buffered.
 */
export interface DecodeLimits {
  /** Largest encoded size of one value, in bytes. @default 4 MiB ({@link DEFAULT_MAX_VALUE_BYTES}) */
  readonly maxValueBytes?: number;
  /** Largest string, in UTF-8 bytes. @default `maxValueBytes` */
  readonly maxStrLength?: number;
  /** Largest binary, in bytes. @default `maxValueBytes` */
  readonly maxBinLength?: number;
  /** Largest extension payload, in bytes. @default `maxValueBytes` */
  readonly maxExtLength?: number;
  /** Most items in one array. @default 1,000,000 */
  readonly maxArrayLength?: number;
  /** Most key-value pairs in one map. @default 1,000,000 */
  readonly maxMapLength?: number;
  /** Deepest nesting of arrays and maps (an empty one counts: `[[]]` is 2 deep). @default 1000 */
  readonly maxDepth?: number;
  /**
   * Most arrays, maps, binaries and extension values (timestamps included)
   * in one value. Each becomes a JavaScript object costing 40-230 bytes of
   * heap however few bytes it takes on the wire, so this, with
   * `maxValueBytes`, bounds the heap one value can cost. @default 262,144
   */
  readonly maxObjects?: number;
}

/** {@link DecodeLimits} with every field resolved. */
export type ResolvedDecodeLimits = { readonly [K in keyof DecodeLimits]-?: number };

const LIMIT_NAMES = [
  'maxValueBytes',
  'maxStrLength',
  'maxBinLength',
  'maxExtLength',
  'maxArrayLength',
  'maxMapLength',
  'maxDepth',
  'maxObjects',
] as const;

/**
 * Checks and fills in limits once: a limit that is not a positive integer
 * throws a `TypeError` at once (a programming error, not a network one).
 */
export function resolveDecodeLimits(limits: DecodeLimits = {}, base?: ResolvedDecodeLimits): ResolvedDecodeLimits {
  for (const name of LIMIT_NAMES) {
    const value = limits[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new TypeError(`${name} must be a non-negative integer, got ${String(value)}`);
    }
  }
  const maxValueBytes = limits.maxValueBytes ?? base?.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  return Object.freeze({
    maxValueBytes,
    maxStrLength: limits.maxStrLength ?? base?.maxStrLength ?? maxValueBytes,
    maxBinLength: limits.maxBinLength ?? base?.maxBinLength ?? maxValueBytes,
    maxExtLength: limits.maxExtLength ?? base?.maxExtLength ?? maxValueBytes,
    maxArrayLength: limits.maxArrayLength ?? base?.maxArrayLength ?? DEFAULT_MAX_ARRAY_LENGTH,
    maxMapLength: limits.maxMapLength ?? base?.maxMapLength ?? DEFAULT_MAX_MAP_LENGTH,
    maxDepth: limits.maxDepth ?? base?.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxObjects: limits.maxObjects ?? base?.maxObjects ?? DEFAULT_MAX_OBJECTS,
  });
}
