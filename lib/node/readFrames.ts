import { Observable, type OperatorFunction, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { FrameDecoder, type FrameDecoderConfig } from '../codec/FrameDecoder.js';
import { IdleClock } from '../operators/IdleClock.js';

/** Options of {@link readFrames}: one object for every connection of a node. */
export interface ReadFramesConfig {
  /** The limits of every value, and of the first (the handshake), resolved once. */
  readonly frames: FrameDecoderConfig;
  /** ms without a chunk after which the stream errors with `TIMEOUT` (`limit: 'idleTimeout'`). */
  readonly idle: number;
  readonly scheduler: SchedulerLike;
}

/** Who a read path reports to (its connection: methods, not closures, as a node may hold tens of thousands). */
export interface ReadFramesHost {
  /** For the idle error. */
  readonly remoteAddress: string;
  /**
   * After each chunk's values were emitted: its length, the objects the
   * scanner counted in it (arrays, maps, binaries, extensions, index-key
   * storage) and the values, so the connection can count traffic and meter
   * the heap it reads.
   */
  onChunk(length: number, objects: number, values: number): void;
}

/** Where a {@link FrameReader} hands what it reads: the frames, then one failure or the end. */
export interface FrameSink extends ReadFramesHost {
  onFrame(value: unknown): void;
  /** The source's failure, a bad value, or idle; nothing follows. */
  onFramesError(error: unknown): void;
  /** The source ended after whole values; nothing follows. */
  onFramesEnd(): void;
  /**
   * Is reading held by its owner (a full event buffer, a predecessor)? Then
   * silence is ours, not the peer's: the idle period starts again.
   */
  readingHeld?(): boolean;
}

/**
 * A connection's read path as one operator: byte chunks in, decoded frames
 * out (as `decodeFrames`, with the handshake's own limits on the first
 * value), erroring with `TIMEOUT` when nothing arrives for `idle` ms (as
 * `idleTimeout`: a chunk only notes the time, and one timer re-arms itself
 * lazily for the rest of the period). One stage instead of four, and its
 * state in one object rather than closures, because a node may hold tens of
 * thousands of connections. Internal; browser-safe. A connection subscribes
 * a {@link FrameReader} to its chunks directly (one subscription, not two).
 */
export function readFrames(config: ReadFramesConfig, host: ReadFramesHost): OperatorFunction<Uint8Array, unknown> {
  return (source) =>
    new Observable<unknown>((subscriber) => {
      const reader = new FrameReader(config, {
        remoteAddress: host.remoteAddress,
        onChunk: (length, objects, values) => host.onChunk(length, objects, values),
        onFrame: (value) => subscriber.next(value),
        onFramesError: (error) => subscriber.error(error),
        onFramesEnd: () => subscriber.complete(),
      });
      const subscription = source.subscribe(reader);
      return () => {
        reader.stop();
        subscription.unsubscribe();
      };
    });
}

/**
 * The read path's state, and the observer of a stream's chunks: decodes them
 * into frames for its sink, and keeps the idle timer (the {@link IdleClock}
 * of the `idleTimeout` operator, re-armed by one scheduled action).
 */
export class FrameReader extends IdleClock {
  private readonly decoder: FrameDecoder;
  private readonly timer: Subscription;
  private objects = 0;
  private values = 0;
  private stopped = false;

  constructor(
    config: ReadFramesConfig,
    private readonly sink: FrameSink,
  ) {
    super(config.idle, config.scheduler);
    this.decoder = new FrameDecoder(config.frames);
    this.timer = config.scheduler.schedule(checkIdle, config.idle, this);
  }

  next(chunk: Uint8Array): void {
    this.touch();
    this.values = 0;
    try {
      this.decoder.write(chunk, pushValue, this);
    } catch (error) {
      this.error(error);
      return;
    }
    const total = this.decoder.objectsScanned;
    this.sink.onChunk(chunk.length, total - this.objects, this.values);
    this.objects = total;
  }

  error(error: unknown): void {
    if (this.stopped) return;
    this.stop();
    this.sink.onFramesError(error);
  }

  complete(): void {
    if (this.stopped) return;
    try {
      this.decoder.end();
    } catch (error) {
      this.error(error);
      return;
    }
    this.stop();
    this.sink.onFramesEnd();
  }

  /** No more frames, failures or ends are passed on; the idle timer stops. */
  stop(): void {
    this.stopped = true;
    this.timer.unsubscribe();
  }

  /** The idle period passed without a chunk. */
  expire(): void {
    this.error(this.expired({ address: this.sink.remoteAddress }));
  }

  /** While the owner holds reading, silence is ours: the period starts again. */
  protected override held(): boolean {
    return this.sink.readingHeld?.() === true;
  }

  /** One decoded value. */
  push(value: unknown): void {
    if (this.stopped) return;
    this.values++;
    this.sink.onFrame(value);
  }
}

/** The decoder's sink: one decoded value (a function with `this`, not a closure per reader). */
function pushValue(this: FrameReader, value: unknown): void {
  this.push(value);
}

/** The idle timer's work: re-armed for the rest of the period while chunks came, else the error. */
function checkIdle(this: SchedulerAction<FrameReader>, reader: FrameReader | undefined): void {
  const left = reader!.left();
  if (left > 0) this.schedule(reader, left);
  else reader!.expire();
}
