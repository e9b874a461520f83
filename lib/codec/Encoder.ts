import { encodeTimestampExtension } from '@msgpack/msgpack';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_VALUE_BYTES } from '../defaults.js';
import { NetError } from '../errors.js';
import { ExtData, type ExtensionCodecType } from './ExtData.js';
import { SlabPool, sharedPool } from './SlabPool.js';

/** Options of {@link Encoder} and `encodeFrames`. */
export interface EncoderConfig {
  /** Largest encoded value, in bytes; a larger one is refused before it is queued. @default 4 MiB */
  readonly maxValueBytes?: number;
  /** Deepest nesting of arrays and maps (a circular value hits it). @default 1000 */
  readonly maxDepth?: number;
  /** Write map keys in sorted order (the canonical form node ids are compared in). @default false */
  readonly sortKeys?: boolean;
  /** Encodes class instances that are not plain data as extension types; see the README's codec policy. @default none */
  readonly extensionCodec?: ExtensionCodecType;
}

const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer);
const MIN_SLAB = 1024;
const MAX_SLAB_HINT = 1024 * 1024;
const TWO_32 = 0x1_0000_0000;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const textEncoder = new TextEncoder();

type WellFormed = string & { isWellFormed(): boolean };

/**
 * Encodes values as MessagePack, back to back, into one growing buffer.
 *
 * Values are appended with {@link append} and handed out in batches with
 * {@link take}; a handed-out batch is never written again, so it can go
 * straight to `socket.write`. Encoding is strict: anything MessagePack cannot
 * carry faithfully (functions, symbols, `Map`, `Set`, class instances, typed
 * arrays other than `Uint8Array`, lone UTF-16 surrogates, circular values,
 * integers outside 64 bits) throws a `SEND_ERROR` and leaves nothing behind.
 *
 * Integers are written in their smallest form, `bigint`s as 64-bit integers
 * (`cf`/`d3`), other numbers as float 64, `undefined` as nil, `Date` as the
 * timestamp extension, `Uint8Array` and `ArrayBuffer` as binary.
 *
 * @example
 * ```ts
 * import { Encoder } from 'msgpacknet';
 * const encoder = new Encoder({ maxValueBytes: 1024 });
 * encoder.append([7, 1]);
 * encoder.append(2n ** 64n - 1n);
 * console.log(Buffer.from(encoder.take()).toString('hex')); // 920701cfffffffffffffffff
 * try {
 *   encoder.append(new Map());
 * } catch (error) {
 *   console.log((error as { code: string }).code); // SEND_ERROR
 * }
 * ```
 */
export class Encoder {
  private readonly maxValueBytes: number;
  private readonly maxDepth: number;
  private readonly sortKeys: boolean;
  private readonly extensionCodec: ExtensionCodecType | undefined;
  private bytes: Uint8Array = EMPTY;
  /** `bytes` may be the shared pool: this encoder owns `[start, limit)` of it. */
  private view: DataView = EMPTY_VIEW;
  private limit = 0;
  private start = 0;
  private pos = 0;
  private lastBatch = 0;

  constructor(config: EncoderConfig = {}) {
    this.maxValueBytes = config.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    this.maxDepth = config.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.sortKeys = config.sortKeys ?? false;
    this.extensionCodec = config.extensionCodec;
  }

  /** Bytes appended and not yet taken. */
  get length(): number {
    return this.pos - this.start;
  }

  /**
   * Appends one value and returns its encoded size. On failure throws a
   * `SEND_ERROR` {@link NetError} and the buffer is as it was before the call.
   */
  append(value: unknown): number {
    const mark = this.pos - this.start;
    try {
      this.write(value, 0);
    } catch (error) {
      this.pos = this.start + mark;
      if (error instanceof NetError) throw error;
      throw new NetError('SEND_ERROR', `cannot encode the value: ${String(error)}`, { cause: error });
    }
    const size = this.pos - this.start - mark;
    if (size > this.maxValueBytes) {
      this.pos = this.start + mark;
      throw new NetError('SEND_ERROR', `the encoded value (${size} bytes) exceeds maxValueBytes (${this.maxValueBytes})`, {
        limit: 'maxValueBytes',
        max: this.maxValueBytes,
        actual: size,
      });
    }
    return size;
  }

