import { diagnostics } from '../diagnostics.js';
import { Observable, Subscription, filter, firstValueFrom, map, take, throwError, throwIfEmpty, timeout } from 'rxjs';
import { Encoder } from '../codec/Encoder.js';
import { ConnectionBook } from './ConnectionBook.js';
import { connectionParts, handshakeLimits, type ConnectionConfig } from './connectionParts.js';
import type { ConnectionRequest } from './ConnectionRequest.js';
import { Deadline } from './Deadline.js';
import { DEFAULT_CONNECTION_TIMEOUT, DEFAULT_STATS_HALF_LIFE } from '../defaults.js';
import { NetError, alreadyClosed, describeValue, endedEarly } from '../errors.js';
import { EventHub } from './EventHub.js';
import type { NodeEvent } from '../events.js';
import { nodeIdKey, randomNodeId } from '../nodeId.js';
import { duration, durationError, positive, resolveNodeOptions, type NodeOptions, type ResolvedNodeOptions } from '../options.js';
import type { NodeStats } from '../stats.js';
import { formatAddress, formatEndpoint, parseAddress, type Address } from '../transport/address.js';
import type { ByteStream, Listener } from '../transport/Transport.js';
import { link, type LinkEvent, type LinkHost, type LinkOptions } from './link.js';
import { NodeTransports, verifyPeer } from './nodeTransports.js';

/** What `new Node(...)` takes: the options, the node's id, and its init message. */
export interface NodeConfig<M, N, I> extends NodeOptions<M, N, I> {
  /** This node's id, sent in every handshake; any MessagePack-encodable value. */
  readonly nodeId: N;
  /** Sent in every handshake. @default null */
  readonly initMessage?: I;
}

/** Options of `connect` and `connectRequest`. */
export interface ConnectOptions {
  /** ms for the TCP connect and the handshake together. @default the node's `handshakeTimeout` */
  readonly timeout?: number;
}

/** Options of `whenConnected`. */
export interface WhenConnectedOptions {
  /** ms to wait; then the promise rejects with `TIMEOUT`. @default the node's `handshakeTimeout` */
  readonly timeout?: number;
}

/** Options of `receive`. */
export interface ReceiveOptions {
  /** ms to wait; then the promise rejects with `TIMEOUT`. @default wait forever */
  readonly timeout?: number;
}

/**
 * A msgpacknet node: it listens and connects over TCP, and sends and
 * receives MessagePack messages addressed by node id, wire-compatible with
 * the Rust crate `msgpacknet`. Everything it reports arrives on `events$`
 * (or one at a time through `receive()`).
 *
 * @example
 * ```ts
 * import { Node } from 'msgpacknet';
 * await using a = new Node<string, string>({ nodeId: 'a' });
 * await using b = new Node<string, string>({ nodeId: 'b' });
 * const address = await b.listen('127.0.0.1:0');
 * b.events$.subscribe((event) => {
 *   if (event.type === 'connectionRequest') event.request.accept();
 *   if (event.type === 'message') console.log(event.from, event.message); // a hello
 * });
 * const peer = await a.connect(address); // 'b'
 * a.send(peer, 'hello');
 * ```
 */
export class Node<M = unknown, N = unknown, I = null> implements AsyncDisposable {
  /** This node's id. */
  readonly nodeId: N;
  private readonly key: string;
  private readonly options: ResolvedNodeOptions<M, N, I>;
  private readonly hub: EventHub<NodeEvent<M, N, I>>;
  /** The connections, and what the node decides about them. */
  private readonly book: ConnectionBook<M, N, I>;
  private readonly listeners: { readonly listener: Listener; readonly address: string }[] = [];
  /** The deadlines of connects still in their transport's connect. */
  private readonly connecting = new Set<Deadline>();
  private configCache: ConnectionConfig<M, N, I> | undefined;
  /** The transports by URL scheme (a bare `"host:port"` is `tcp`). */
  private readonly transports: NodeTransports;
  private handshakeBytes: Uint8Array = new Uint8Array(0);
  private initMessageValue!: I;
  private connectionTimeoutValue: number;
  private statsHalfLifeValue: number;
  /** Set when `close()` is called: later calls return it. */
  private closing: Promise<void> | undefined;
  /** Set once the `closing` event has been handed out: from then on the node refuses work. */
  private closed = false;

