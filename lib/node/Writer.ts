import { Observable, type Subscriber } from 'rxjs';
import { Encoder, type EncoderConfig } from '../codec/Encoder.js';
import { NetError } from '../errors.js';
import type { ByteStream } from '../transport/Transport.js';

const resolved = Promise.resolve();

/**
 * Writers with something to flush, flushed together in one promise job per
 * turn (after the sends of the turn): one job for any number of connections,
 * and no flush closure per connection.
 */
let due: Writer[] = [];

function flushDue(): void {
  const writers = due;
  due = [];
  for (const writer of writers) writer.flush();
}

/** Options of {@link Writer}: one object for every connection of a node. */
export interface WriterConfig extends EncoderConfig {
  /** Bytes queued above which the connection reports itself not writable. */
  readonly highWaterMark: number;
  /** Bytes queued above which `send` throws instead of queueing. */
  readonly maxQueuedBytes: number;
}

/** Who a {@link Writer} reports to (its connection: methods, not closures, as a node may hold tens of thousands). */
export interface WriterHost {
  /** Told the size of every batch handed to the stream (traffic counters). */
  onWrite(bytes: number): void;
  /** Told whenever the writable state changes (the connection's slow-consumer timer). */
  onWritableChange(writable: boolean): void;
}

/**
 * The outbound half of a connection: `send` encodes straight into one
 * buffer, and the buffer goes to the stream in one `write` per turn of the
 * event loop (a promise job after the first `send`), however many messages it
 * holds. `writable$` tells whether the queue is under its high-water mark.
 */
export class Writer {
  private readonly encoder: Encoder;
  private scheduled = false;
  /** The stream's share of the queue, as of the last flush or drain. */
  private streamQueued = 0;
  private writableState = true;
  private disposed = false;
  /** Queued bytes wait for {@link release}. */
  private held = false;
  /** Subscribers of `writable$`, made only when someone asks (most connections never do). */
  private watchers: Subscriber<boolean>[] | undefined;

  constructor(
    private readonly stream: ByteStream,
    private readonly config: WriterConfig,
    private readonly host: WriterHost,
  ) {
    this.encoder = new Encoder(config);
  }

  /** Bytes queued: encoded, or handed to the stream and not yet to the operating system. */
  get queuedBytes(): number {
    return this.encoder.length + this.stream.queuedBytes;
  }

  /** Whether the queue is under its high-water mark: the current state, then each change; completes at dispose. */
  get writable$(): Observable<boolean> {
    return new Observable<boolean>((subscriber) => {
      subscriber.next(this.writableState);
      if (this.disposed) {
        subscriber.complete();
        return;
      }
      (this.watchers ??= []).push(subscriber);
      return () => {
        this.watchers = this.watchers?.filter((watcher) => watcher !== subscriber);
      };
    });
  }

  /** Queues one message; throws `SEND_ERROR` when it cannot be encoded or the queue is full. */
  send(message: unknown): void {
    // The stream's share is read at the last flush: cheap, and exact enough for a limit this coarse.
    const queued = this.encoder.length + this.streamQueued;
    if (queued >= this.config.maxQueuedBytes) {
      throw new NetError('SEND_ERROR', `the write queue is full (${queued} bytes queued, maxQueuedBytes ${this.config.maxQueuedBytes})`, {
        limit: 'maxQueuedBytes',
        max: this.config.maxQueuedBytes,
        actual: queued,
      });
    }
    this.encoder.append(message);
    if (!this.scheduled) {
      this.scheduled = true;
      // A promise job, not queueMicrotask: Node wraps each queueMicrotask callback in an
      // AsyncResource, which cost more than the rest of a one-message send here.
      if (due.push(this) === 1) void resolved.then(flushDue);
    }
  }

  /**
   * Holds what is queued (sends still queue, within the limits) until
   * {@link release}: a connection that replaced one to the same peer writes
   * only once the peer has ended the old one, so the peer has read what was
   * sent on it first.
   */
  hold(): void {
    this.held = true;
  }

  /** Ends a {@link hold} and writes what was queued meanwhile. */
  release(): void {
    this.held = false;
    this.flush();
  }

  /** Writes everything queued now (unless held). */
  flush(): void {
    this.scheduled = false;
    if (this.encoder.length === 0 || !this.stream.writable || this.held) return;
    const bytes = this.encoder.takeView();
    this.stream.write(bytes);
    this.host.onWrite(bytes.length);
    this.update();
  }

  /** Completes `writable$`; no more changes are reported. */
  dispose(): void {
    this.disposed = true;
    const watchers = this.watchers ?? [];
    this.watchers = undefined;
    for (const watcher of watchers) watcher.complete();
  }

  /** Made once per writer that ever queues in its stream (most never do). */
  private get drained(): () => void {
    return (this.drainedCallback ??= () => this.update());
  }
  private drainedCallback: (() => void) | undefined;

  private update(): void {
    this.streamQueued = this.stream.queuedBytes;
    // While bytes wait in the stream, hear when they are gone (the writable state and the queue limit need it).
    if (this.streamQueued > 0 && !this.disposed) this.stream.whenDrained(this.drained);
    const writable = this.queuedBytes < this.config.highWaterMark;
    if (writable === this.writableState || this.disposed) return;
    this.writableState = writable;
    this.host.onWritableChange(writable);
    if (this.watchers) for (const watcher of [...this.watchers]) watcher.next(writable);
  }
}
