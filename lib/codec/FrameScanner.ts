import { NetError, limitError } from '../errors.js';
import { ElementsModel } from './ElementsModel.js';
import type { ResolvedDecodeLimits } from './limits.js';

/** What {@link FrameScanner.scanAll} found. */
export interface ScanResult {
  /** The offset after the last whole value (where a cut-off value, or the bad one, starts). */
  readonly end: number;
  /** Whole values in `[start, end)`. */
  readonly count: number;
  /** The `READ_ERROR` of the value at `end`, if it is invalid or breaks a limit. */
  readonly error: NetError | undefined;
}

/** The longest header that must be read whole to learn a length (`c9` + u32; the ext type byte is skipped as body). */
const MAX_LENGTH_HEADER = 5;

/** Heap bytes one counted object stands for (see `maxObjects`); element storage is charged in these units. */
const OBJECT_COST = 200;
/** The largest array index (2^32 - 2). */
const MAX_INDEX = 0xfffffffe;

/**
 * Finds where one MessagePack value ends, without decoding it.
 *
 * It walks type bytes and lengths, keeping a stack of the items still owed by
 * open arrays and maps, and skips string, binary and extension bodies. Its
 * state survives between calls, so a value split anywhere (even one byte per
 * call) is scanned once, never re-scanned. Every limit is checked at the
 * header that announces a length, before a byte of the body is buffered.
 *
 * Internal to the codec: {@link FrameDecoder} drives it.
 */
export class FrameScanner {
  /** The limits of the value being scanned (the decoder switches them after the handshake). */
  limits: ResolvedDecodeLimits;
  /** Bytes of the current value accounted so far, bodies included as soon as announced. */
  size = 0;
  /** Arrays, maps, binaries and extensions in the current value (each costs far more heap than its bytes). */
  objects = 0;
  /** Objects in every value scanned so far (for callers that meter the heap a stream costs). */
  objectsTotal = 0;
  /** True once the current value is complete. */
  done = false;

  /** Items still owed by each open container, innermost last: positive for an array, negative for a map. */
  private stack: number[] = [];
  /** What V8 allocates for the index keys of the open maps. */
  private readonly elements = new ElementsModel();
  private owed = 0;
  private skip = 0;
  /** A header split across calls, completed here (made when first needed: most connections never split one). */
  private header: Uint8Array | undefined;
  private headerLength = 0;

  constructor(limits: ResolvedDecodeLimits) {
    this.limits = limits;
  }

  /** Has part of a value been seen? */
  get inProgress(): boolean {
    return this.size > 0 || this.headerLength > 0;
  }

  /** Lets go of the stacks' storage (after the handshake: an idle connection then holds none). */
  trim(): void {
    if (this.stack.length > 0) return;
    this.stack = [];
    this.elements.trim();
  }

  /** Forgets the completed value and gets ready for the next (a completed value leaves no open container, skip or header). */
  reset(): void {
    this.size = 0;
    this.objects = 0;
    this.done = false;
  }

  /** Forgets a value left half-scanned by an error: the next byte is read as the start of a new value. */
  abandon(): void {
    this.reset();
    this.stack.length = 0;
    this.elements.closed(0);
    this.owed = 0;
    this.skip = 0;
    this.headerLength = 0;
  }

  /**
   * Scans at most `max` whole values from `bytes[start, end)`. A value cut
   * off at the end stays in the scanner's state for the next call
   * ({@link inProgress}). An invalid value or a broken limit does not throw:
   * it is returned as `error`, after the whole values before it.
   */
  scanAll(bytes: Uint8Array, start: number, end: number, max: number): ScanResult {
    let p = start;
    let count = 0;
    // A one-byte value keeps every limit but a maxValueBytes of 0.
    const oneByte = this.limits.maxValueBytes > 0;
    try {
      while (p < end && count < max) {
        if (this.size === 0 && this.headerLength === 0) {
          // Fast path: a one-byte value on its own (fixints, nil, booleans).
          const b = bytes[p]!;
          if (oneByte && (b < 0x80 || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3)) {
            p++;
            count++;
            continue;
          }
          // Fast path: a whole, shallow value within these bytes, no key that may be an array index.
          const q = wholeValue(bytes, p, end, this.limits);
          if (q > 0) {
            this.objectsTotal += whole.objects;
            p = q;
            count++;
            continue;
          }
        }
        const q = this.scan(bytes, p, end);
        if (q < 0) break;
        this.reset();
        p = q;
        count++;
      }
    } catch (error) {
      return { end: p, count, error: error as NetError };
    }
    return { end: p, count, error: undefined };
  }

