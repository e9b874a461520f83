import { NetError } from '../errors.js';
import { defaultExtensionCodec } from './defaultExtensionCodec.js';
import type { ExtensionCodecType } from './ExtData.js';
import { FrameScanner } from './FrameScanner.js';
import { resolveDecodeLimits, type DecodeLimits, type ResolvedDecodeLimits } from './limits.js';
import { FALLBACK, ValueDecoder } from './ValueDecoder.js';

/** Options of {@link FrameDecoder} and `decodeFrames`. */
export interface FrameDecoderConfig extends DecodeLimits {
  /**
   * Limits for the first value only (the handshake `[init, id]`), over the
   * ones above. @default the same limits as every other value
   */
  readonly first?: DecodeLimits;
  /** Extension types to decode; see the README's codec policy. @default timestamps as `Date` (as `ExtData` beyond the `Date` range), others as `ExtData` */
  readonly extensionCodec?: ExtensionCodecType;
}

const resolvedConfigs = new WeakMap<FrameDecoderConfig, { limits: ResolvedDecodeLimits; first: ResolvedDecodeLimits | undefined }>();

/** One value decoder per extension codec: decoding keeps no state between values, so all decoders with the default codec share one. */
let defaultValues: ValueDecoder | undefined;

function valuesFor(extensionCodec: ExtensionCodecType | undefined): ValueDecoder {
  if (extensionCodec !== undefined) return new ValueDecoder(extensionCodec);
  return (defaultValues ??= new ValueDecoder(defaultExtensionCodec, true));
}

