import { Observable, type OperatorFunction, type SchedulerAction, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import { FrameDecoder, type FrameDecoderConfig } from './codec/FrameDecoder.js';
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
   * After each chunk's values were emitted: its length, the objects the
   * scanner counted in it (arrays, maps, binaries, extensions, index-key
   * storage) and the values, so the connection can count traffic and meter
   * the heap it reads.
   */
  readonly onChunk: (length: number, objects: number, values: number) => void;
  /** Told of a failure (the source's, a bad value, idle) just before it is passed on. */
  readonly onFail: (error: unknown) => void;
}

/**
 * A connection's read path as one operator: byte chunks in, decoded frames
 * out (as `decodeFrames`, with the handshake's own limits on the first
 * value), erroring with `TIMEOUT` when nothing arrives for `idle` ms (as
 * `idleTimeout`: a chunk only notes the time, and one timer re-arms itself
 * lazily for the rest of the period). One stage instead of four, and its
 * state in one object rather than closures, because a node may hold tens of
 * thousands of connections. Internal; browser-safe.
 */
export function readFrames(config: ReadFramesConfig): OperatorFunction<Uint8Array, unknown> {
  return (source) =>
    new Observable<unknown>((subscriber) => {
      const reader = new FrameReader(config, subscriber);
      const subscription = source.subscribe(reader);
      return () => {
        reader.stop();
        subscription.unsubscribe();
      };
    });
}

/** The state of one subscription to {@link readFrames}, and the observer of its source. */
class FrameReader {
  private readonly decoder: FrameDecoder;
  private readonly timer: Subscription;
  private last: number;
  private objects = 0;
  private values = 0;

  constructor(
    private readonly config: ReadFramesConfig,
    private readonly subscriber: Subscriber<unknown>,
  ) {
    this.decoder = new FrameDecoder(config.frames);
    this.last = config.scheduler.now();
    this.timer = config.scheduler.schedule(checkIdle, config.idle, this);
  }

  next(chunk: Uint8Array): void {
    this.last = this.config.scheduler.now();
    this.values = 0;
    try {
      this.decoder.write(chunk, this.emit);
    } catch (error) {
      this.error(error);
      return;
    }
    const total = this.decoder.objectsScanned;
    this.config.onChunk(chunk.length, total - this.objects, this.values);
    this.objects = total;
  }

  error(error: unknown): void {
    this.config.onFail(error);
    this.subscriber.error(error);
  }

  complete(): void {
    try {
      this.decoder.end();
    } catch (error) {
      this.error(error);
      return;
    }
    this.subscriber.complete();
  }

  stop(): void {
    this.timer.unsubscribe();
  }

  /** The idle period passed without a chunk. */
  expire(): void {
    const { idle, address } = this.config;
    this.error(idleError(idle, { address }));
  }

  /** ms left of the idle period (0 or less: it has passed). */
  idleLeft(): number {
    return this.last + this.config.idle - this.config.scheduler.now();
  }

  private readonly emit = (value: unknown): void => {
    this.values++;
    this.subscriber.next(value);
  };
}

/** The idle timer's work: re-armed for the rest of the period while chunks came, else the error. */
function checkIdle(this: SchedulerAction<FrameReader>, reader: FrameReader | undefined): void {
  const left = reader!.idleLeft();
  if (left > 0) this.schedule(reader, left);
  else reader!.expire();
}