  /** Hands out everything appended since the last call, as a copy the caller owns (see {@link takeView}). */
  take(): Uint8Array {
    return this.takeView().slice();
  }

  /**
   * Hands out everything appended since the last call as a view that is
   * never written again, without copying: a small batch is a view into the
   * pool buffer shared by all encoders, which it keeps alive. For a batch
   * that goes straight to a socket write (the node's writer); hold on to
   * one for long and it pins 64 KiB: use {@link take} then.
   */
  takeView(): Uint8Array {
    const out = this.bytes.subarray(this.start, this.pos);
    this.lastBatch = out.length;
    this.start = this.pos;
    if (this.limit - this.pos < MIN_SLAB) {
      // Let go of a full slab: an idle connection holds no buffer. If it was the
      // pool's last carve, its unused tail goes back to the pool.
      sharedPool.giveBack(this.bytes, this.pos, this.limit);
      this.bytes = EMPTY;
      this.start = this.pos = this.limit = 0;
    }
    return out;
  }

  /** Encodes one value on its own (a fresh copy). */
  encode(value: unknown): Uint8Array {
    this.append(value);
    return this.take();
  }

  /** Makes room for `n` more bytes, moving what is not taken yet to a larger slab. */
  private ensure(n: number): void {
    if (this.pos + n <= this.limit) return;
    const used = this.pos - this.start;
    const hint = Math.min(this.lastBatch * 2, MAX_SLAB_HINT);
    const size = Math.max(MIN_SLAB, hint, (used + n) * 2);
    if (size <= SlabPool.MAX_SLAB) {
      const start = sharedPool.carve(size);
      const pool = sharedPool.bytes;
      // The old slab lies wholly before the new one, so a move within the pool never overlaps.
      if (used > 0) {
        if (this.bytes === pool) pool.copyWithin(start, this.start, this.pos);
        else pool.set(this.bytes.subarray(this.start, this.pos), start);
      }
      this.bytes = pool;
      this.view = sharedPool.view;
      this.start = start;
      this.limit = start + size;
    } else {
      const next = new Uint8Array(size);
      next.set(this.bytes.subarray(this.start, this.pos));
      this.bytes = next;
      this.view = new DataView(next.buffer);
      this.start = 0;
      this.limit = size;
    }
    this.pos = this.start + used;
  }

  private u8(b: number): void {
    this.ensure(1);
    this.bytes[this.pos++] = b;
  }

  private head(b: number, n: number, size: 1 | 2 | 4): void {
    this.ensure(1 + size);
    const p = this.pos;
    this.bytes[p] = b;
    if (size === 1) this.bytes[p + 1] = n;
    else if (size === 2) this.view.setUint16(p + 1, n);
    else this.view.setUint32(p + 1, n);
    this.pos = p + 1 + size;
  }

