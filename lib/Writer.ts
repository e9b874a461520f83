import type { Socket } from 'node:net';
import { Observable, type Subscriber } from 'rxjs';
import { Encoder, type EncoderConfig } from './codec/Encoder.js';
import { NetError } from './errors.js';

const resolved = Promise.resolve();

/** Options of {@link Writer}. */
export interface WriterConfig extends EncoderConfig {
  /** Bytes queued above which the connection reports itself not writable. */
  readonly highWaterMark: number;
  /** Bytes queued above which `send` throws instead of queueing. */
  readonly maxQueuedBytes: number;
}

/**
 * The outbound half of a connection: `send` encodes straight into one
 * buffer, and the buffer goes to the socket in one `write` per turn of the
 * event loop (a microtask after the first `send`), however many messages it
 * holds. `writable$` tells whether the queue is under its high-water mark.
 */
export class Writer {
  private readonly encoder: Encoder;
  private scheduled = false;
  private socketQueued = 0;
  private writableState = true;
  private disposed = false;
  /** Subscribers of `writable$`, made only when someone asks (most connections never do). */
  private watchers: Subscriber<boolean>[] | undefined;
  /** Told whenever the writable state changes (the connection's slow-consumer timer). */
  onWritableChange: ((writable: boolean) => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly config: WriterConfig,
    private readonly onWrite: (bytes: number) => void,
  ) {
    this.encoder = new Encoder(config);
    socket.on('drain', () => this.update());
  }

  /** Bytes queued: encoded and not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.encoder.length + this.socket.writableLength;
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
    // The socket's share is read at the last flush: cheap, and exact enough for a limit this coarse.
    const queued = this.encoder.length + this.socketQueued;
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
      void resolved.then(this.flushTask);
    }
  }

  /** Writes everything queued now. */
  flush(): void {
    this.scheduled = false;
    if (this.encoder.length === 0 || this.socket.destroyed || this.socket.writableEnded) return;
    const bytes = this.encoder.take();
    this.socket.write(bytes);
    this.onWrite(bytes.length);
    this.update();
  }

  private update(): void {
    this.socketQueued = this.socket.writableLength;
    const writable = this.queuedBytes < this.config.highWaterMark;
    if (writable === this.writableState || this.disposed) return;
    this.writableState = writable;
    this.onWritableChange?.(writable);
    if (this.watchers) for (const watcher of [...this.watchers]) watcher.next(writable);
  }

  /** Completes `writable$`; no more changes are reported. */
  dispose(): void {
    this.disposed = true;
    this.onWritableChange = undefined;
    const watchers = this.watchers ?? [];
    this.watchers = undefined;
    for (const watcher of watchers) watcher.complete();
  }

  private readonly flushTask = (): void => this.flush();
}