  /**
   * Connections that failed before they were registered, one `NetError`
   * each (with the peer's `address`): a bad or late handshake, a limit that
   * refused the socket, a peer that left before the decision, an outgoing
   * connection whose handshake failed. Registered connections report their end on
   * `events$` (`disconnected`) instead. Hot and not kept: a flood of bad
   * connections never fills `events$`. Completes when the node is closed.
   */
  readonly failures$: Observable<NetError>;

  constructor(config: NodeConfig<M, N, I>) {
    this.options = resolveNodeOptions(config);
    this.nodeId = config.nodeId;
    this.key = nodeIdKey(config.nodeId);
    this.transports = new NodeTransports(this.options, this.key);
    this.connectionTimeoutValue = duration('connectionTimeout', config.connectionTimeout ?? DEFAULT_CONNECTION_TIMEOUT);
    this.statsHalfLifeValue = positive('statsHalfLife', config.statsHalfLife ?? DEFAULT_STATS_HALF_LIFE);
    this.initMessage = (config.initMessage ?? null) as I;
    this.hub = new EventHub(
      this.options.eventBufferSize,
      (paused) => {
        for (const connection of this.book.registry.all()) connection.setPaused(paused);
      },
      this.options.eventBufferBytes,
    );
    this.events$ = this.hub.events$;
    this.book = new ConnectionBook<M, N, I>({
      nodeId: this.nodeId,
      node: this,
      key: this.key,
      options: this.options,
      hub: this.hub,
      connectionConfig: () => this.connectionConfig(),
      handshakeBytes: () => this.handshakeBytes,
      isClosing: () => this.closing !== undefined,
    });
    this.failures$ = this.book.failures.asObservable();
    diagnostics.debugFromEnv();
  }

  /** A node with a random 128-bit id (32 hex digits). */
  static withRandomId<M = unknown, I = null>(initMessage: I, options: NodeOptions<M, string, I> = {}): Node<M, string, I> {
    return new Node<M, string, I>({ ...options, nodeId: randomNodeId(), initMessage });
  }

  /** A node with a random id and a `null` init message (the crate's `create_default`). */
  static createDefault<M = unknown>(options: NodeOptions<M, string, null> = {}): Node<M, string> {
    return Node.withRandomId<M>(null, options);
  }

  /**
   * Every event of this node; hot. Events that occur while nobody is
   * subscribed are kept (up to `eventBufferSize`; beyond it reading pauses,
   * nothing is dropped) for the next subscriber. Completes after `closed`.
   */
  readonly events$: Observable<NodeEvent<M, N, I>>;

  /** Sent in every handshake; a change affects connections made after it. Throws `SEND_ERROR` if it cannot be encoded. */
  get initMessage(): I {
    return this.initMessageValue;
  }

  /** Sets the init message for connections made from now on; throws `SEND_ERROR` if it cannot be encoded. */
  set initMessage(value: I) {
    const encoder = new Encoder({ maxValueBytes: this.options.maxHandshakeBytes });
    this.handshakeBytes = encoder.encode([value, this.nodeId]);
    this.initMessageValue = value;
  }

  /** ms without receiving after which a connection closes; a change affects connections made after it. */
  get connectionTimeout(): number {
    return this.connectionTimeoutValue;
  }

  /** Sets the idle timeout (ms, positive) for connections made from now on; throws a `TypeError` otherwise. */
  set connectionTimeout(value: number) {
    this.connectionTimeoutValue = duration('connectionTimeout', value);
    this.configCache = undefined;
  }

  /** Half-life of the rates in `stats()`, ms; a change affects connections made after it. */
  get statsHalfLife(): number {
    return this.statsHalfLifeValue;
  }

  /** Sets the half-life (ms, positive) for connections made from now on; throws a `TypeError` otherwise. */
  set statsHalfLife(value: number) {
    this.statsHalfLifeValue = positive('statsHalfLife', value);
    this.configCache = undefined;
  }

  /** ms for a connect and its handshakes (the `handshakeTimeout` option): what `connect` and a `Cluster` wait by default. */
  get handshakeTimeout(): number {
    return this.options.handshakeTimeout;
  }

  /** Registered connections. */
  get connectionCount(): number {
    return this.book.registry.size;
  }