  private write(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'number':
        return this.number(value);
      case 'string':
        return this.string(value);
      case 'boolean':
        return this.u8(value ? 0xc3 : 0xc2);
      case 'undefined':
        return this.u8(0xc0);
      case 'bigint':
        return this.bigint(value);
      case 'object':
        if (value === null) return this.u8(0xc0);
        return this.object(value, depth);
      default:
        throw new NetError('SEND_ERROR', `cannot encode a ${typeof value} as MessagePack`);
    }
  }

  private number(n: number): void {
    if (Number.isSafeInteger(n)) {
      if (n >= 0) {
        if (n < 0x80) return this.u8(n);
        if (n < 0x100) return this.head(0xcc, n, 1);
        if (n < 0x10000) return this.head(0xcd, n, 2);
        if (n < TWO_32) return this.head(0xce, n, 4);
        this.ensure(9);
        this.bytes[this.pos] = 0xcf;
        this.view.setUint32(this.pos + 1, Math.floor(n / TWO_32));
        this.view.setUint32(this.pos + 5, n >>> 0);
        this.pos += 9;
        return;
      }
      if (n >= -0x20) return this.u8(n & 0xff);
      if (n >= -0x80) return this.head(0xd0, n & 0xff, 1);
      if (n >= -0x8000) return this.head(0xd1, n & 0xffff, 2);
      if (n >= -0x80000000) return this.head(0xd2, n >>> 0, 4);
      const high = Math.floor(n / TWO_32);
      this.ensure(9);
      this.bytes[this.pos] = 0xd3;
      this.view.setInt32(this.pos + 1, high);
      this.view.setUint32(this.pos + 5, n - high * TWO_32);
      this.pos += 9;
      return;
    }
    this.ensure(9);
    this.bytes[this.pos] = 0xcb;
    this.view.setFloat64(this.pos + 1, n);
    this.pos += 9;
  }

  private bigint(n: bigint): void {
    if (n > U64_MAX || n < I64_MIN) {
      throw new NetError('SEND_ERROR', `the bigint ${n} does not fit in 64 bits`);
    }
    this.ensure(9);
    if (n >= 0n) {
      this.bytes[this.pos] = 0xcf;
      this.view.setBigUint64(this.pos + 1, n);
    } else {
      this.bytes[this.pos] = 0xd3;
      this.view.setBigInt64(this.pos + 1, n);
    }
    this.pos += 9;
  }

  private strHeader(length: number): void {
    if (length < 32) this.u8(0xa0 | length);
    else if (length < 0x100) this.head(0xd9, length, 1);
    else if (length < 0x10000) this.head(0xda, length, 2);
    else this.head(0xdb, length, 4);
  }

  private string(s: string): void {
    const length = s.length;
    if (length > this.maxValueBytes) this.tooLarge('string', length);
    if (length < 64) return this.shortString(s);
    if (!(s as WellFormed).isWellFormed()) throw loneSurrogate();
    const maxBytes = length * 3;
    const reserved = maxBytes < 32 ? 1 : maxBytes < 0x100 ? 2 : maxBytes < 0x10000 ? 3 : 5;
    this.ensure(reserved + maxBytes);
    const p = this.pos;
    const { written } = textEncoder.encodeInto(s, this.bytes.subarray(p + reserved, p + reserved + maxBytes));
    const needed = written < 32 ? 1 : written < 0x100 ? 2 : written < 0x10000 ? 3 : 5;
    if (needed !== reserved) this.bytes.copyWithin(p + needed, p + reserved, p + reserved + written);
    this.strHeader(written);
    this.pos = p + needed + written;
  }

  /**
   * Short strings (under 64 UTF-16 units, so at most 189 UTF-8 bytes): written
   * by hand in one pass after a reserved header, which beats TextEncoder's
   * call overhead; the header is fixed up once the length is known.
   */
  private shortString(s: string): void {
    const length = s.length;
    const reserved = length <= 10 ? 1 : 2; // 10 units make at most 30 bytes: a fixstr
    this.ensure(reserved + length * 3);
    const bytes = this.bytes;
    const start = this.pos;
    let p = start + reserved;
    for (let i = 0; i < length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        bytes[p++] = c;
      } else if (c < 0x800) {
        bytes[p++] = 0xc0 | (c >> 6);
        bytes[p++] = 0x80 | (c & 0x3f);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const d = s.charCodeAt(i + 1);
        if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) throw loneSurrogate();
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        bytes[p++] = 0xf0 | (c >> 18);
        bytes[p++] = 0x80 | ((c >> 12) & 0x3f);
        bytes[p++] = 0x80 | ((c >> 6) & 0x3f);
        bytes[p++] = 0x80 | (c & 0x3f);
      } else {
        bytes[p++] = 0xe0 | (c >> 12);
        bytes[p++] = 0x80 | ((c >> 6) & 0x3f);
        bytes[p++] = 0x80 | (c & 0x3f);
      }
    }
    const byteLength = p - start - reserved;
    if (reserved === 1) {
      bytes[start] = 0xa0 | byteLength;
    } else if (byteLength < 32) {
      bytes.copyWithin(start + 1, start + 2, p);
      bytes[start] = 0xa0 | byteLength;
      p -= 1;
    } else {
      bytes[start] = 0xd9;
      bytes[start + 1] = byteLength;
    }
    this.pos = p;
  }

  private binary(data: Uint8Array): void {
    const length = data.length;
    if (length > this.maxValueBytes) this.tooLarge('binary', length);
    if (length < 0x100) this.head(0xc4, length, 1);
    else if (length < 0x10000) this.head(0xc5, length, 2);
    else this.head(0xc6, length, 4);
    this.ensure(length);
    this.bytes.set(data, this.pos);
    this.pos += length;
  }

  private object(value: object, depth: number): void {
    if (depth >= this.maxDepth) {
      throw new NetError('SEND_ERROR', `the value nests deeper than maxDepth (${this.maxDepth}); is it circular?`, {
        limit: 'maxDepth',
        max: this.maxDepth,
        actual: depth + 1,
      });
    }
    if (Array.isArray(value)) return this.array(value as unknown[], depth);
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return this.map(value as Record<string, unknown>, depth);
    if (value instanceof Uint8Array) return this.binary(value);
    if (value instanceof ArrayBuffer) return this.binary(new Uint8Array(value));
    if (value instanceof ExtData) return this.ext(value.type, value.data instanceof Uint8Array ? value.data : value.data(0));
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw new NetError('SEND_ERROR', 'cannot encode an invalid Date');
      return this.ext(-1, encodeTimestampExtension(value)!);
    }
    const ext = this.extensionCodec?.tryToEncode(value, undefined);
    if (ext) return this.ext(ext.type, ext.data instanceof Uint8Array ? ext.data : ext.data(0));
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    throw new NetError(
      'SEND_ERROR',
      `cannot encode a ${name}: MessagePack carries plain objects, arrays, Uint8Array, Date and ExtData only (convert it, or register an extension codec)`,
    );
  }

  private array(items: unknown[], depth: number): void {
    const length = items.length;
    if (length > this.maxValueBytes) this.tooLarge('array', length);
    if (length < 16) this.u8(0x90 | length);
    else if (length < 0x10000) this.head(0xdc, length, 2);
    else this.head(0xdd, length, 4);
    for (let i = 0; i < length; i++) this.write(items[i], depth + 1);
  }

  private map(record: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(record);
    // Object.keys skips symbol keys: refuse them rather than drop them silently.
    if (Object.getOwnPropertySymbols(record).length > 0) {
      throw new NetError('SEND_ERROR', 'cannot encode a symbol-keyed property: MessagePack map keys are strings or numbers');
    }
    if (this.sortKeys) keys.sort();
    const length = keys.length;
    if (length < 16) this.u8(0x80 | length);
    else if (length < 0x10000) this.head(0xde, length, 2);
    else this.head(0xdf, length, 4);
    for (const key of keys) {
      this.string(key);
      this.write(record[key], depth + 1);
    }
  }

  private ext(type: number, data: Uint8Array): void {
    const length = data.length;
    const fixed = length === 1 ? 0xd4 : length === 2 ? 0xd5 : length === 4 ? 0xd6 : length === 8 ? 0xd7 : length === 16 ? 0xd8 : 0;
    if (fixed !== 0) this.u8(fixed);
    else if (length < 0x100) this.head(0xc7, length, 1);
    else if (length < 0x10000) this.head(0xc8, length, 2);
    else this.head(0xc9, length, 4);
    this.u8(type & 0xff);
    this.ensure(length);
    this.bytes.set(data, this.pos);
    this.pos += length;
  }

  private tooLarge(what: string, length: number): never {
    throw new NetError('SEND_ERROR', `the ${what} (${length}) exceeds maxValueBytes (${this.maxValueBytes})`, {
      limit: 'maxValueBytes',
      max: this.maxValueBytes,
      actual: length,
    });
  }
}

function loneSurrogate(): NetError {
  return new NetError('SEND_ERROR', 'cannot encode a string with a lone UTF-16 surrogate: it has no UTF-8 form');
}
