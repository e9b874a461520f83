import { Observable, type OperatorFunction, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { FrameDecoder as Decoder, type FrameDecoderConfig } from './codec/FrameDecoder.js';
import { idleError } from './errors.js';

/** Options of {@link readFrames}. */
export interface ReadFramesConfig {
  /** The limits of every value, and of the first (the handshake): one object for every connection of a node, resolved once. */
  readonly frames: FrameDecoderConfig;
  /** ms without a chunk after which the stream errors with `TIMEOUT` (`limit: 'idleTimeout'`). */
  readonly idle: number;
  readonly scheduler: SchedulerLike;
  /** For the idle error. */
  readonly address: string;
  /**
   * After each chunk's values were emitted: its length and the objects the
   * scanner counted in it (arrays, maps, binaries, extensions, index-key
   * slots), so the connection can count traffic and meter the heap it reads.
   */
  readonly onChunk: (length: number, objects: number, values: number) => void;
  /** Told of a failure (the source's, a bad value, idle) just before it is passed on. */
  readonly onFail: (error: unknown) => void;
}

/**
 * A connection's read path as one operator: byte chunks in, decoded frames
 * out (`decodeFrames`, with the handshake's own limits on the first value),
 * erroring with `TIMEOUT` when nothing arrives for `idle` ms (the idea of
 * `idleTimeout`: a chunk only notes the time, and one timer re-arms itself
 * lazily for the rest of the period). One stage instead of four, because a
 * node may hold tens of thousands of connections and each stage costs
 * about half a kilobyte per connection. Internal; browser-safe.
 */
export function readFrames(config: ReadFramesConfig): OperatorFunction<Uint8Array, unknown> {
  const { idle, scheduler, address, onChunk, onFail } = config;
  return (source) =>
    new Observable<unknown>((subscriber) => {
      const decoder = new Decoder(config.frames);
      let last = scheduler.now();
      let objects = 0;
      let values = 0;
      const fail = (error: unknown): void => {
        onFail(error);
        subscriber.error(error);
      };
      const timer = scheduler.schedule(function (this: SchedulerAction<undefined>) {
        const left = last + idle - scheduler.now();
        if (left > 0) this.schedule(undefined, left);
        else fail(idleError(idle, { address }));
      }, idle);
      const emit = (value: unknown): void => {
        values++;
        subscriber.next(value);
      };
      const subscription = source.subscribe({
        next(chunk) {
          last = scheduler.now();
          values = 0;
          try {
            decoder.write(chunk, emit);
          } catch (error) {
            fail(error);
            return;
          }
          const total = decoder.objectsScanned;
          onChunk(chunk.length, total - objects, values);
          objects = total;
        },
        error: fail,
        complete() {
          try {
            decoder.end();
          } catch (error) {
            fail(error);
            return;
          }
          subscriber.complete();
        },
      });
      return () => {
        timer.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
