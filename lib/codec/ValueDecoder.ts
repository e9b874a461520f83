import { NetError } from '../errors.js';
import type { ExtensionCodecType } from './ExtData.js';
import type { ResolvedDecodeLimits } from './limits.js';

/** Keys this long or shorter are looked up in the key cache rather than decoded again. */
const KEY_CACHE_MAX = 16;
/** Slots of the key cache (a power of two); a key that hashes to a taken slot replaces it. */
const KEY_CACHE_SLOTS = 1024;
/** ASCII strings this long or shorter are built by `+=` (V8 makes a flat string below 13 characters). */
const CONCAT_STRING = 12;
/** ASCII strings this long or shorter are made by `String.fromCharCode`; longer ones by `TextDecoder` (faster beyond). */
const SHORT_STRING = 16;
const TWO_32 = 4294967296;

/**
 * The decoded keys of maps, by their bytes: one table per process (keys
 * repeat across values, connections and nodes), fixed in size, so a peer
 * sending ever new keys costs the same memory as one sending the same ones.
 * Only valid UTF-8 is ever stored.
 */
const cacheBytes = new Uint8Array(KEY_CACHE_SLOTS * KEY_CACHE_MAX);
/** Each slot's key length plus one (0: empty). */
const cacheLengths = new Uint8Array(KEY_CACHE_SLOTS);
const cacheStrings: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');

const EMPTY = new Uint8Array(0);

/** Before any {@link ValueDecoder.tryDecode}: limits are read only while checking, so these are never used. */
const NO_LIMITS: ResolvedDecodeLimits = {
  maxValueBytes: 0,
  maxStrLength: 0,
  maxBinLength: 0,
  maxExtLength: 0,
  maxArrayLength: 0,
  maxMapLength: 0,
  maxDepth: 0,
  maxObjects: 0,
};

/**
 * What {@link ValueDecoder.tryDecode} returns when the value is not one it
 * decodes on its own (cut off by the end of the bytes, over a limit, a key
 * that may be an array index, anything invalid): the scanner's general path
 * takes it, and reports any error.
 */
export const FALLBACK: unique symbol = Symbol('fallback');

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function invalid(message: string): NetError {
  return new NetError('READ_ERROR', `invalid MessagePack: ${message}`);
}

/**
 * Decodes MessagePack values in place: a plain value in one pass that checks
 * every limit as it goes ({@link ValueDecoder.tryDecode}, giving up on
 * anything else), or one that a `FrameScanner` has already found and checked
 * ({@link ValueDecoder.decode}: no length runs past the bytes, no nesting is
 * deeper than `maxDepth`). What the scanner cannot know is checked here, each a `READ_ERROR`: a map key that is not a string or a
 * number, the key `__proto__`, a string that is not valid UTF-8 (MessagePack
 * from Rust never has one; a lone surrogate encoded by a lenient JavaScript
 * encoder is one), an extension the codec refuses.
 *
 * Values are what `@msgpack/msgpack` makes of them, with 64-bit integers as
 * numbers when exact and bigints otherwise; binaries and extension payloads
 * are views into the given bytes. Unlike that library's `Decoder`, this one
 * keeps no state between values (the position is returned, so a handler
 * called between two values may decode others), has no generator per batch,
 * and caches map keys by their bytes.
 */
export class ValueDecoder {
  /** Where the last {@link decode} ended. */
  pos = 0;
  /** Arrays, maps, binaries and extensions in the last value {@link tryDecode} decoded. */
  objects = 0;
  private bytes: Uint8Array = EMPTY;
  private view: DataView | undefined;
  /** {@link tryDecode}: checking as it goes, no key that may be an index, FALLBACK rather than an error. */
  private checking = false;
  /** Nesting of the open containers (checked only while {@link checking}). */
  private depth = 0;
  /**
   * Items the open containers still owe, not yet begun (while checking): each takes at least a byte, so a
   * container may open only if its items and these fit in the bytes left and in maxValueBytes. Without it,
   * nested headers each claiming the chunk's length would allocate that many slots each before giving up.
   */
  private owed = 0;
  /** Where the value being checked began. */
  private start = 0;
  /** Where the bytes end while checking; after the scanner, nowhere (it found the value's end). */
  private end = Number.POSITIVE_INFINITY;
  /** The limits while checking (read only then). */
  private limits: ResolvedDecodeLimits = NO_LIMITS;

  /**
   * @param extensionCodec decodes extension types
   * @param ownCodec is it the package's default codec (no side effects: {@link tryDecode} may call it and then give up)?
   */
  constructor(
    private readonly extensionCodec: ExtensionCodecType,
    readonly ownCodec = false,
  ) {}