  /** Is there a registered connection to `id`? */
  isConnected(id: N): boolean {
    return this.book.registry.get(nodeIdKey(id)) !== undefined;
  }

  /**
   * Resolves once a connection to `id` is registered on this node: at once
   * if there is one. The side that accepted a connection registers it when
   * it accepts, which may be after the dialling side's `connect` resolved:
   * a server that wants to send first waits with this. Rejects with
   * `TIMEOUT` after `timeout` ms (default `handshakeTimeout`) and with
   * `ALREADY_CLOSED` when the node is closed or closes meanwhile.
   */
  async whenConnected(id: N, options: WhenConnectedOptions = {}): Promise<void> {
    if (this.closing) throw alreadyClosed();
    const ms = duration('timeout', options.timeout ?? this.options.handshakeTimeout);
    const key = nodeIdKey(id);
    if (this.book.registry.get(key) !== undefined) return;
    await firstValueFrom(
      this.book.lifecycle.pipe(
        filter((event) => event.type === 'closing' || (event.type === 'connected' && event.key === key)),
        take(1),
        map((event) => {
          if (event.type === 'closing') throw alreadyClosed();
        }),
        throwIfEmpty(() => alreadyClosed()),
        timeout({
          first: ms,
          scheduler: this.options.scheduler,
          with: () =>
            throwError(
              () =>
                new NetError('TIMEOUT', `no connection to ${describeValue(id)} within ${ms} ms`, { nodeId: id, limit: 'timeout', max: ms }),
            ),
        }),
      ),
    );
  }

  /** The id connected at that remote address, or `undefined`. */
  lookupConnection(address: Address): N | undefined {
    const { host, port } = parseAddress(address, 'CONNECTION_ERROR');
    const wanted = formatAddress(host, port);
    return this.book.registry.registered().find((connection) => connection.remoteAddress === wanted)?.nodeId;
  }

  /** A snapshot of every registered connection's traffic. */
  stats(): NodeStats<N> {
    const now = this.options.scheduler.now();
    return { connections: this.book.registry.registered().map((connection) => connection.stats(now)) };
  }

  /**
   * Closes the connection to `id` gracefully: what is queued is flushed,
   * then FIN; messages the peer sent before it saw the FIN are still
   * delivered, until its own FIN (or `linger` ms). `isConnected(id)` is false
   * at once and `send` to it throws `NOT_CONNECTED`; `disconnected` (reason
   * `'closed'`) is emitted when it is closed, and the promise resolves then.
   * Rejects with `NOT_CONNECTED` or `ALREADY_CLOSED`. (Not in the Rust crate.)
   */
  async disconnect(id: N): Promise<void> {
    this.assertOpen();
    const connection = this.book.connectionTo(id);
    this.book.registry.unregister(connection);
    // Read on until the peer's FIN, so nothing it sent before it saw ours is lost.
    await connection.close('closed', true);
  }

  /** The bound addresses, in the form `listen` was given (`"host:port"`, or a URL). */
  addresses(): string[] {
    return this.listeners.map((entry) => entry.address);
  }

  /**
   * Whether the connection to `id` can take more without queueing past its
   * high-water mark; emits the current state at once, then on change, and
   * completes when the connection ends. Throws `NOT_CONNECTED` synchronously
   * (not as an Observable error) when there is no connection to `id`, and
   * `ALREADY_CLOSED` when the node is closed.
   */
  writable$(id: N): Observable<boolean> {
    this.assertOpen();
    return this.book.connectionTo(id).writable$;
  }

  /**
   * Resolves once the write queue to `id` is under its high-water mark: at
   * once if it is, and also when the connection ends (so check
   * `isConnected(id)` after it before sending more). Rejects with
   * `NOT_CONNECTED` when there is no connection to `id`.
   */
  async drain(id: N): Promise<void> {
    this.assertOpen();
    await firstValueFrom(this.book.connectionTo(id).writable$.pipe(filter(Boolean)), { defaultValue: true });
  }

  /** The next event; resolves to `{ type: 'closed' }` once the node is closed and every kept event was taken. */
  receive(options: ReceiveOptions = {}): Promise<NodeEvent<M, N, I>> {
    const { timeout } = options;
    const invalid = timeout === undefined ? undefined : durationError('timeout', timeout);
    if (invalid) return Promise.reject(invalid);
    return this.hub.receive({ type: 'closed' }, timeout, this.options.scheduler);
  }

