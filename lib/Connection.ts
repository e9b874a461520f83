import type { Observable, SchedulerAction, Subscription } from 'rxjs';
import type { FrameDecoderConfig } from './codec/FrameDecoder.js';
import { ConnectionRequest } from './ConnectionRequest.js';
import type { Deadline } from './Deadline.js';
import { NetError, closeError, invalidValue, limitError, notConnected, slowConsumerError, toNetError } from './errors.js';
import type { DisconnectReason } from './events.js';
import { nodeIdKey } from './nodeId.js';
import { parseHandshake } from './operators/handshake.js';
import type { ResolvedNodeOptions } from './options.js';
import { ReadGate } from './ReadGate.js';
import { FrameReader, type ReadFramesConfig } from './readFrames.js';
import { TrafficCounter, type ConnectionStats } from './stats.js';
import type { ByteStream } from './transport/Transport.js';
import { validate } from './validate.js';
import { Writer, type WriterConfig } from './Writer.js';

/** What a connection needs from its node, resolved once per connection (changes to the node affect later ones). */
export type ConnectionConfig<M, N, I> = ResolvedNodeOptions<M, N, I> & {
  /** The node's settings when the connection was made (they are read/write on the node). */
  readonly connectionTimeout: number;
  readonly statsHalfLife: number;
  /** The decode limits, and the handshake's (see {@link handshakeLimits}): one object for all, so they are resolved once. */
  readonly frames: FrameDecoderConfig;
  /** With key-bound ids: why a peer's id does not match its certificate, or undefined when it does. */
  readonly verifyPeer?: (nodeId: unknown, stream: ByteStream) => NetError | undefined;
  /** The writers' limits (see {@link connectionParts}). */
  readonly writer: WriterConfig;
  /** The read path's settings. */
  readonly reading: ReadFramesConfig;
};

/**
 * The parts of a connection's configuration that every connection of a node
 * shares, made once per change of the node's settings rather than once per
 * connection (a node may hold tens of thousands).
 */
export function connectionParts<M, N, I>(
  options: ResolvedNodeOptions<M, N, I>,
  connectionTimeout: number,
  frames: FrameDecoderConfig,
): Pick<ConnectionConfig<M, N, I>, 'writer' | 'reading'> {
  return {
    writer: {
      maxValueBytes: options.limits.maxValueBytes,
      maxDepth: options.limits.maxDepth,
      highWaterMark: options.writeHighWaterMark,
      maxQueuedBytes: options.maxQueuedBytes,
    },
    reading: { frames, idle: connectionTimeout, scheduler: options.scheduler },
  };
}

/** Where a connection reports what happens to it: its node, which turns it into events. */
export interface ConnectionSink<M, N, I> {
  /** The peer's handshake arrived: the request is pending. */
  request(connection: Connection<M, N, I>, request: ConnectionRequest<M, N, I>): void;
  /** `accept()` was called: register it (emitting `connected`); false when the node refuses (it is closing). */
  accepted(connection: Connection<M, N, I>): boolean;
  message(connection: Connection<M, N, I>, message: M): void;
  /** After each chunk's values were handed on: their estimated heap (see {@link readCost}). */
  read(cost: number): void;
  /** Exactly once, whatever the phase, when it is over; `error` is the failure behind it. */
  ended(connection: Connection<M, N, I>, reason: DisconnectReason, error: NetError | undefined): void;
}

/**
 * An upper bound of the heap that decoded values cost, from what the scanner
 * saw: 16 bytes per wire byte (the worst scalar, 2-byte strings, costs 11)
 * and 200 per array, map, binary or extension (an empty map costs 64, a
 * one-entry map with an integer key 232 for 3 wire bytes; sparse index keys
 * are counted by their slots). Measured with @msgpack/msgpack 3 on V8
 * (Node 20): `npm run bench:heap`.
 */
export function readCost(bytes: number, objects: number): number {
  return 16 * bytes + 200 * objects;
}

