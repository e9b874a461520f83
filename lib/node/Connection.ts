import type { Observable, SchedulerAction, Subscription } from 'rxjs';
import { NetError, closeError, invalidValue, notConnected, refusedAfterTls, slowConsumerError, toNetError } from '../errors.js';
import type { DisconnectReason } from '../events.js';
import { PendingInbox } from '../operators/PendingInbox.js';
import { TrafficCounter, type ConnectionStats } from '../stats.js';
import type { ByteStream } from '../transport/Transport.js';
import { validate } from '../validate.js';
import { readCost, readHandshake, type ConnectionConfig, type ConnectionSink, type PeerHandshake } from './connectionParts.js';
import { ConnectionRequest } from './ConnectionRequest.js';
import type { Deadline } from './Deadline.js';
import { ReadGate } from './ReadGate.js';
import { FrameReader } from './readFrames.js';
import { Writer } from './Writer.js';

/**
 * Where a connection is in its life, and what it holds there:
 * `handshaking` -> `pending` (its request awaits a decision; what the peer
 * sends is kept, up to `maxPendingMessages`, and the heap it costs counted)
 * -> `open` (registered, sends work) -> `draining` (closing, still read
 * until the peer's FIN) or `closing` (closing, no longer read) -> `ended`.
 * While `open` or `draining` behind a predecessor (`following`), messages
 * are kept until that one has ended. `decided`: accepted or rejected (a
 * decided connection that ends is no failure).
 */