  /**
   * Decodes the value at `bytes[start]` if it lies whole in `bytes[start, end)`,
   * keeps every limit, and is plain enough (string keys that cannot be array
   * indices; extensions only with the package's own codec): the scanner's
   * fast path and this decoder in one pass. Anything else, including any
   * invalid value, returns {@link FALLBACK} and leaves no trace: never throws.
   * {@link pos} and {@link objects} then tell where it ended and what it held.
   */
  tryDecode(bytes: Uint8Array, start: number, end: number, limits: ResolvedDecodeLimits): unknown {
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.view = undefined;
    }
    this.pos = start;
    this.start = start;
    this.objects = 0;
    this.depth = 0;
    this.owed = 0;
    this.limits = limits;
    this.checking = true;
    this.end = end;
    let value: unknown;
    try {
      value = this.value();
    } catch {
      value = FALLBACK;
    }
    this.checking = false;
    this.end = Number.POSITIVE_INFINITY;
    return value !== FALLBACK && this.pos - start <= limits.maxValueBytes ? value : FALLBACK;
  }

  /** Lets go of the last bytes decoded (a shared decoder would otherwise keep a large value's buffer alive). */
  release(): void {
    this.bytes = EMPTY;
    this.view = undefined;
  }

  /** Decodes the value at `bytes[start]`; {@link pos} is then where it ends. */
  decode(bytes: Uint8Array, start: number): unknown {
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.view = undefined;
    }
    this.pos = start;
    try {
      return this.value();
    } catch (error) {
      if (error instanceof RangeError && !(error instanceof NetError)) {
        // The call stack ran out before maxDepth did (a maxDepth raised far above its default).
        throw new NetError('READ_ERROR', 'invalid MessagePack value: nested too deeply for the call stack', { cause: error });
      }
      throw error;
    }
  }

  private value(): unknown {
    const bytes = this.bytes;
    if (this.pos >= this.end) return FALLBACK;
    const b = bytes[this.pos++]!;
    if (b < 0x80) return b;
    if (b < 0x90) return this.map(b & 0x0f);
    if (b < 0xa0) return this.array(b & 0x0f);
    if (b < 0xc0) return this.str(b & 0x1f);
    if (b >= 0xe0) return b - 0x100;
    const p = this.pos;
    // The longest header or fixed-size body (8 bytes) whole: near the end of the bytes, the scanner decides.
    if (p + 8 > this.end) return FALLBACK;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        this.pos = p + 1;
        return this.bin(bytes[p]!);
      case 0xc5:
        this.pos = p + 2;
        return this.bin(u16(bytes, p));
      case 0xc6:
        this.pos = p + 4;
        return this.bin(u32(bytes, p));
      case 0xc7:
        this.pos = p + 1;
        return this.ext(bytes[p]!);
      case 0xc8:
        this.pos = p + 2;
        return this.ext(u16(bytes, p));
      case 0xc9:
        this.pos = p + 4;
        return this.ext(u32(bytes, p));
      case 0xca:
        this.pos = p + 4;
        return this.dataView().getFloat32(p);
      case 0xcb:
        this.pos = p + 8;
        return this.dataView().getFloat64(p);
      case 0xcc:
        this.pos = p + 1;
        return bytes[p]!;
      case 0xcd:
        this.pos = p + 2;
        return u16(bytes, p);
      case 0xce:
        this.pos = p + 4;
        return u32(bytes, p);
      case 0xcf: {
        this.pos = p + 8;
        const hi = u32(bytes, p);
        return hi <= 0x1fffff ? hi * TWO_32 + u32(bytes, p + 4) : this.dataView().getBigUint64(p);
      }
      case 0xd0:
        this.pos = p + 1;
        return (bytes[p]! << 24) >> 24;
      case 0xd1:
        this.pos = p + 2;
        return (u16(bytes, p) << 16) >> 16;
      case 0xd2:
        this.pos = p + 4;
        return u32(bytes, p) | 0;
      case 0xd3: {
        this.pos = p + 8;
        const hi = u32(bytes, p) | 0;
        const lo = u32(bytes, p + 4);
        const exact = hi * TWO_32 + lo;
        // Exact when within ±(2^53 - 1): a number, as the contract wants; else a bigint.
        return hi >= -0x200000 && hi <= 0x1fffff && exact >= Number.MIN_SAFE_INTEGER ? exact : this.dataView().getBigInt64(p);
      }
      case 0xd4:
        return this.ext(1);
      case 0xd5:
        return this.ext(2);
      case 0xd6:
        return this.ext(4);
      case 0xd7:
        return this.ext(8);
      case 0xd8:
        return this.ext(16);
      case 0xd9:
        this.pos = p + 1;
        return this.str(bytes[p]!);
      case 0xda:
        this.pos = p + 2;
        return this.str(u16(bytes, p));
      case 0xdb:
        this.pos = p + 4;
        return this.str(u32(bytes, p));
      case 0xdc:
        this.pos = p + 2;
        return this.array(u16(bytes, p));
      case 0xdd:
        this.pos = p + 4;
        return this.array(u32(bytes, p));
      case 0xde:
        this.pos = p + 2;
        return this.map(u16(bytes, p));
      case 0xdf:
        this.pos = p + 4;
        return this.map(u32(bytes, p));
      default:
        throw invalid('the type byte 0xc1 is never used');
    }
  }

  /** Checking: may a container of `items` items (each at least a byte) open here? Then they are owed. */
  private opens(length: number, max: number, items: number): boolean {
    const owed = this.owed + items;
    if (
      length > max ||
      owed > this.end - this.pos ||
      this.pos - this.start + owed > this.limits.maxValueBytes ||
      this.depth >= this.limits.maxDepth ||
      ++this.objects > this.limits.maxObjects
    ) {
      return false;
    }
    this.owed = owed;
    return true;
  }

  private array(length: number): unknown {
    if (this.checking && !this.opens(length, this.limits.maxArrayLength, length)) return FALLBACK;
    this.depth++;
    const array = new Array<unknown>(length);
    for (let i = 0; i < length; i++) {
      this.owed--; // begun (only counted while checking)
      const item = this.value();
      if (item === FALLBACK) return FALLBACK;
      array[i] = item;
    }
    this.depth--;
    return array;
  }

  private map(length: number): unknown {
    if (this.checking && !this.opens(length, this.limits.maxMapLength, 2 * length)) return FALLBACK;
    this.depth++;
    const map: Record<string | number, unknown> = {};
    const bytes = this.bytes;
    for (let i = 0; i < length; i++) {
      const b = bytes[this.pos]!;
      let key: string | number;
      if (this.checking) {
        this.owed -= 2; // the entry begins: its key is a string here, so nothing opens before its value begins
        // Only a fixstr key whose first byte is not a digit (never an array index: V8 stores those apart, and
        // the scanner charges them against maxObjects), whole in the bytes.
        const n = b & 0x1f;
        if (
          b < 0xa0 ||
          b >= 0xc0 ||
          n > this.limits.maxStrLength ||
          this.pos + 1 + n > this.end ||
          (n > 0 && bytes[this.pos + 1]! <= 0x39 && bytes[this.pos + 1]! >= 0x30)
        ) {
          return FALLBACK;
        }
        this.pos++;
        key = this.key(n);
      } else if (b >= 0xa0 && b < 0xc0) {
        this.pos++;
        key = this.key(b & 0x1f);
      } else if (b === 0xd9 && bytes[this.pos + 1]! <= KEY_CACHE_MAX) {
        this.pos += 2;
        key = this.key(bytes[this.pos - 1]!);
      } else {
        key = mapKey(this.value());
      }
      if (key === '__proto__') throw invalid('the map key __proto__ is not allowed');
      const value = this.value();
      if (value === FALLBACK) return FALLBACK;
      map[key] = value;
    }
    this.depth--;
    return map;
  }

  /** A string key of `length` bytes at `pos`, from the key cache when short; whole and within maxStrLength (the caller made sure, or the scanner). */
  private key(length: number): string {
    if (length > KEY_CACHE_MAX) return this.str(length) as string;
    const bytes = this.bytes;
    const start = this.pos;
    let h = length;
    for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[start + i]!, 0x01000193);
    const slot = (h ^ (h >>> 15)) & (KEY_CACHE_SLOTS - 1);
    const base = slot * KEY_CACHE_MAX;
    if (cacheLengths[slot] === length + 1) {
      let i = 0;
      while (i < length && cacheBytes[base + i] === bytes[start + i]) i++;
      if (i === length) {
        this.pos = start + length;
        return cacheStrings[slot]!;
      }
    }
    const key = this.str(length) as string;
    cacheBytes.set(bytes.subarray(start, start + length), base);
    cacheLengths[slot] = length + 1;
    cacheStrings[slot] = key;
    return key;
  }

  private str(length: number): string | typeof FALLBACK {
    const bytes = this.bytes;
    const start = this.pos;
    const end = start + length;
    if (this.checking && (end > this.end || length > this.limits.maxStrLength)) return FALLBACK;
    this.pos = end;
    if (length <= CONCAT_STRING) {
      let s = '';
      let i = start;
      for (; i < end; i++) {
        const c = bytes[i]!;
        if (c >= 0x80) break;
        s += String.fromCharCode(c);
      }
      if (i === end) return s;
    }
    if (length <= SHORT_STRING) return shortString(bytes, start, end);
    try {
      return utf8.decode(bytes.subarray(start, end));
    } catch (error) {
      throw notUtf8(length, error);
    }
  }

  private bin(length: number): Uint8Array | typeof FALLBACK {
    const start = this.pos;
    if (this.checking && (start + length > this.end || length > this.limits.maxBinLength || ++this.objects > this.limits.maxObjects))
      return FALLBACK;
    this.pos = start + length;
    return this.bytes.subarray(start, start + length);
  }

  private ext(length: number): unknown {
    const bytes = this.bytes;
    const type = (bytes[this.pos]! << 24) >> 24;
    const start = this.pos + 1;
    const end = start + length;
    if (
      this.checking &&
      (!this.ownCodec || end > this.end || length > this.limits.maxExtLength || ++this.objects > this.limits.maxObjects)
    ) {
      return FALLBACK; // a codec of the user's is called once, after the scanner
    }
    const data = bytes.subarray(start, end);
    const view = this.view;
    let value: unknown;
    try {
      value = this.extensionCodec.decode(data, type, undefined);
    } catch (error) {
      // Whatever the codec threw (another NetError code, a non-Error), the decoder's failure is a READ_ERROR.
      throw new NetError('READ_ERROR', `invalid MessagePack: extension type ${type} of ${length} bytes: ${describe(error)}`, {
        cause: error,
      });
    }
    // The codec is foreign code: whatever it decoded, this decoder goes on from its own state.
    this.bytes = bytes;
    this.view = view;
    this.pos = end;
    return value;
  }

  private dataView(): DataView {
    const bytes = this.bytes;
    return (this.view ??= new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
}

/** The UTF-16 code units of a short string being decoded (at most one per byte). */
const units = new Uint16Array(SHORT_STRING);

/**
 * A string of at most {@link SHORT_STRING} bytes, checked as strictly as
 * `TextDecoder` with `fatal` checks it (no overlong form, no surrogate, nothing
 * beyond U+10FFFF, no sequence cut short), without its per-call cost.
 */
function shortString(bytes: Uint8Array, start: number, end: number): string {
  let n = 0;
  let i = start;
  while (i < end) {
    const c = bytes[i++]!;
    if (c < 0x80) {
      units[n++] = c;
      continue;
    }
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) {
      const c1 = i < end ? bytes[i]! : 0;
      if ((c1 & 0xc0) !== 0x80) throw notUtf8(end - start);
      cp = ((c & 0x1f) << 6) | (c1 & 0x3f);
      i += 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      const c1 = i < end ? bytes[i]! : 0;
      const c2 = i + 1 < end ? bytes[i + 1]! : 0;
      // E0 needs A0-BF next (shorter forms are overlong), ED 80-9F (above are surrogates).
      if (c1 < (c === 0xe0 ? 0xa0 : 0x80) || c1 > (c === 0xed ? 0x9f : 0xbf) || (c2 & 0xc0) !== 0x80) throw notUtf8(end - start);
      cp = ((c & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f);
      i += 2;
    } else if (c >= 0xf0 && c <= 0xf4) {
      const c1 = i < end ? bytes[i]! : 0;
      const c2 = i + 1 < end ? bytes[i + 1]! : 0;
      const c3 = i + 2 < end ? bytes[i + 2]! : 0;
      // F0 needs 90-BF next (overlong below), F4 80-8F (beyond U+10FFFF above).
      if (c1 < (c === 0xf0 ? 0x90 : 0x80) || c1 > (c === 0xf4 ? 0x8f : 0xbf) || (c2 & 0xc0) !== 0x80 || (c3 & 0xc0) !== 0x80)
        throw notUtf8(end - start);
      const above = (((c & 0x07) << 18) | ((c1 & 0x3f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f)) - 0x10000;
      units[n++] = 0xd800 + (above >> 10);
      units[n++] = 0xdc00 + (above & 0x3ff);
      i += 3;
      continue;
    } else {
      throw notUtf8(end - start);
    }
    units[n++] = cp;
  }
  return String.fromCharCode.apply(null, units.subarray(0, n) as unknown as number[]);
}

function notUtf8(length: number, cause?: unknown): NetError {
  return new NetError(
    'READ_ERROR',
    `invalid MessagePack: a string of ${length} bytes is not valid UTF-8`,
    cause === undefined ? {} : { cause },
  );
}

/** What a codec threw, for a message: its message, or its text, or its type when it has neither. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return typeof error;
  }
}

/** A map key that is not a short string: numbers as they are, 64-bit ones beyond 2^53 as their decimal text. */
function mapKey(key: unknown): string | number {
  if (typeof key === 'string' || typeof key === 'number') return key;
  if (typeof key === 'bigint') return key.toString();
  throw invalid(`a map key must be a string or a number, not ${key === null ? 'nil' : typeof key}`);
}

function u16(bytes: Uint8Array, p: number): number {
  return (bytes[p]! << 8) | bytes[p + 1]!;
}

function u32(bytes: Uint8Array, p: number): number {
  return bytes[p]! * 0x1000000 + ((bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!);
}