/**
 * Turns byte chunks, split anywhere, into MessagePack values, synchronously.
 *
 * Complete values are decoded in place by the package's own decoder: a plain
 * one (with the default extension codec) in one pass that checks every limit
 * as it goes; any other, and the handshake under its own limits, after a
 * `FrameScanner` (internal) has found where it ends and checked its limits,
 * header by header. Only a value split across chunks is gathered, once, into
 * one buffer, until the chunk that ends it.
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
  private readonly values: ValueDecoder;
  /**
   * The start of a value cut off at the end of a chunk, gathered (copied) in
   * one buffer until the chunk that ends it: one buffer however many chunks
   * it spans (a peer sending one byte per chunk costs its bytes, not an
   * object per byte). Never reused: decoded binaries are views into it.
   */
  private held: Uint8Array | undefined;
  private heldLength = 0;
  private firstPending: boolean;
  /** Inside {@link write}: a second, nested write (from `emit` or an extension codec) would read the scanner's state mid-chunk. */
  private writing = false;

  constructor(config: FrameDecoderConfig = {}) {
    // A config object seen before (a node passes the same one to every connection) is resolved once.
    let resolved = resolvedConfigs.get(config);
    if (!resolved) {
      const limits = resolveDecodeLimits(config);
      resolved = { limits, first: config.first === undefined ? undefined : resolveDecodeLimits(config.first, limits) };
      resolvedConfigs.set(config, resolved);
    }
    const { limits, first } = resolved;
    this.limits = limits;
    this.firstPending = first !== undefined;
    this.scanner = new FrameScanner(first ?? limits);
    this.values = valuesFor(config.extensionCodec);
  }

  /**
   * Arrays, maps, binaries and extensions in every value read so far (to meter the heap the stream
   * costs), as of the end of the last {@link write} (within a write, or after one that threw, it may not
   * count every value of that chunk yet).
   */
  get objectsScanned(): number {
    return this.scanner.objectsTotal;
  }

  /** Bytes held for a value that has not ended yet. */
  get bufferedBytes(): number {
    return this.heldLength;
  }

  /**
   * Feeds one chunk; calls `emit` (with `this` set to `thisArg`, as
   * `Array#forEach` does) for every value it completes, in order.
   * Throws a `READ_ERROR` {@link NetError} at the first invalid value, after
   * emitting the values before it; the next write then starts a new value
   * (the bytes after a bad one cannot be trusted: a stream should end there).
   * What `emit` throws passes through as it is. Not re-entrant: `emit` (or
   * an extension codec) must not write to the same decoder.
   */
  write<T = undefined>(chunk: Uint8Array, emit: (this: T, value: unknown) => void, thisArg?: T): void {
    if (this.writing) {
      throw new TypeError(
        'FrameDecoder.write was called from inside its own write (an emit callback or an extension codec): use another FrameDecoder',
      );
    }
    this.writing = true;
    const end = chunk.length;
    const scanner = this.scanner;
    let p = 0;
    try {
      if (this.held !== undefined) {
        // The end of a value that began in an earlier chunk: gathered, then decoded alone.
        const q = scanner.scan(chunk, 0, end);
        if (q < 0) {
          this.keep(chunk, 0, end);
          return;
        }
        this.keep(chunk, 0, q);
        const whole = this.held.subarray(0, this.heldLength);
        this.held = undefined;
        this.heldLength = 0;
        scanner.reset();
        this.firstDone();
        this.decode(whole, 0, 1, emit, thisArg);
        p = q;
      }
      // The whole values in the chunk, decoded in place: plain ones in one checking pass (with the package's
      // own extension codec), else, from the first that is not, scanned to the chunk's end and decoded in a
      // batch (the handshake alone, under its own limits).
      const values = this.values;
      const fused = values.ownCodec;
      const fixints = this.limits.maxValueBytes > 0; // a maxValueBytes of 0 refuses even those
      while (p < end) {
        if (fused && !this.firstPending) {
          const b = chunk[p]!;
          if (fixints && (b < 0x80 || b >= 0xe0)) {
            // A fixint alone: no call for it (a flood of small integers is all this).
            p++;
            emit.call(thisArg as T, b < 0x80 ? b : b - 0x100);
            continue;
          }
          const value = values.tryDecode(chunk, p, end, this.limits);
          if (value !== FALLBACK) {
            p = values.pos;
            scanner.objectsTotal += values.objects;
            emit.call(thisArg as T, value);
            continue;
          }
        }
        const batch = scanner.scanAll(chunk, p, end, this.firstPending ? 1 : Number.MAX_SAFE_INTEGER);
        if (batch.count > 0) {
          this.firstDone();
          this.decode(chunk, p, batch.count, emit, thisArg);
        }
        if (batch.error) throw batch.error;
        p = batch.end;
        if (scanner.inProgress) {
          this.keep(chunk, p, end);
          return;
        }
      }
    } catch (error) {
      // The stream cannot be read past a bad value; a caller that goes on (one value per write, as a
      // node's messages to itself) starts afresh with the next write rather than inside the bad value.
      this.held = undefined;
      this.heldLength = 0;
      scanner.abandon();
      throw error;
    } finally {
      this.writing = false;
      this.values.release();
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

  /** After the first value: every later one has the node's limits. */
  private firstDone(): void {
    if (!this.firstPending) return;
    this.firstPending = false;
    this.scanner.limits = this.limits;
    this.scanner.trim();
  }

  /** Appends `chunk[from, to)` to the value being gathered, growing its buffer to what the scanner announced (or doubling, within the limit). */
  private keep(chunk: Uint8Array, from: number, to: number): void {
    const need = this.heldLength + (to - from);
    let held = this.held;
    if (held === undefined || need > held.length) {
      const grown = new Uint8Array(Math.max(need, this.scanner.size, Math.min(2 * need, this.limits.maxValueBytes)));
      if (held !== undefined) grown.set(held.subarray(0, this.heldLength));
      this.held = held = grown;
    }
    held.set(chunk.subarray(from, to), this.heldLength);
    this.heldLength = need;
  }

  /** Decodes the `count` whole values from `bytes[start]` on, emitting each as soon as it is decoded. */
  private decode<T>(
    bytes: Uint8Array,
    start: number,
    count: number,
    emit: (this: T, value: unknown) => void,
    thisArg: T | undefined,
  ): void {
    const values = this.values;
    let p = start;
    for (let i = 0; i < count; i++) {
      // The decoder throws READ_ERRORs only; what `emit` throws passes as it is.
      const value = values.decode(bytes, p);
      p = values.pos;
      emit.call(thisArg as T, value);
    }
  }
}