  /**
   * Scans `bytes[start, end)`. Returns the offset just past the end of the
   * current value when it completes there, or -1 when every byte was consumed
   * and the value is still incomplete. Throws a `READ_ERROR` {@link NetError}
   * for invalid bytes or a broken limit.
   */
  scan(bytes: Uint8Array, start: number, end: number): number {
    let p = start;
    if (this.headerLength > 0) {
      // A header split across calls: complete it in the scratch buffer.
      const had = this.headerLength;
      const take = Math.min(MAX_LENGTH_HEADER - had, end - p);
      const header = (this.header ??= new Uint8Array(MAX_LENGTH_HEADER));
      header.set(bytes.subarray(p, p + take), had);
      const used = this.step(header, 0, had + take);
      if (used === 0) {
        this.headerLength = had + take;
        return -1;
      }
      this.headerLength = 0;
      p += used - had;
      if (this.done) return p;
    }
    while (p < end) {
      if (this.skip > 0) {
        const available = end - p;
        if (available < this.skip) {
          this.skip -= available;
          return -1;
        }
        p += this.skip;
        this.skip = 0;
        this.itemDone();
        if (this.done) return p;
        continue;
      }
      const used = this.step(bytes, p, end - p);
      if (used === 0) {
        (this.header ??= new Uint8Array(MAX_LENGTH_HEADER)).set(bytes.subarray(p, end), 0);
        this.headerLength = end - p;
        return -1;
      }
      p += used;
      if (this.done) return p;
    }
    return -1;
  }

  /** Reads one header at `bytes[o]`; returns the header length, or 0 when more bytes are needed. */
  private step(bytes: Uint8Array, o: number, available: number): number {
    const b = bytes[o]!;
    if (b < 0x80) {
      if (this.atKey()) this.indexKey(b);
      return this.scalar(0);
    }
    if (b >= 0xe0) return this.scalar(0);
    if (b < 0x90) return this.open(b & 0x0f, true, 1);
    if (b < 0xa0) return this.open(b & 0x0f, false, 1);
    if (b < 0xc0) {
      // A key like "seq" is never an index: only a digit first (or not yet read) needs a look.
      if (available > 1 && (bytes[o + 1]! < 0x30 || bytes[o + 1]! > 0x39)) return this.body(b & 0x1f, 1, 'maxStrLength', 'string');
      if (this.atKey()) this.stringKey(bytes, o + 1, available - 1, b & 0x1f);
      return this.body(b & 0x1f, 1, 'maxStrLength', 'string');
    }
    if (b >= 0xca && b <= 0xdb && this.atKey()) this.otherKey(b, bytes, o, available);
    switch (b) {
      case 0xc0:
      case 0xc2:
      case 0xc3:
        return this.scalar(0);
      case 0xc1:
        throw new NetError('READ_ERROR', 'invalid MessagePack: the type byte 0xc1 is never used');
      case 0xc4:
        return available < 2 ? 0 : this.body(bytes[o + 1]!, 2, 'maxBinLength', 'binary');
      case 0xc5:
        return available < 3 ? 0 : this.body(u16(bytes, o + 1), 3, 'maxBinLength', 'binary');
      case 0xc6:
        return available < 5 ? 0 : this.body(u32(bytes, o + 1), 5, 'maxBinLength', 'binary');
      case 0xc7:
        return available < 2 ? 0 : this.body(bytes[o + 1]!, 2, 'maxExtLength', 'extension', 1);
      case 0xc8:
        return available < 3 ? 0 : this.body(u16(bytes, o + 1), 3, 'maxExtLength', 'extension', 1);
      case 0xc9:
        return available < 5 ? 0 : this.body(u32(bytes, o + 1), 5, 'maxExtLength', 'extension', 1);
      case 0xcc:
      case 0xd0:
        return this.scalar(1);
      case 0xcd:
      case 0xd1:
        return this.scalar(2);
      case 0xca:
      case 0xce:
      case 0xd2:
        return this.scalar(4);
      case 0xcb:
      case 0xcf:
      case 0xd3:
        return this.scalar(8);
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        // fixext: a type byte, then 1, 2, 4, 8 or 16 bytes
        this.object();
        return this.scalar(1 + (1 << (b - 0xd4)));
      case 0xd9:
        return available < 2 ? 0 : this.body(bytes[o + 1]!, 2, 'maxStrLength', 'string');
      case 0xda:
        return available < 3 ? 0 : this.body(u16(bytes, o + 1), 3, 'maxStrLength', 'string');
      case 0xdb:
        return available < 5 ? 0 : this.body(u32(bytes, o + 1), 5, 'maxStrLength', 'string');
      case 0xdc:
        return available < 3 ? 0 : this.open(u16(bytes, o + 1), false, 3);
      case 0xdd:
        return available < 5 ? 0 : this.open(u32(bytes, o + 1), false, 5);
      case 0xde:
        return available < 3 ? 0 : this.open(u16(bytes, o + 1), true, 3);
      default: // 0xdf
        return available < 5 ? 0 : this.open(u32(bytes, o + 1), true, 5);
    }
  }