/**
 * `handshaking` -> `pending` (its request awaits a decision) -> `open`
 * (registered, sends work) -> `draining` (closing, still read until the
 * peer's FIN) or `closing` (closing, no longer read) -> `ended`.
 */
type State = 'handshaking' | 'pending' | 'open' | 'draining' | 'closing' | 'ended';

/**
 * One connection, its whole life, and the one state machine of it: bytes in
 * through `stream.chunks$` to its {@link FrameReader} (decode, limits, idle),
 * the first frame as a {@link ConnectionRequest} (checked as the `handshake`
 * operator does), the rest kept while pending and delivered once accepted; writes out
 * through its {@link Writer}; one deadline from its start to the decision;
 * one read gate; its end reported exactly once.
 */
export class Connection<M, N, I> {
  readonly remoteAddress: string;
  /** The peer's id and its registry key, once its handshake arrived. */
  nodeId: N | undefined;
  key = '';
  /** Accepted or rejected (a decided connection that ends is no failure). */
  decided = false;
  readonly read: TrafficCounter;
  readonly written: TrafficCounter;
  private state: State = 'handshaking';
  private readonly writer: Writer;
  private readonly gate: ReadGate;
  private deadline: Deadline | undefined;
  /**
   * While pending (or following a predecessor): the messages the peer sent,
   * kept for delivery, and whether its stream ended after them.
   */
  private kept: unknown[] | undefined;
  private keptEnd = false;
  /** It replaced a connection to the same peer that is still being read: its messages wait for that one's last. */
  private following = false;
  private readonly reader: FrameReader;
  private subscription: Subscription | undefined;
  private readingStopped = false;
  private slowConsumer: Subscription | undefined;
  private closing: Promise<void> | undefined;
  private closeReason: DisconnectReason | undefined;
  /** Estimated heap and values read while the decision is pending (bounded, then reading waits). */
  private pendingCost = 0;
  private pendingValues = 0;

  constructor(
    readonly stream: ByteStream,
    /** Did this node open it (connect) rather than accept it? */
    readonly outgoing: boolean,
    private readonly config: ConnectionConfig<M, N, I>,
    private readonly sink: ConnectionSink<M, N, I>,
    /** Our handshake `[init, id]`, encoded once by the node. */
    handshakeBytes: Uint8Array,
    deadline: Deadline,
  ) {
    const { scheduler } = config;
    const now = scheduler.now();
    this.remoteAddress = stream.remoteAddress;
    this.read = new TrafficCounter(config.statsHalfLife, now);
    this.written = new TrafficCounter(config.statsHalfLife, now);
    this.gate = new ReadGate(stream);
    this.deadline = deadline;
    deadline.onExpiry((error) => this.fail(error), 'no handshake arrived', this.remoteAddress);
    this.writer = new Writer(stream, config.writer, this);
    // Our handshake goes out at once, in one write, before we read the peer's.
    stream.write(handshakeBytes);
    this.written.add(handshakeBytes.length, now);

    this.reader = new FrameReader(config.reading, this);
  }

  /**
   * Begins reading, once the node has filed the connection (a stream may
   * emit, fail or end inside `subscribe`: what it reports must find the
   * connection in the registry and a connect's waiter in place). One
   * subscription: the reader decodes the chunks and hands each frame to this
   * connection's state machine.
   */
  start(): void {
    if (this.subscription !== undefined || this.readingStopped) return;
    const subscription = this.stream.chunks$.subscribe(this.reader);
    // It may have ended inside subscribe(): then the subscription is let go at once.
    if (this.hasStoppedReading()) subscription.unsubscribe();
    else this.subscription = subscription;
  }

  /** (A method: reading may stop inside `subscribe()`, which a property check's narrowing would not see.) */
  private hasStoppedReading(): boolean {
    return this.readingStopped;
  }

  /** Is the connection registered and usable? */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Is its request awaiting a decision? */
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

