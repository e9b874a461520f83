import { Observable, type OperatorFunction } from 'rxjs';
import { Encoder, type EncoderConfig } from '../codec/Encoder.js';

/** Options of {@link encodeFrames}. */
export type EncodeFramesConfig = EncoderConfig;

/**
 * Encodes each value as MessagePack, one `Uint8Array` per value; concatenated,
 * they are the wire format (no length prefix).
 *
 * Errors with a `SEND_ERROR` `NetError` for a value MessagePack cannot carry
 * faithfully (see `Encoder`) or one over `maxValueBytes`. Completes with the
 * source.
 *
 * @example
 * ```ts
 * import { of } from 'rxjs';
 * import { encodeFrames } from 'msgpacknet';
 * of([7, 1], 42).pipe(encodeFrames()).subscribe((bytes) => console.log(bytes)); // 92 07 01, then 2a
 * ```
 */
export function encodeFrames(config: EncodeFramesConfig = {}): OperatorFunction<unknown, Uint8Array> {
  return (source) =>
    new Observable<Uint8Array>((subscriber) => {
      const encoder = new Encoder(config);
      return source.subscribe({
        next(value) {
          let bytes: Uint8Array;
          try {
            bytes = encoder.encode(value);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          subscriber.next(bytes);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