  /** A value of fixed size: its type byte now, `rest` bytes skipped. */
  private scalar(rest: number): number {
    this.size += 1 + rest;
    this.checkSize(this.size);
    if (rest === 0) this.itemDone();
    else this.skip = rest;
    return 1;
  }

  /** A string, binary or extension: the length is checked before any of the body is buffered. */
  private body(
    length: number,
    headerLength: number,
    limit: 'maxStrLength' | 'maxBinLength' | 'maxExtLength',
    what: string,
    extra = 0,
  ): number {
    const max = this.limits[limit];
    if (length > max) throw limitError(limit, max, length, `${what} length`);
    if (limit !== 'maxStrLength') this.object();
    this.size += headerLength + extra + length;
    this.checkSize(this.size);
    this.skip = extra + length;
    if (this.skip === 0) this.itemDone();
    return headerLength;
  }

  /** An array or map of `length` items (pairs for a map). */
  private open(length: number, isMap: boolean, headerLength: number): number {
    const limit = isMap ? 'maxMapLength' : 'maxArrayLength';
    const max = this.limits[limit];
    if (length > max) throw limitError(limit, max, length, isMap ? 'map length' : 'array length');
    this.size += headerLength;
    // An empty container is a level too: `[[]]` nests 2 deep.
    const depth = this.stack.length + 1;
    if (depth > this.limits.maxDepth) throw limitError('maxDepth', this.limits.maxDepth, depth, 'nesting depth');
    this.object();
    if (length === 0) {
      this.checkSize(this.size);
      this.itemDone();
      return headerLength;
    }
    const items = isMap ? 2 * length : length;
    // Every owed item takes at least one byte: refuse a value that cannot fit before waiting for it.
    // Every open container owes, among its items, the one in progress (this one, or the one that holds
    // it), whose first byte is already counted: hence one item less per open container.
    this.checkSize(this.size + this.owed - this.stack.length + items);
    this.stack.push(isMap ? -items : items);
    this.owed += items;
    return headerLength;
  }

  /** One more array, map, binary or extension in the current value. */
  private object(): void {
    this.charge(1);
  }

  /** Counts `units` objects (heap in {@link OBJECT_COST} units) against `maxObjects`. */
  private charge(units: number): void {
    this.objectsTotal += units;
    if ((this.objects += units) > this.limits.maxObjects) {
      throw limitError('maxObjects', this.limits.maxObjects, this.objects, 'objects in one value');
    }
  }

  /** Is the next item a map key? (the innermost container is a map owing an even number of items) */
  private atKey(): boolean {
    const owed = this.stack[this.stack.length - 1];
    return owed !== undefined && owed < 0 && (owed & 1) === 0;
  }

  /** A map key that V8 may store as an array index `k` (NaN: it may be, the value is not at hand): charges the storage. */
  private indexKey(k: number): void {
    const bytes = this.elements.key(this.stack.length, k);
    if (bytes > 0) this.charge(Math.ceil(bytes / OBJECT_COST));
  }