  /** The request's accept(): registers it (the node emits `connected`), then delivers what the peer sent. */
  accept(): boolean {
    if (this.state !== 'pending') return false;
    this.decide();
    // Open before `connected` is emitted, so that its handlers can send.
    this.state = 'open';
    this.gate.release('pending');
    if (!this.sink.accepted(this)) {
      this.destroy('closed');
      return false;
    }
    this.deliver();
    return true;
  }

  /** The request's reject(): closes it; the peer's messages are dropped. */
  reject(): boolean {
    if (this.state !== 'pending') return false;
    this.decide();
    this.destroy('closed');
    return true;
  }

  /** Queues a message (throws `SEND_ERROR`, or `NOT_CONNECTED` once it is closing). */
  send(message: M): void {
    if (this.state !== 'open') throw notConnected(this.nodeId, `the connection to ${this.remoteAddress} is closing`);
    this.writer.send(message);
  }

  /** Pauses or resumes reading because of the node's event buffer. */
  setPaused(paused: boolean): void {
    if (paused) this.gate.hold('events');
    else this.gate.release('events');
  }

  /**
   * Ends the connection in order: flushes what is queued, sends FIN, waits
   * up to `linger` ms for the stream to close, then destroys it. With
   * `keepReading`, messages the peer still sends are delivered until its FIN.
   */
  close(reason: DisconnectReason, keepReading = false): Promise<void> {
    if (this.closing) return this.closing;
    this.closeReason = reason;
    if (this.state === 'ended') return (this.closing = Promise.resolve());
    const { stream } = this;
    if (keepReading && this.state === 'open') this.state = 'draining';
    else {
      this.stopReading();
      this.state = 'closing';
      // Read on, discarding, so the peer's FIN is seen even if reading was paused.
      this.gate.openForever();
    }
    this.writer.flush();
    stream.end();
    const timer = this.config.scheduler.schedule(() => stream.destroy(), this.config.linger);
    this.closing = stream.closed.then((error) => {
      timer.unsubscribe();
      this.end(reason, error && closeError(error, this.remoteAddress, this.nodeId));
    });
    return this.closing;
  }

