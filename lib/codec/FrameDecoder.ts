import { DecodeError, Decoder, type DecoderOptions, type ExtensionCodecType } from '@msgpack/msgpack';
import { NetError, toNetError } from '../errors.js';
import { defaultExtensionCodec } from './defaultExtensionCodec.js';
import { FrameScanner } from './FrameScanner.js';
import { resolveDecodeLimits, type DecodeLimits, type ResolvedDecodeLimits } from './limits.js';
import { normalizeInt64 } from './normalizeInt64.js';

/** Options of {@link FrameDecoder} and `decodeFrames`. */
export interface FrameDecoderConfig extends DecodeLimits {
  /**
   * Limits for the first value only (the handshake `[init, id]`), over the
   * ones above. @default the same limits as every other value
   */
  readonly first?: DecodeLimits;
  /** Extension types to decode; see the README's codec policy. @default timestamps as `Date` (as `ExtData` beyond the `Date` range), others as `ExtData` */
  readonly extensionCodec?: ExtensionCodecType<undefined>;
}

/** A leftover shorter than this is copied, so a small partial value never pins a large chunk. */
const COPY_LEFTOVER_BELOW = 4096;

function mapKey(key: unknown): string | number {
  if (typeof key === 'string' || typeof key === 'number') return key;
  if (typeof key === 'bigint') return Number.isSafeInteger(Number(key)) ? Number(key) : key.toString();
  throw new DecodeError(`a map key must be a string or a number, not ${typeof key}`);
}

/**
 * Turns byte chunks, split anywhere, into MessagePack values, synchronously.
 *
 * A {@link FrameScanner} finds where values end; complete values are decoded
 * in place by `@msgpack/msgpack`'s `Decoder` (one `decodeMulti` per chunk, or
 * `decode` when a chunk holds one value), and only a value split across
 * chunks is gathered, once, into one buffer.
 * Chunks are not copied: do not change a chunk after handing it over.
 *
 * This is the state machine behind `decodeFrames`; use it directly when
 * there is no Observable in the way (e.g. a benchmark or a custom transport).
 *
 * @example
 * ```ts
 * import { FrameDecoder } from 'msgpacknet';
 * const decoder = new FrameDecoder({ maxValueBytes: 1024 });
 * const values: unknown[] = [];
 * decoder.write(Uint8Array.of(0x92, 0x07), (value) => values.push(value));
 * decoder.write(Uint8Array.of(0x01, 0xa2, 0x68, 0x69), (value) => values.push(value));
 * decoder.end(); // throws READ_ERROR if a value was cut off
 * console.log(JSON.stringify(values)); // [[7,1],"hi"]
 * ```
 */
export class FrameDecoder {
  private readonly scanner: FrameScanner;
  private readonly limits: ResolvedDecodeLimits;
  /** The fast path: 64-bit integers as numbers (exact up to 2^53 - 1, all the scanner lets through it). */
  private readonly decoder: Decoder;
  /** The exact path, for batches holding an integer beyond 2^53 - 1: bigints, then safe ones back to numbers. Made when first needed. */
  private exact: Decoder | undefined;
  private readonly options: DecoderOptions;
  private parts: Uint8Array[] = [];
  private firstPending: boolean;

  constructor(config: FrameDecoderConfig = {}) {
    this.limits = resolveDecodeLimits(config);
    this.firstPending = config.first !== undefined;
    this.scanner = new FrameScanner(config.first ? resolveDecodeLimits(config.first, this.limits) : this.limits);
    const options: DecoderOptions = {
      maxStrLength: this.limits.maxStrLength,
      maxBinLength: this.limits.maxBinLength,
      maxExtLength: this.limits.maxExtLength,
      maxArrayLength: this.limits.maxArrayLength,
      maxMapLength: this.limits.maxMapLength,
      extensionCodec: config.extensionCodec ?? defaultExtensionCodec,
    };
    this.decoder = new Decoder({ ...options, useBigInt64: false });
    this.options = options;
  }

  /** Arrays, maps, binaries and extensions in every value scanned so far (to meter the heap the stream costs). */
  get objectsScanned(): number {
    return this.scanner.objectsTotal;
  }