  /**
   * Binds a listener; resolves with its actual address (port 0 takes a free
   * port), in the form it was given (`"host:port"`, or `tcp://host:port`).
   * Rejects with `OPEN_ERROR`.
   */
  async listen(address: Address): Promise<string> {
    this.assertOpen();
    const endpoint = parseAddress(address, 'OPEN_ERROR');
    const { book } = this;
    const listener = await this.transports
      .for(endpoint, 'OPEN_ERROR')
      .listen(endpoint, (stream) => book.admit(stream, endpoint.scheme), book.admission);
    if (this.closing) {
      await listener.close();
      throw alreadyClosed();
    }
    const bound = formatEndpoint(endpoint, listener.address);
    this.listeners.push({ listener, address: bound });
    return bound;
  }

  /** Listens on a free port on IPv4 (`0.0.0.0:0`) and IPv6 (`[::]:0`). */
  async listenDefaults(): Promise<string[]> {
    return [await this.listen('0.0.0.0:0'), await this.listen('[::]:0')];
  }

  /**
   * Connects, exchanges handshakes, accepts; resolves with the peer's id once
   * the connection is registered on this node. The peer registers it when it
   * accepts, which may be later: until then its `send` to this node throws
   * `NOT_CONNECTED` (it waits with {@link whenConnected}). Rejects with
   * `CONNECTION_ERROR`, `READ_ERROR` (the peer's handshake is not valid),
   * `TIMEOUT` or `ALREADY_CLOSED`.
   */
  async connect(address: Address, options: ConnectOptions = {}): Promise<N> {
    const request = await this.connectRequest(address, options);
    if (!request.accept()) {
      // It failed between the handshake and this accept (a bad value after the handshake, a reset): say why.
      throw request.failure ?? endedEarly(request.remoteAddress, 'before it was accepted', request.nodeId);
    }
    return request.nodeId;
  }

  /**
   * Connects and exchanges handshakes; leaves accept or reject to the caller.
   * One deadline (`timeout`) covers the transport's connect and the peer's
   * handshake. Rejects with `CONNECTION_ERROR`, `TIMEOUT` or `ALREADY_CLOSED`.
   */
  async connectRequest(address: Address, options: ConnectOptions = {}): Promise<ConnectionRequest<M, N, I>> {
    this.assertOpen();
    const endpoint = parseAddress(address, 'CONNECTION_ERROR');
    const transport = this.transports.for(endpoint, 'CONNECTION_ERROR');
    const deadline = new Deadline(duration('timeout', options.timeout ?? this.options.handshakeTimeout), this.options.scheduler);
    let stream: ByteStream;
    this.connecting.add(deadline);
    try {
      stream = await transport.connect(endpoint, deadline.signal);
    } catch (error) {
      deadline.cancel();
      throw error;
    } finally {
      this.connecting.delete(deadline);
    }
    if (this.closing) {
      deadline.cancel();
      stream.destroy();
      throw alreadyClosed();
    }
    return new Promise((resolve, reject) => {
      this.book.open(stream, true, endpoint.scheme, deadline, { resolve, reject }).start();
    });
  }

  /**
   * Adds an interceptor: called with every event of this node as it
   * happens, before `events$` (and whether or not anyone subscribes to it),
   * in the order `events$` sees them. Returning true consumes the event:
   * `events$` never sees it and it is never kept. This is how {@link Rpc}
   * takes its own messages and leaves the rest to the user. It runs inside
   * the node's event delivery, so it must be quick; an error it throws is
   * reported out of band (as RxJS reports a subscriber's) and the event goes
   * on. Unsubscribe to remove it.
   */
  intercept(interceptor: (event: NodeEvent<M, N, I>) => boolean): Subscription {
    return new Subscription(this.hub.intercept(interceptor));
  }

  /**
   * Queues `message` for `to` (one write per event-loop turn); to this
   * node's own id, delivers a `message` event from itself. Throws
   * `NOT_CONNECTED`, `SEND_ERROR` (cannot be encoded, too large, queue
   * full) or `ALREADY_CLOSED`.
   */
  send(to: N, message: M): void {
    // The same id as the last send (the common case in a loop): skip the key and the lookup.
    const last = this.closed ? undefined : this.book.registry.lastSend(to);
    if (last) return last.send(message);
    this.assertOpen();
    this.book.send(to, message);
  }

