import { Observable, type OperatorFunction } from 'rxjs';
import { FrameDecoder, type FrameDecoderConfig } from '../codec/FrameDecoder.js';
import { resolveDecodeLimits } from '../codec/limits.js';

/** Options of {@link decodeFrames}: the decode limits, and limits for the first value. */
export type DecodeFramesConfig = FrameDecoderConfig;

/**
 * Turns byte chunks, split anywhere (even one byte at a time), into the
 * MessagePack values they carry, back to back with no length prefix,
 * synchronously: each value is emitted during the `next` of the chunk that
 * completes it.
 *
 * It finds where a value ends by reading MessagePack headers, so a broken
 * limit fails at the header, before the bytes it announces are buffered.
 * Integers beyond `Number.MAX_SAFE_INTEGER` decode as `bigint`.
 *
 * Errors with a `READ_ERROR` `NetError` (its `limit`, `max` and `actual` name
 * a broken limit) at the first invalid value, after emitting the values
 * before it; and when the source completes inside a value. Completes when
 * the source completes on a value boundary. Unsubscribing drops any partial
 * value. Bad limits throw a `TypeError` when the operator is built.
 *
 * @example
 * ```ts
 * import { of } from 'rxjs';
 * import { decodeFrames } from 'msgpacknet';
 * of(Uint8Array.of(0x92, 0x07), Uint8Array.of(0x01, 0x2a))
 *   .pipe(decodeFrames({ maxValueBytes: 1024 }))
 *   .subscribe((value) => console.log(value)); // [7, 1], then 42
 * ```
 */
export function decodeFrames(config: DecodeFramesConfig = {}): OperatorFunction<Uint8Array, unknown> {
  // Validate once, when the operator is built.
  resolveDecodeLimits(config);
  if (config.first) resolveDecodeLimits(config.first);
  return (source) =>
    new Observable<unknown>((subscriber) => {
      const decoder = new FrameDecoder(config);
      const emit = (value: unknown): void => subscriber.next(value);
      return source.subscribe({
        next(chunk) {
          try {
            decoder.write(chunk, emit);
          } catch (error) {
            subscriber.error(error);
          }
        },
        error(error: unknown) {
          subscriber.error(error);
        },
        complete() {
          try {
            decoder.end();
            subscriber.complete();
          } catch (error) {
            subscriber.error(error);
          }
        },
      });
    });
}
