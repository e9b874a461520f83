import type { Socket } from 'node:net';
import { map, tap, type Observable, type Subscription } from 'rxjs';
import { nodeIdKey } from './nodeId.js';
import { NetError, toNetError } from './errors.js';
import type { DisconnectReason } from './events.js';
import { FrameDecoder } from './codec/FrameDecoder.js';
import { decodeWith } from './operators/decodeFrames.js';
import { handshake, type Handshake } from './operators/handshake.js';
import { idleTimeout } from './operators/idleTimeout.js';
import { TrafficCounter, type ConnectionStats } from './stats.js';
import { fromSocket, remoteAddressOf } from './transport/tcp.js';
import type { ResolvedNodeOptions } from './options.js';
import { validate } from './validate.js';
import { Writer } from './Writer.js';

/** What a connection needs from its node, resolved once per connection (changes to the node affect later ones). */
export type ConnectionConfig<M, N, I> = ResolvedNodeOptions<M, N, I> & {
  /** The node's settings when the connection was made (they are read/write on the node). */
  readonly connectionTimeout: number;
  readonly statsHalfLife: number;
};

/** How a connection tells its node what happens to it. */
export interface ConnectionHooks<M, N, I> {
  handshake(connection: Connection<M, N, I>, initMessage: I): void;
  /** After each chunk's values were handed on: its estimated heap cost (see {@link readCost}). */
  read(connection: Connection<M, N, I>, cost: number): void;
  message(connection: Connection<M, N, I>, message: M): void;
  /** Called exactly once, whatever the phase, when the connection is over; `error` is the failure behind it. */
  ended(connection: Connection<M, N, I>, reason: DisconnectReason, error: NetError | undefined): void;
}

/**
 * How long (ms) a connection may read in a row before it lets the event loop
 * turn, once it has read at least {@link READ_SLICE_BYTES} since it last did.
 * Once the kernel's receive buffer has grown under a flood, libuv hands a
 * socket up to 32 reads of 64 KiB in one turn: 2 MiB of small messages,
 * measured here at 50-70 ms during which every timer and every other
 * connection waits. After a slice the connection pauses and resumes on the
 * next turn. The byte floor keeps light traffic (a ping-pong) from pausing.
 */
const READ_SLICE_MS = 10;
const READ_SLICE_BYTES = 64 * 1024;

/**
 * An upper bound of the heap that decoded values cost, from what the scanner
 * saw: 16 bytes per wire byte (the worst scalar, 2-byte strings, costs 11)
 * and 200 per array, map, binary or extension (an empty map costs 64, a
 * one-entry map with an integer key 232 for 3 wire bytes). Measured with
 * @msgpack/msgpack 3 on V8 (Node 20), see the README's limits table.
 */
export function readCost(bytes: number, objects: number): number {
  return 16 * bytes + 200 * objects;
}

/**
 * The limits of the handshake `[init, id]`: `maxHandshakeBytes`, and one
 * object (array, map, binary, extension) per 64 of those bytes (1024 at the
 * default), so that a pending handshake costs at most about a megabyte.
 */
function handshakeLimits(config: { readonly maxHandshakeBytes: number; readonly limits: { readonly maxObjects: number } }): {
  maxValueBytes: number;
  maxObjects: number;
} {
  const { maxHandshakeBytes, limits } = config;
  return { maxValueBytes: maxHandshakeBytes, maxObjects: Math.min(limits.maxObjects, Math.max(16, Math.ceil(maxHandshakeBytes / 64))) };
}

/** `draining`: closing, still read until the peer's FIN; `closing`: closing, no longer read. Neither takes sends. */
type State = 'handshaking' | 'pending' | 'open' | 'draining' | 'closing' | 'ended';

/**
 * Why reading is paused: `pending`, the peer sent more than
 * `maxPendingBytes` before the accept decision; `node`, the node's event
 * buffer is full; `slice`, the connection read for a slice in a row and
 * lets the event loop turn.
 */
type ReadHold = 'pending' | 'node' | 'slice';

/**
 * One socket: frames in (socket -> chunks -> idleTimeout -> decodeFrames ->
 * handshake -> messages), writes out through its {@link Writer}, its
 * traffic counters, and its end. It reports its end exactly once.
 */