type Phase =
  | { readonly name: 'handshaking'; readonly deadline: Deadline }
  | { readonly name: 'pending'; readonly deadline: Deadline; readonly inbox: PendingInbox<unknown>; cost: number; values: number }
  | { name: 'open' | 'draining'; inbox: PendingInbox<unknown> | undefined; following: boolean }
  | { readonly name: 'closing' | 'ended'; readonly decided: boolean };

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
  readonly read: TrafficCounter;
  readonly written: TrafficCounter;
  /** Messages read (the handshake not counted), and written. */
  messagesRead = 0;
  messagesWritten = 0;
  private phase: Phase;
  private readonly writer: Writer;
  private readonly gate: ReadGate;
  private readonly reader: FrameReader;
  private subscription: Subscription | undefined;
  private slowConsumer: Subscription | undefined;
  private closing: Promise<void> | undefined;
  private closeReason: DisconnectReason | undefined;

  constructor(
    readonly stream: ByteStream,
    /** Did this node open it (connect) rather than accept it? */
    readonly outgoing: boolean,
    /** The scheme of the transport it came through (`tcp`, `tls`, `ws`, `wss`, or a custom one). */
    readonly transport: string,
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
    this.phase = { name: 'handshaking', deadline };
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
    if (this.subscription !== undefined || this.readingStopped()) return;
    const subscription = this.stream.chunks$.subscribe(this.reader);
    // It may have ended inside subscribe(): then the subscription is let go at once.
    if (this.readingStopped()) subscription.unsubscribe();
    else this.subscription = subscription;
  }

  /** Is it no longer read (closing without `keepReading`, or ended)? (A method: it may change inside `subscribe()`.) */
  private readingStopped(): boolean {
    return this.phase.name === 'closing' || this.phase.name === 'ended';
  }

  /** Is the connection registered and usable? */
  get isOpen(): boolean {
    return this.phase.name === 'open';
  }

  /** Is its request awaiting a decision? */
  get isPending(): boolean {
    return this.phase.name === 'pending';
  }

  get isEnded(): boolean {
    return this.phase.name === 'ended';
  }

  /** Accepted or rejected (a decided connection that ends is no failure). */
  get decided(): boolean {
    const { phase } = this;
    return phase.name === 'open' || phase.name === 'draining' || ((phase.name === 'closing' || phase.name === 'ended') && phase.decided);
  }

  /** Whether the write queue is under its high-water mark; emits on change. */
  get writable$(): Observable<boolean> {
    return this.writer.writable$;
  }

  /** The request's accept(): registers it (the node emits `connected`), then delivers what the peer sent. */
  accept(): boolean {
    const { phase } = this;
    if (phase.name !== 'pending') return false;
    phase.deadline.cancel();
    // Open before `connected` is emitted, so that its handlers can send. What was kept is no longer
    // bounded by count: while it waits for a predecessor, the read gate bounds it.
    phase.inbox.max = Number.POSITIVE_INFINITY;
    this.phase = { name: 'open', inbox: phase.inbox, following: false };
    this.gate.release('pending');
    if (!this.sink.accepted(this)) {
      this.destroy('closed');
      return false;
    }
    this.deliver();
    return true;
  }

  /** The request's reject(): closes it (after what is still queued: our handshake); the peer's messages are dropped. */
  reject(): boolean {
    const { phase } = this;
    if (phase.name !== 'pending') return false;
    phase.deadline.cancel();
    this.phase = { name: 'closing', decided: true };
    // Our handshake may still be queued (Deno writes asynchronously, and a destroy drops what is queued):
    // the peer's connect() resolves with it, so it goes out first, then the end of stream.
    if (this.stream.queuedBytes > 0) void this.close('closed');
    else this.destroy('closed');
    return true;
  }

  /** Queues a message (throws `SEND_ERROR`, or `NOT_CONNECTED` once it is closing). */
  send(message: M): void {
    if (this.phase.name !== 'open') throw notConnected(this.nodeId, `the connection to ${this.remoteAddress} is closing`);
    this.writer.send(message);
    this.messagesWritten++;
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
    const { phase, stream } = this;
    if (phase.name === 'ended') return (this.closing = Promise.resolve());
    if (keepReading && phase.name === 'open') phase.name = 'draining';
    else {
      this.stopReading({ name: 'closing', decided: this.decided });
      // Read on, discarding, so the peer's FIN is seen even if reading was paused.
      this.gate.openForever();
    }
    this.writer.release();
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
    if (this.phase.name !== 'ended') this.stopReading({ name: 'closing', decided: this.decided });
    this.stream.destroy();
    this.end(reason, error);
  }

  stats(now: number): ConnectionStats<N> {
    return {
      nodeId: this.nodeId as N,
      remoteAddress: this.remoteAddress,
      transport: this.transport,
      messagesRead: this.messagesRead,
      messagesWritten: this.messagesWritten,
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
    const { phase } = this;
    if (phase.name !== 'open' && phase.name !== 'draining') return;
    phase.following = true;
    this.gate.hold('predecessor');
    void predecessor.then(() => {
      this.gate.release('predecessor');
      const now = this.phase;
      if (now.name === 'open' || now.name === 'draining') {
        now.following = false;
        this.deliver();
      }
    });
  }

  /**
   * It replaced `predecessor`, a connection to the same peer that this node
   * had registered and may have sent on: what is sent on this one waits
   * until that one has ended (the peer's FIN: it has read it to its end),
   * so the peer, which may not even know of the old one yet, reads the two
   * in the order they were sent. Bounded by the old one's `linger`.
   */
  writeAfter(predecessor: Promise<void>): void {
    this.writer.hold();
    void predecessor.then(() => this.writer.release());
  }

  /** @internal A frame: the handshake, a message kept while pending, or a message. */
  onFrame(value: unknown): void {
    const { phase } = this;
    switch (phase.name) {
      case 'open':
      case 'draining':
        this.messagesRead++;
        if (phase.following) void (phase.inbox ??= new PendingInbox(Number.POSITIVE_INFINITY)).keep(value);
        else this.deliverOne(value);
        return;
      case 'pending': {
        this.messagesRead++;
        const overflow = phase.inbox.keep(value);
        if (overflow) this.fail(overflow);
        return;
      }
      case 'handshaking': {
        const result = readHandshake(value, this.config, this.stream);
        if (result instanceof NetError) this.fail(result);
        else this.onHandshake(phase.deadline, result);
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
    // The first value is the handshake: its size limit is maxHandshakeBytes (the decoder knows it as maxValueBytes).
    if (this.phase.name === 'handshaking' && error instanceof NetError && error.limit === 'maxValueBytes') {
      const { max = 0, actual = 0 } = error;
      error = new NetError('READ_ERROR', `the handshake from ${this.remoteAddress} (${actual} bytes) exceeds maxHandshakeBytes (${max})`, {
        address: this.remoteAddress,
        limit: 'maxHandshakeBytes',
        max,
        actual,
        cause: error,
      });
    }
    this.fail(error instanceof NetError && error.code === 'CONNECTION_ABORTED' ? (this.refusedAfterTls(error) ?? error) : error);
  }

  /** @internal The peer's FIN: before the handshake a failure; while pending a half-close kept for the decision. */
  onFramesEnd(): void {
    const { phase } = this;
    switch (phase.name) {
      case 'handshaking':
        this.fail(
          this.refusedAfterTls() ??
            new NetError('CONNECTION_ERROR', `the stream from ${this.remoteAddress} ended before the handshake`, {
              address: this.remoteAddress,
            }),
        );
        return;
      case 'pending':
        phase.inbox.end();
        return;
      case 'open':
      case 'draining':
        if (phase.following) (phase.inbox ??= new PendingInbox(Number.POSITIVE_INFINITY)).end();
        else this.onEnd();
        return;
      default:
        this.onEnd();
    }
  }

  /**
   * An outgoing TLS connection (the peer presented a certificate) that ended
   * or was reset before a single byte came: the listener refused it right
   * after the TLS handshake (see {@link refusedAfterTls}).
   */
  private refusedAfterTls(cause?: NetError): NetError | undefined {
    if (!this.outgoing || this.phase.name !== 'handshaking' || this.read.total > 0 || this.stream.peerCertificate === undefined)
      return undefined;
    return refusedAfterTls(this.remoteAddress, this.config.tls.cert !== undefined, cause);
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

  private onHandshake(deadline: Deadline, handshake: PeerHandshake<N, I>): void {
    this.nodeId = handshake.nodeId;
    this.key = handshake.key;
    this.phase = { name: 'pending', deadline, inbox: new PendingInbox(this.config.maxPendingMessages), cost: 0, values: 0 };
    deadline.waitFor('no accept decision was made');
    // Reading goes on while the decision is pending (a reset or FIN is seen), up to a budget.
    const request = new ConnectionRequest<M, N, I>(
      this,
      handshake.nodeId,
      handshake.initMessage,
      this.remoteAddress,
      this.stream.peerCertificate,
    );
    try {
      this.sink.request(this, request);
    } catch (error) {
      this.fail(this.guardError(error));
    }
  }

  /** Delivers the messages kept since the handshake (then the end, if the peer half-closed); later ones go live. */
  private deliver(): void {
    const { phase } = this;
    if ((phase.name !== 'open' && phase.name !== 'draining') || phase.following || phase.inbox === undefined) return;
    const { inbox } = phase;
    phase.inbox = undefined;
    // A handler may close or destroy it: then the rest is dropped, as reading has stopped.
    const live = (): boolean => this.phase.name === 'open' || this.phase.name === 'draining';
    inbox.drain(
      (value) => this.deliverOne(value),
      live,
      () => this.onEnd(),
    );
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
    const { phase } = this;
    if (phase.name === 'pending') {
      phase.cost += cost;
      // Kept values are bounded by maxPendingMessages (over it is an error): stop reading well before.
      phase.values += values;
      if (phase.cost > this.config.maxPendingBytes || phase.values >= this.config.maxPendingMessages / 2) this.gate.hold('pending');
    }
  }

  private guardError(error: unknown): NetError {
    return toNetError(error, 'CONNECTION_ERROR', `handling data from ${this.remoteAddress} failed`, { address: this.remoteAddress });
  }

  /** @internal Ends it with the failure behind it (a `TIMEOUT` for idle is reason `'idle'`). */
  fail(error: unknown): void {
    if (this.phase.name === 'ended') return;
    const netError = toNetError(error, 'CONNECTION_ERROR', `connection to ${this.remoteAddress} failed`, { address: this.remoteAddress });
    // A bad value is told by the decoder, which knows no address: the error is its own, fresh, so it is named here.
    if (netError.code === 'READ_ERROR' && netError.address === undefined) {
      (netError as { address?: string }).address = this.remoteAddress;
      netError.message = `from ${this.remoteAddress}: ${netError.message}`;
    }
    const reason: DisconnectReason = netError.code === 'TIMEOUT' && netError.limit === 'idleTimeout' ? 'idle' : 'error';
    this.destroy(reason, netError);
  }

  /** @internal */
  tooSlow(): void {
    const queued = this.writer.queuedBytes;
    const { writeTimeout } = this.config;
    this.destroy('slow-consumer', slowConsumerError(this.remoteAddress, this.nodeId, queued, writeTimeout));
  }

  /** Moves to `next` (closing or ended), letting go of what the phase held: its deadline, kept messages, reading. */
  private stopReading(next: Extract<Phase, { readonly decided: boolean }>): void {
    const { phase } = this;
    if (phase.name === 'handshaking' || phase.name === 'pending') phase.deadline.cancel();
    this.phase = next;
    this.slowConsumer?.unsubscribe();
    this.slowConsumer = undefined;
    this.reader.stop();
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** Settles once the connection has ended (made when first asked for: few connections are ever followed). */
  whenEnded(): Promise<void> {
    if (this.phase.name === 'ended') return Promise.resolve();
    return (this.ended ??= new Promise((resolve) => (this.onEnded = resolve)));
  }
  private ended: Promise<void> | undefined;
  private onEnded: (() => void) | undefined;

  /** The failure it ended with, if it ended with one (so `connect` can say why a request it could not accept ended). */
  failure: NetError | undefined;

  private end(reason: DisconnectReason, error: NetError | undefined): void {
    if (this.phase.name === 'ended') return;
    this.failure = error;
    // A request the application still holds must not hold what the peer sent: the phase goes, and its inbox.
    this.stopReading({ name: 'ended', decided: this.decided });
    this.onEnded?.();
    // The peer ended first: finish our side after what is queued (TCP ends it for us: no half-open).
    if (!this.closing) this.writer.flush();
    this.writer.dispose();
    this.sink.ended(this, reason, error);
  }
}

/** The slow-consumer timer's work (a function with state, not a closure per connection). */
function tooSlow<M, N, I>(this: SchedulerAction<Connection<M, N, I>>, connection: Connection<M, N, I> | undefined): void {
  connection!.tooSlow();
}