  /** Bytes held for a value that has not ended yet. */
  get bufferedBytes(): number {
    let n = 0;
    for (const part of this.parts) n += part.length;
    return n;
  }

  /**
   * Feeds one chunk; calls `emit` for every value it completes, in order.
   * Throws a `READ_ERROR` {@link NetError} at the first invalid value, after
   * emitting the values before it.
   */
  write(chunk: Uint8Array, emit: (value: unknown) => void): void {
    const end = chunk.length;
    const scanner = this.scanner;
    let p = 0;
    if (scanner.inProgress) {
      const q = scanner.scan(chunk, 0, end);
      if (q < 0) {
        this.keep(chunk, 0);
        return;
      }
      this.parts.push(chunk.subarray(0, q));
      const whole = concat(this.parts);
      this.parts = [];
      const int64 = scanner.sawInt64;
      this.next();
      this.decodeRange(whole, 0, whole.length, int64, true, emit);
      p = q;
    }
    try {
      while (p < end) {
        if (this.firstPending) {
          // The first value has its own limits: scan and decode it alone, then switch.
          const q = scanner.scan(chunk, p, end);
          if (q < 0) {
            this.keep(chunk, p);
            return;
          }
          const int64 = scanner.sawInt64;
          this.next();
          this.decodeRange(chunk, p, q, int64, true, emit);
          p = q;
          continue;
        }
        let q = p;
        try {
          scanner.scanAll(chunk, p, end);
        } finally {
          // Values before a bad one are still delivered.
          q = scanner.completedTo;
          const int64 = scanner.batchInt64;
          scanner.batchInt64 = false;
          if (q > p) this.decodeRange(chunk, p, q, int64, scanner.lastStart === p, emit);
        }
        if (q < end) this.keep(chunk, q);
        return;
      }
    } catch (error) {
      this.parts = [];
      throw error;
    }
  }

  /**
   * Declares the end of input. Throws a `READ_ERROR` when a value was cut
   * off: bytes left over are an error, not silence.
   */
  end(): void {
    if (this.scanner.inProgress) {
      throw new NetError('READ_ERROR', `the stream ended inside a value (${this.scanner.size} bytes announced)`);
    }
  }

  private next(): void {
    this.scanner.reset();
    if (this.firstPending) {
      this.firstPending = false;
      this.scanner.limits = this.limits;
    }
  }

  private keep(chunk: Uint8Array, from: number): void {
    const rest = chunk.length - from;
    const small = rest < COPY_LEFTOVER_BELOW || rest * 2 < chunk.length;
    // A copy for a small leftover (a Buffer's slice() is a view, which would pin the whole chunk).
    this.parts.push(small ? new Uint8Array(chunk.subarray(from)) : chunk.subarray(from));
  }

  /** Decodes the whole values in `bytes[start, end)`; `single` when they are exactly one (no generator then). */
  private decodeRange(
    bytes: Uint8Array,
    start: number,
    end: number,
    int64: boolean,
    single: boolean,
    emit: (value: unknown) => void,
  ): void {
    const decoder = int64 ? (this.exact ??= new Decoder({ ...this.options, useBigInt64: true, mapKeyConverter: mapKey })) : this.decoder;
    if (single) {
      let value: unknown;
      try {
        value = decoder.decode(bytes.subarray(start, end));
      } catch (error) {
        throw toNetError(error, 'READ_ERROR', 'invalid MessagePack value');
      }
      emit(int64 ? normalizeInt64(value) : value);
      return;
    }
    let values: Generator<unknown, void, unknown>;
    try {
      values = decoder.decodeMulti(bytes.subarray(start, end));
    } catch (error) {
      throw toNetError(error, 'READ_ERROR', 'invalid MessagePack value');
    }
    for (;;) {
      let result: IteratorResult<unknown, void>;
      try {
        result = values.next();
      } catch (error) {
        throw toNetError(error, 'READ_ERROR', 'invalid MessagePack value');
      }
      if (result.done === true) return;
      emit(int64 ? normalizeInt64(result.value) : result.value);
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let length = 0;
  for (const part of parts) length += part.length;
  const whole = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}