export class Connection<M, N, I> {
  readonly remoteAddress: string;
  /** The peer's id, once its handshake arrived. */
  nodeId: N | undefined;
  /** The registry key of {@link nodeId}. */
  key = '';
  readonly read: TrafficCounter;
  readonly written: TrafficCounter;
  private readonly writer: Writer;
  private state: State = 'handshaking';
  private handshakeResult: Handshake<I, N> | undefined;
  private readonly subscriptions: Subscription[] = [];
  private slowConsumer: Subscription | undefined;
  private closed: Promise<void> | undefined;
  private closeReason: DisconnectReason | undefined;
  /** Bytes read, and since when, since reading last let the event loop turn; the pending resume while it does. */
  private sliceBytes = 0;
  private sliceStart = performance.now();
  private yielding: ReturnType<typeof setImmediate> | undefined;
  /** The reasons reading is paused; it reads when there is none. */
  private readonly holds = new Set<ReadHold>();
  /** Objects the decoder had scanned at the last chunk, and the estimated heap read while pending. */
  private objectsSeen = 0;
  private pendingCost = 0;
  private pendingValues = 0;

  constructor(
    readonly socket: Socket,
    /** Did this node open it (connect) rather than accept it? */
    readonly outgoing: boolean,
    private readonly config: ConnectionConfig<M, N, I>,
    private readonly hooks: ConnectionHooks<M, N, I>,
    /** Our handshake `[init, id]`, encoded once by the node. */
    handshakeBytes: Uint8Array,
  ) {
    const { scheduler } = config;
    const now = scheduler.now();
    this.remoteAddress = remoteAddressOf(socket);
    this.read = new TrafficCounter(config.statsHalfLife, now);
    this.written = new TrafficCounter(config.statsHalfLife, now);
    socket.setNoDelay(true);
    this.writer = new Writer(
      socket,
      {
        maxValueBytes: config.limits.maxValueBytes,
        maxDepth: config.limits.maxDepth,
        highWaterMark: config.writeHighWaterMark,
        maxQueuedBytes: config.maxQueuedBytes,
      },
      (bytes) => this.written.add(bytes, scheduler.now()),
    );
    // Our handshake goes out at once, in one write, before we read the peer's.
    socket.write(handshakeBytes);
    this.written.add(handshakeBytes.length, now);

    const frames = fromSocket(socket).pipe(
      tap((chunk) => {
        this.read.add(chunk.length, scheduler.now());
        if ((this.sliceBytes += chunk.length) >= READ_SLICE_BYTES && performance.now() - this.sliceStart >= READ_SLICE_MS) {
          this.yieldReading();
        }
      }),
      idleTimeout({ each: config.connectionTimeout, scheduler, info: { address: this.remoteAddress } }),
      decodeWith(
        () => new FrameDecoder({ ...config.limits, first: handshakeLimits(config) }),
        (length, decoder) => this.meter(length, decoder),
      ),
      // Before the decision the handshake operator keeps a failure for `messages`; a request whose
      // peer reset or sent garbage is over at once (accept() then returns false).
      tap({
        // Kept values are bounded by maxPendingMessages (over it is an error): stop reading well before.
        next: () => {
          if (this.state === 'pending' && ++this.pendingValues >= config.maxPendingMessages / 2) this.hold('pending');
        },
        error: (error: unknown) => {
          if (this.state === 'pending') this.fail(error);
        },
      }),
      handshake<I, N>({
        validateInit: config.validateInit,
        validateNodeId: config.validateNodeId,
        timeout: config.handshakeTimeout,
        scheduler,
        maxPending: config.maxPendingMessages,
      }),
    );
    // A queue that stays over its high-water mark for writeTimeout: a slow consumer (or a dead peer).
    this.writer.onWritableChange = (writable) => {
      this.slowConsumer?.unsubscribe();
      this.slowConsumer = writable ? undefined : scheduler.schedule(() => this.tooSlow(), config.writeTimeout);
    };
    this.subscriptions.push(
      frames.subscribe({
        next: (result) => this.guard(() => this.onHandshake(result)),
        error: (error: unknown) => this.fail(error),
        // After the handshake the end of the stream reaches `messages`: while pending, the peer's
        // FIN (a half-close) waits for the decision; accepted, its messages come, then the end.
        complete: () => {
          if (this.state === 'handshaking') this.end('remote-closed', undefined);
        },
      }),
    );
  }