  /** A string map key of `length` bytes at `bytes[start]`: an array index if it is a canonical decimal below 2^32 - 1. */
  private stringKey(bytes: Uint8Array, start: number, available: number, length: number): void {
    if (length === 0 || length > 10) return;
    if (available < length) return this.indexKey(Number.NaN); // split across reads: assume the worst
    let k = 0;
    for (let i = 0; i < length; i++) {
      const digit = bytes[start + i]! - 0x30;
      if (digit < 0 || digit > 9 || (i === 0 && digit === 0 && length > 1)) return;
      k = k * 10 + digit;
    }
    if (k <= MAX_INDEX) this.indexKey(k);
  }

  /** A map key of any other type: integers (signed or not) and floats may be array indices. */
  private otherKey(b: number, bytes: Uint8Array, o: number, available: number): void {
    let k: number;
    switch (b) {
      case 0xcc:
        k = available < 2 ? Number.NaN : bytes[o + 1]!;
        break;
      case 0xd0:
        k = available < 2 ? Number.NaN : (bytes[o + 1]! << 24) >> 24;
        break;
      case 0xcd:
        k = available < 3 ? Number.NaN : u16(bytes, o + 1);
        break;
      case 0xd1:
        k = available < 3 ? Number.NaN : (u16(bytes, o + 1) << 16) >> 16;
        break;
      case 0xce:
        k = available < 5 ? Number.NaN : u32(bytes, o + 1);
        break;
      case 0xd2:
        k = available < 5 ? Number.NaN : u32(bytes, o + 1) | 0;
        break;
      case 0xcf:
      case 0xd3:
        k = available < 9 ? Number.NaN : u32(bytes, o + 1) === 0 ? u32(bytes, o + 5) : -1;
        break;
      case 0xca:
      case 0xcb:
        k = Number.NaN; // an integral float is an index too; rare as a key, so assume the worst
        break;
      case 0xd9:
        if (available >= 2) this.stringKey(bytes, o + 2, available - 2, bytes[o + 1]!);
        else this.indexKey(Number.NaN);
        return;
      case 0xda:
      case 0xdb: {
        // A key this short in a longer form is odd, but possible: read it the same way.
        const header = b === 0xda ? 3 : 5;
        if (available < header) return this.indexKey(Number.NaN);
        this.stringKey(bytes, o + header, available - header, b === 0xda ? u16(bytes, o + 1) : u32(bytes, o + 1));
        return;
      }
      default:
        return; // nil, booleans, binaries, extensions, containers: never an index (and refused as keys when decoded)
    }
    if (Number.isNaN(k) || (k >= 0 && k <= MAX_INDEX)) this.indexKey(k);
  }

  private checkSize(size: number): void {
    const max = this.limits.maxValueBytes;
    if (size > max) throw limitError('maxValueBytes', max, size, 'value size');
  }

  /** One item finished: close every container it completes; the value is done when none is open. */
  private itemDone(): void {
    const stack = this.stack;
    while (stack.length > 0) {
      this.owed -= 1;
      const top = stack.length - 1;
      const owed = stack[top]!;
      const left = owed > 0 ? owed - 1 : owed + 1;
      if (left !== 0) {
        stack[top] = left;
        return;
      }
      stack.pop();
      this.elements.closed(stack.length);
    }
    this.done = true;
  }
}

function u16(bytes: Uint8Array, o: number): number {
  return (bytes[o]! << 8) | bytes[o + 1]!;
}