  /**
   * Closes the node: emits `closing` (connections still work: a subscriber
   * may send final messages synchronously), flushes and ends every
   * connection with FIN (each emits `disconnected`, `'closed'`), stops
   * listening, emits `closed` and completes `events$`. Idempotent; never
   * hangs (sockets still open after `linger` ms are destroyed).
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    let begin!: () => void;
    this.closing = new Promise<void>((resolve) => (begin = resolve)).then(() => this.shutdown());
    // Sends still work in its handlers; from inside a handler it is routed later, and the node closes then.
    this.book.lifecycle.next({ type: 'closing' });
    this.hub.emit({ type: 'closing' }, () => {
      this.closed = true;
      begin();
    });
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // Connects still in their transport's connect (a TCP connect, a TLS handshake, a WebSocket upgrade) give up now.
    for (const deadline of this.connecting) deadline.abort(alreadyClosed());
    this.connecting.clear();
    const closes = this.book.closeAll();
    closes.push(...this.listeners.map((entry) => entry.listener.close()));
    this.listeners.length = 0;
    await Promise.all(closes);
    this.hub.emit({ type: 'closed' });
    this.hub.complete();
    this.book.complete();
  }

  /** `await using node = ...` closes it (the crate's `CloseGuard`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private assertOpen(): void {
    if (this.closed) throw alreadyClosed();
  }

  /** The settings of a connection made now: one object until connectionTimeout or statsHalfLife changes. */
  private connectionConfig(): ConnectionConfig<M, N, I> {
    if (this.configCache) return this.configCache;
    const frames = { ...this.options.limits, first: handshakeLimits(this.options) };
    return (this.configCache = {
      ...this.options,
      connectionTimeout: this.connectionTimeoutValue,
      statsHalfLife: this.statsHalfLifeValue,
      frames,
      ...connectionParts(this.options, this.connectionTimeoutValue, frames),
      ...(this.options.authenticateIds ? { verifyPeer } : {}),
    });
  }

  /**
   * Keeps one connection to `address` open: reconnects after every failure
   * or loss with exponential backoff and jitter (on the node's scheduler),
   * until unsubscribed (which closes the connection gracefully) or the node
   * closes (which completes it). Cold: each subscription is one link; a
   * second link to an address this node already links is refused with
   * `CONNECTION_ERROR`. Messages are never queued across a reconnect: `send`
   * while it is down throws `NOT_CONNECTED`. Errors after `maxAttempts`
   * failed attempts in a row, with the last error.
   *
   * @example
   * ```ts
   * import { Node } from 'msgpacknet';
   * await using node = Node.createDefault();
   * const link = node.link('127.0.0.1:1', { initialDelay: 10, maxAttempts: 2 }).subscribe({
   *   next: (event) => console.log(event.state), // connecting, disconnected, connecting
   *   error: (error: { code: string }) => console.log(error.code), // CONNECTION_ERROR
   * });
   * await new Promise((resolve) => setTimeout(resolve, 500));
   * link.unsubscribe();
   * ```
   */
  link(address: string, options: LinkOptions = {}): Observable<LinkEvent<N>> {
    return link<N>(this.linkHost(), address, options);
  }

  /** What links see of this node (made per link: it is a handful of closures). */
  private linkHost(): LinkHost<N> {
    return {
      owner: this,
      connect: (address, options) =>
        new Observable<N>((subscriber) => {
          let abandoned = false;
          this.connect(address, options).then(
            (id) => {
              // Given up (the link was unsubscribed) while connecting: that connection is not wanted.
              if (abandoned) void this.disconnect(id).catch(() => undefined);
              else subscriber.next(id);
            },
            (error: unknown) => subscriber.error(error),
          );
          return () => (abandoned = true);
        }),
      disconnect: (id) => this.disconnect(id),
      isConnected: (id) => this.isConnected(id),
      lifecycle$: this.book.lifecycle.asObservable(),
      scheduler: this.options.scheduler,
      isClosing: () => this.closing !== undefined,
    };
  }
}