  /** Is the connection registered and usable? */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isPending(): boolean {
    return this.state === 'pending';
  }

  get isEnded(): boolean {
    return this.state === 'ended';
  }

  /** Whether the write queue is under its high-water mark; emits on change. */
  get writable$(): Observable<boolean> {
    return this.writer.writable$;
  }

  /** Accepted: sends work from now on (the node registers it, then calls {@link deliver}). */
  open(): void {
    if (this.state !== 'pending') return;
    this.state = 'open';
    this.release('pending');
  }

  /** Starts delivering messages (the ones kept since the handshake first). */
  deliver(): void {
    if ((this.state !== 'open' && this.state !== 'draining') || !this.handshakeResult) return;
    const { validateMessage } = this.config;
    const messages = this.handshakeResult.messages;
    this.subscriptions.push(
      (validateMessage === undefined
        ? messages
        : messages.pipe(
            map((value) => {
              const checked = validate(validateMessage, value);
              if (!checked.ok) {
                throw new NetError('READ_ERROR', `invalid message from ${this.remoteAddress}: ${checked.reason}`, {
                  nodeId: this.nodeId,
                  address: this.remoteAddress,
                });
              }
              return checked.value;
            }),
          )
      ).subscribe({
        next: (message) => {
          // Inline rather than through guard(): no closure per message on the hot path.
          try {
            this.hooks.message(this, message as M);
          } catch (error) {
            this.fail(this.guardError(error));
          }
        },
        error: (error: unknown) => this.fail(error),
        // The peer's FIN: the end of a draining close keeps the reason it was closed for.
        complete: () => this.end(this.closeReason ?? 'remote-closed', undefined),
      }),
    );
  }

  /** Queues a message (throws `SEND_ERROR`, or `NOT_CONNECTED` once it is closing). */
  send(message: M): void {
    if (this.state !== 'open') {
      throw new NetError('NOT_CONNECTED', `the connection to ${this.remoteAddress} is closing`, {
        nodeId: this.nodeId,
        address: this.remoteAddress,
      });
    }
    this.writer.send(message);
  }

  /** Pauses or resumes reading (the node's event buffer is full). */
  setPaused(paused: boolean): void {
    if (paused) this.hold('node');
    else this.release('node');
  }

  /** The read gate: reading pauses while any reason holds it, and resumes when none does. */
  private hold(reason: ReadHold): void {
    this.holds.add(reason);
    this.applyHolds();
  }

  private release(reason: ReadHold): void {
    if (this.holds.delete(reason)) this.applyHolds();
  }

  private applyHolds(): void {
    if (this.state === 'ended' || this.state === 'closing') return; // closing reads on, discarding
    if (this.holds.size > 0) this.socket.pause();
    else this.socket.resume();
  }

  /** Pauses reading until the next turn of the event loop (see READ_SLICE_MS). */
  private yieldReading(): void {
    this.sliceBytes = 0;
    if (this.yielding !== undefined || (this.state !== 'open' && this.state !== 'draining')) return;
    this.hold('slice');
    this.yielding = setImmediate(() => {
      this.yielding = undefined;
      this.sliceStart = performance.now();
      this.release('slice');
    });
  }

  /** After a chunk was decoded: charges its estimated heap; while pending, holds reading beyond the budget. */
  private meter(length: number, decoder: FrameDecoder): void {
    const objects = decoder.objectsScanned;
    const cost = readCost(length, objects - this.objectsSeen);
    this.objectsSeen = objects;
    this.hooks.read(this, cost);
    if (this.state === 'pending' && (this.pendingCost += cost) > this.config.maxPendingBytes) this.hold('pending');
  }