function u32(bytes: Uint8Array, o: number): number {
  return bytes[o]! * 0x1000000 + ((bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!);
}

/** The deepest nesting {@link wholeValue} follows (deeper values take the general path). */
const WHOLE_DEPTH = 16;
/** Items still owed per open container (negative: a map), for {@link wholeValue}: one for all scanners (it never yields). */
const wholeStack = new Int32Array(WHOLE_DEPTH);
/** What the last successful {@link wholeValue} found besides its end. */
const whole = { objects: 0 };

/**
 * The fast path of {@link FrameScanner.scanAll}: the end of the value at
 * `b[start]` when all of it lies in `b[start, end)`, nests at most
 * {@link WHOLE_DEPTH} deep, keeps every limit, and has only string keys that
 * cannot be array indices (no digit first); else -1, and the general,
 * resumable scan takes it (and reports any broken limit). One tight loop
 * with no per-item calls or state: the common message is a small map.
 */
function wholeValue(b: Uint8Array, start: number, end: number, limits: ResolvedDecodeLimits): number {
  const { maxStrLength, maxBinLength, maxExtLength, maxArrayLength, maxMapLength, maxDepth } = limits;
  const stack = wholeStack;
  let p = start;
  let depth = 0;
  let objects = 0;
  for (;;) {
    if (p >= end) return -1;
    const t = b[p]!;
    if (depth > 0) {
      const owed = stack[depth - 1]!;
      // A map key: only a fixstr whose first byte is not a digit (never an array index); else the general path.
      if (
        owed < 0 &&
        (owed & 1) === 0 &&
        (t < 0xa0 || t >= 0xc0 || ((t & 0x1f) > 0 && (p + 1 >= end || (b[p + 1]! >= 0x30 && b[p + 1]! <= 0x39))))
      ) {
        return -1;
      }
    }
    let length = 0;
    let isMap = false;
    let container = false;
    if (t < 0x80 || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) p += 1;
    else if (t < 0xa0) {
      container = true;
      isMap = t < 0x90;
      length = t & 0x0f;
      p += 1;
    } else if (t < 0xc0) {
      length = t & 0x1f;
      if (length > maxStrLength) return -1;
      p += 1 + length;
    } else {
      if (p + 5 > end) return -1; // the longest length header, whole (the value's end check needs it anyway)
      switch (t) {
        case 0xc4:
        case 0xc5:
        case 0xc6: {
          const header = t === 0xc4 ? 2 : t === 0xc5 ? 3 : 5;
          length = t === 0xc4 ? b[p + 1]! : t === 0xc5 ? u16(b, p + 1) : u32(b, p + 1);
          if (length > maxBinLength) return -1;
          objects++;
          p += header + length;
          break;
        }
        case 0xd9:
        case 0xda:
        case 0xdb: {
          const header = t === 0xd9 ? 2 : t === 0xda ? 3 : 5;
          length = t === 0xd9 ? b[p + 1]! : t === 0xda ? u16(b, p + 1) : u32(b, p + 1);
          if (length > maxStrLength) return -1;
          p += header + length;
          break;
        }
        case 0xc7:
        case 0xc8:
        case 0xc9: {
          const header = t === 0xc7 ? 2 : t === 0xc8 ? 3 : 5;
          length = t === 0xc7 ? b[p + 1]! : t === 0xc8 ? u16(b, p + 1) : u32(b, p + 1);
          if (length > maxExtLength) return -1;
          objects++;
          p += header + 1 + length;
          break;
        }
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
          objects++;
          p += 2 + (1 << (t - 0xd4));
          break;
        case 0xcc:
        case 0xd0:
          p += 2;
          break;
        case 0xcd:
        case 0xd1:
          p += 3;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          p += 5;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          p += 9;
          break;
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf:
          container = true;
          isMap = t >= 0xde;
          length = t === 0xdc || t === 0xde ? u16(b, p + 1) : u32(b, p + 1);
          p += t === 0xdc || t === 0xde ? 3 : 5;
          break;
        default:
          return -1; // 0xc1: invalid, reported by the general path
      }
    }
    if (container) {
      if (length > (isMap ? maxMapLength : maxArrayLength) || depth + 1 > maxDepth) return -1;
      objects++;
      if (length > 0) {
        if (depth === WHOLE_DEPTH) return -1;
        stack[depth++] = isMap ? -2 * length : length;
        continue;
      }
    }
    // An item is complete: close every container it completes.
    while (depth > 0) {
      const owed = stack[depth - 1]!;
      const left = owed > 0 ? owed - 1 : owed + 1;
      if (left !== 0) {
        stack[depth - 1] = left;
        break;
      }
      depth--;
    }
    if (depth === 0) {
      if (p > end || p - start > limits.maxValueBytes || objects > limits.maxObjects) return -1;
      whole.objects = objects;
      return p;
    }
  }
}