  /** Ends at once, without flushing (a reset for the peer). */
  destroy(reason: DisconnectReason, error?: NetError): void {
    this.stopReading();
    this.stream.destroy();
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

  /**
   * It replaced `predecessor`, a connection to the same peer that is
   * closing and still delivers what the peer sent on it: this one's messages
   * wait (and it stops reading) until that one has ended, so that a peer's
   * messages arrive in the order it sent them across the replacement.
   */
  follow(predecessor: Promise<void>): void {
    this.following = true;
    this.gate.hold('predecessor');
    void predecessor.then(() => {
      this.following = false;
      this.gate.release('predecessor');
      if (this.state === 'open' || this.state === 'draining') this.deliver();
    });
  }

  /** @internal A frame: the handshake, a message kept while pending, or a message. */
  onFrame(value: unknown): void {
    switch (this.state) {
      case 'open':
      case 'draining':
        if (this.following) (this.kept ??= []).push(value);
        else this.deliverOne(value);
        return;
      case 'pending': {
        const kept = (this.kept ??= []);
        const max = this.config.maxPendingMessages;
        if (kept.length >= max) {
          this.fail(limitError('maxPending', max, max + 1, 'messages waiting for accept'));
          return;
        }
        kept.push(value);
        return;
      }
      case 'handshaking': {
        let result: { initMessage: I; nodeId: N } | NetError;
        try {
          result = parseHandshake(value, this.config.validateInit, this.config.validateNodeId);
        } catch (error) {
          // A validator that throws is a failed validation, never an exception out of the stream.
          result = toNetError(error, 'READ_ERROR', 'the handshake validator threw');
        }
        if (result instanceof NetError) {
          this.fail(result);
          return;
        }
        try {
          this.onHandshake(result);
        } catch (error) {
          this.fail(this.guardError(error));
        }
        return;
      }
      default:
        return; // closing or ended: no longer read
    }
  }

  /** @internal Is reading held (the node's event buffer is full, a predecessor is being read, the pending budget)? */
  readingHeld(): boolean {
    return this.gate.paused;
  }

  /** @internal The stream failed (reset, bad value, idle): the connection ends, whatever its phase. */
  onFramesError(error: unknown): void {
    this.fail(error);
  }

  /** @internal The peer's FIN: before the handshake a failure; while pending a half-close kept for the decision. */
  onFramesEnd(): void {
    switch (this.state) {
      case 'handshaking':
        this.fail(new NetError('CONNECTION_ERROR', 'the stream ended before the handshake'));
        return;
      case 'pending':
        this.keptEnd = true;
        return;
      default:
        if (this.following) this.keptEnd = true;
        else this.onEnd();
    }
  }

  /** One message to the node: straight when there is no validator (the hot path), else validated. */
  private deliverOne(value: unknown): void {
    if (this.config.validateMessage !== undefined) {
      this.onMessage(value);
      return;
    }
    try {
      this.sink.message(this, value as M);
    } catch (error) {
      this.onMessageFailed(error);
    }
  }

  private onHandshake(result: { initMessage: I; nodeId: N }): void {
    let key: string;
    try {
      key = nodeIdKey(result.nodeId);
    } catch (error) {
      // Any value that decodes is a valid id; one that cannot be keyed (a lone surrogate, deeper
      // than the key encoder goes) is refused like a bad handshake.
      throw invalidValue('a node id that cannot be compared in the handshake', this.remoteAddress, { cause: error });
    }
    const refusal = this.config.verifyPeer?.(result.nodeId, this.stream);
    if (refusal) throw refusal;
    this.nodeId = result.nodeId;
    this.key = key;
    this.state = 'pending';
    this.deadline?.waitFor('no accept decision was made');
    // Reading goes on while the decision is pending (a reset or FIN is seen), up to a budget.
    this.sink.request(
      this,
      new ConnectionRequest<M, N, I>(this, result.nodeId, result.initMessage, this.remoteAddress, this.stream.peerCertificate),
    );
  }

  /** Delivers the messages kept since the handshake (then the end, if the peer half-closed); later ones go live. */
  private deliver(): void {
    if (this.following) return;
    const kept = this.kept;
    this.kept = undefined;
    if (kept) {
      for (const value of kept) {
        // A handler may close or destroy it: then the rest is dropped, as reading has stopped.
        if (this.state !== 'open' && this.state !== 'draining') return;
        this.deliverOne(value);
      }
    }
    if (this.keptEnd && (this.state === 'open' || this.state === 'draining')) this.onEnd();
  }

  /** @internal One message from the peer: validated, then handed to the node. */
  onMessage(value: unknown): void {
    let checked: ReturnType<typeof validate<M>>;
    try {
      checked = validate(this.config.validateMessage, value);
    } catch (error) {
      // A validator that throws is a failed validation (READ_ERROR), as for the handshake.
      this.fail(invalidValue('a message its validator threw on', this.remoteAddress, { nodeId: this.nodeId, cause: error }));
      return;
    }
    if (!checked.ok) {
      this.fail(invalidValue(`an invalid message (${checked.reason})`, this.remoteAddress, { nodeId: this.nodeId }));
      return;
    }
    try {
      this.sink.message(this, checked.value);
    } catch (error) {
      this.fail(this.guardError(error));
    }
  }

  /** @internal Handing a message on threw: this connection ends, never the process. */
  onMessageFailed(error: unknown): void {
    this.fail(this.guardError(error));
  }

  /** @internal The peer's FIN after its messages: the end of a draining close keeps the reason it was closed for. */
  onEnd(): void {
    this.end(this.closeReason ?? 'remote-closed', undefined);
  }

  /** @internal The writer handed a batch to the stream. */
  onWrite(bytes: number): void {
    this.written.add(bytes, this.config.scheduler.now());
  }

  /** @internal A queue that stays over its high-water mark for writeTimeout: a slow consumer (or a dead peer). */
  onWritableChange(writable: boolean): void {
    this.slowConsumer?.unsubscribe();
    this.slowConsumer = writable ? undefined : this.config.scheduler.schedule(tooSlow, this.config.writeTimeout, this);
  }

  /** @internal After each chunk was decoded: counts it, charges its heap; while pending, holds reading beyond the budget. */
  onChunk(length: number, objects: number, values: number): void {
    this.read.add(length, this.config.scheduler.now());
    const cost = readCost(length, objects);
    this.sink.read(cost);
    if (this.state === 'pending') {
      this.pendingCost += cost;
      // Kept values are bounded by maxPendingMessages (over it is an error): stop reading well before.
      this.pendingValues += values;
      if (this.pendingCost > this.config.maxPendingBytes || this.pendingValues >= this.config.maxPendingMessages / 2) {
        this.gate.hold('pending');
      }
    }
  }

  private decide(): void {
    this.decided = true;
    this.deadline?.cancel();
    this.deadline = undefined;
  }

  private guardError(error: unknown): NetError {
    return toNetError(error, 'CONNECTION_ERROR', `handling data from ${this.remoteAddress} failed`, { address: this.remoteAddress });
  }

  /** @internal Ends it with the failure behind it (a `TIMEOUT` for idle is reason `'idle'`). */
  fail(error: unknown): void {
    if (this.state === 'ended') return;
    const netError = toNetError(error, 'CONNECTION_ERROR', `connection to ${this.remoteAddress} failed`, { address: this.remoteAddress });
    // A bad value is told by the decoder, which knows no address: the error is its own, fresh, so it is named here.
    if (netError.code === 'READ_ERROR' && netError.address === undefined) (netError as { address?: string }).address = this.remoteAddress;
    const reason: DisconnectReason = netError.code === 'TIMEOUT' && netError.limit === 'idleTimeout' ? 'idle' : 'error';
    this.destroy(reason, netError);
  }

  /** @internal */
  tooSlow(): void {
    const queued = this.writer.queuedBytes;
    const { writeTimeout } = this.config;
    this.destroy('slow-consumer', slowConsumerError(this.remoteAddress, this.nodeId, queued, writeTimeout));
  }

  private stopReading(): void {
    this.slowConsumer?.unsubscribe();
    this.slowConsumer = undefined;
    this.readingStopped = true;
    this.reader.stop();
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** Settles once the connection has ended (made when first asked for: few connections are ever followed). */
  whenEnded(): Promise<void> {
    if (this.state === 'ended') return Promise.resolve();
    return (this.ended ??= new Promise((resolve) => (this.onEnded = resolve)));
  }
  private ended: Promise<void> | undefined;
  private onEnded: (() => void) | undefined;

  private end(reason: DisconnectReason, error: NetError | undefined): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.onEnded?.();
    this.deadline?.cancel();
    this.deadline = undefined;
    // A request the application still holds must not hold what the peer sent.
    this.kept = undefined;
    this.stopReading();
    // The peer ended first: finish our side after what is queued (TCP ends it for us: no half-open).
    if (!this.closing) this.writer.flush();
    this.writer.dispose();
    this.sink.ended(this, reason, error);
  }
}

/**
 * The limits of the handshake `[init, id]`: `maxHandshakeBytes`, and one
 * object (array, map, binary, extension) per 64 of those bytes (1024 at the
 * default), so that a pending handshake costs at most about a megabyte.
 */
export function handshakeLimits(config: { readonly maxHandshakeBytes: number; readonly limits: { readonly maxObjects: number } }): {
  maxValueBytes: number;
  maxObjects: number;
} {
  const { maxHandshakeBytes, limits } = config;
  return { maxValueBytes: maxHandshakeBytes, maxObjects: Math.min(limits.maxObjects, Math.max(16, Math.ceil(maxHandshakeBytes / 64))) };
}

/** The slow-consumer timer's work (a function with state, not a closure per connection). */
function tooSlow<M, N, I>(this: SchedulerAction<Connection<M, N, I>>, connection: Connection<M, N, I> | undefined): void {
  connection!.tooSlow();
}