  /** Runs a step of the read path; anything it throws ends this connection, never the process. */
  private guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.fail(this.guardError(error));
    }
  }

  private guardError(error: unknown): NetError {
    return toNetError(error, 'CONNECTION_ERROR', `handling data from ${this.remoteAddress} failed`, { address: this.remoteAddress });
  }

  /**
   * Ends the connection in order: flushes what is queued, sends FIN, waits
   * up to `linger` ms for the socket to close, then destroys it. With
   * `keepReading`, messages the peer still sends are delivered until its FIN.
   */
  close(reason: DisconnectReason, keepReading = false): Promise<void> {
    if (this.closed) return this.closed;
    const socket = this.socket;
    this.closeReason = reason;
    this.closed = new Promise<void>((resolve) => {
      if (socket.destroyed) {
        queueMicrotask(() => {
          this.end(reason, undefined);
          resolve();
        });
        return;
      }
      let writeError: NetError | undefined;
      const timer = this.config.scheduler.schedule(() => socket.destroy(), this.config.linger);
      socket.once('close', () => {
        timer.unsubscribe();
        this.end(reason, writeError);
        resolve();
      });
      socket.once('error', (error) => {
        writeError = new NetError('CLOSE_ERROR', `closing the connection to ${this.remoteAddress} failed: ${error.message}`, {
          cause: error,
          nodeId: this.nodeId,
          address: this.remoteAddress,
        });
      });
      if (keepReading && this.state === 'open') this.state = 'draining';
      else {
        this.stopReading();
        this.state = 'closing';
        // Read on, discarding, so the peer's FIN is seen even if reading was paused.
        socket.resume();
      }
      this.writer.flush();
      socket.end();
    });
    return this.closed;
  }

  /** Ends at once, without flushing (a reset for the peer). */
  destroy(reason: DisconnectReason, error?: NetError): void {
    this.stopReading();
    this.socket.destroy();
    this.end(reason, error);
  }

  stats(now: number): ConnectionStats<N> {
    return {
      nodeId: this.nodeId as N,
      remoteAddress: this.remoteAddress,
      writeTotal: this.written.total,
      writeRate: this.written.rate(now),
      writeIdle: this.written.idle(now),
      readTotal: this.read.total,
      readRate: this.read.rate(now),
      readIdle: this.read.idle(now),
    };
  }

  private onHandshake(result: Handshake<I, N>): void {
    let key: string;
    try {
      key = nodeIdKey(result.nodeId);
    } catch (error) {
      // Any value that decodes is a valid id; one that cannot be keyed (an invalid Date from a
      // custom extension codec, deeper than the key encoder goes) is refused like a bad handshake.
      throw new NetError('READ_ERROR', `the node id in the handshake from ${this.remoteAddress} cannot be used as an id`, {
        cause: error,
        address: this.remoteAddress,
      });
    }
    this.handshakeResult = result;
    this.nodeId = result.nodeId;
    this.key = key;
    this.state = 'pending';
    // Read on while the decision is pending (so a reset or FIN is seen), up to maxPendingBytes.
    this.hooks.handshake(this, result.initMessage);
  }

  private fail(error: unknown): void {
    if (this.state === 'ended') return;
    const netError =
      error instanceof NetError
        ? error
        : new NetError('CONNECTION_ERROR', `connection to ${this.remoteAddress} failed`, { cause: error, address: this.remoteAddress });
    const reason: DisconnectReason = netError.code === 'TIMEOUT' && netError.limit === 'idleTimeout' ? 'idle' : 'error';
    this.destroy(reason, netError);
  }

  private tooSlow(): void {
    const queued = this.writer.queuedBytes;
    const { writeTimeout } = this.config;
    this.destroy(
      'slow-consumer',
      new NetError('TIMEOUT', `${this.remoteAddress} read too slowly: ${queued} bytes queued for ${writeTimeout} ms`, {
        nodeId: this.nodeId,
        address: this.remoteAddress,
        limit: 'writeTimeout',
        max: writeTimeout,
        actual: queued,
      }),
    );
  }

  private stopReading(): void {
    if (this.yielding !== undefined) clearImmediate(this.yielding);
    this.yielding = undefined;
    this.slowConsumer?.unsubscribe();
    this.slowConsumer = undefined;
    // Newest first: the messages subscription goes before the frames it hangs on, so ending frames does not complete it.
    for (const subscription of this.subscriptions.reverse()) subscription.unsubscribe();
    this.subscriptions.length = 0;
  }

  private end(reason: DisconnectReason, error: NetError | undefined): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.stopReading();
    if (!this.closed && !this.socket.destroyed) {
      // The peer ended: finish our side after what is queued (net ends it for us: allowHalfOpen is off).
      this.writer.flush();
    }
    this.writer.dispose();
    this.hooks.ended(this, reason, error);
  }
}
