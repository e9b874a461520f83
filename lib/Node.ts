import { Observable, Subject, filter, firstValueFrom } from 'rxjs';
import { Encoder } from './codec/Encoder.js';
import { FrameDecoder } from './codec/FrameDecoder.js';
import { Connection, connectionParts, handshakeLimits, type ConnectionConfig, type ConnectionSink } from './Connection.js';
import type { ConnectionRequest } from './ConnectionRequest.js';
import { Deadline } from './Deadline.js';
import { DEFAULT_CONNECTION_TIMEOUT, DEFAULT_STATS_HALF_LIFE } from './defaults.js';
import { NetError, alreadyClosed, describeValue, endedEarly, notConnected, refusedError, type NetErrorCode } from './errors.js';
import { EventHub } from './EventHub.js';
import type { DisconnectReason, NodeEvent } from './events.js';
import { nodeIdKey, randomNodeId } from './nodeId.js';
import { positive, resolveNodeOptions, type NodeOptions, type ResolvedNodeOptions } from './options.js';
import { Registry } from './Registry.js';
import { newConnectionWins } from './duplicates.js';
import type { NodeStats } from './stats.js';
import { formatAddress, formatEndpoint, parseAddress, type Address, type Endpoint } from './transport/address.js';
import type { Admission, ByteStream, Listener, Transport } from './transport/Transport.js';
import { platform } from './platform.js';
import { link, type LifecycleEvent, type LinkEvent, type LinkHost, type LinkOptions } from './link.js';

/** A connect in flight: settles when the peer's handshake arrives, or when the connection ends first. */
interface Waiter<M, N, I> {
  resolve(request: ConnectionRequest<M, N, I>): void;
  reject(error: NetError): void;
}

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
  private readonly registry: Registry<Connection<M, N, I>>;
  private readonly listeners: { readonly listener: Listener; readonly address: string }[] = [];
  /** Connections that emitted `connected` and owe one `disconnected`. */
  private readonly announced = new Set<Connection<M, N, I>>();
  private readonly waiters = new Map<Connection<M, N, I>, Waiter<M, N, I>>();
  /** The deadlines of connects still in their transport's connect. */
  private readonly connecting = new Set<Deadline>();
  private configCache: ConnectionConfig<M, N, I> | undefined;
  /** The transports by URL scheme (a bare `"host:port"` is `tcp`). */
  private readonly transports: Readonly<Record<string, Transport>>;
  private readonly selfCodec = { encoder: new Encoder(), decoder: new FrameDecoder() };
  private handshakeBytes: Uint8Array = new Uint8Array(0);
  private initMessageValue!: I;
  private connectionTimeoutValue: number;
  private statsHalfLifeValue: number;
  /** Set when `close()` is called: later calls return it. */
  private closing: Promise<void> | undefined;
  /** Set once the `closing` event has been handed out: from then on the node refuses work. */
  private closed = false;
  private readonly failures = new Subject<NetError>();
  /** Connections' ends and the closing, for links (apart from events$, so links never take the user's events). */
  private readonly lifecycle = new Subject<LifecycleEvent>();

  /**
   * Connections that failed before they were registered, one `NetError`
   * each (with the peer's `address`): a bad or late handshake, a limit that
   * refused the socket, a peer that left before the decision, an outgoing
   * connection whose handshake failed. Registered connections report their end on
   * `events$` (`disconnected`) instead. Hot and not kept: a flood of bad
   * connections never fills `events$`. Completes when the node is closed.
   */
  readonly failures$: Observable<NetError> = this.failures.asObservable();

  constructor(config: NodeConfig<M, N, I>) {
    this.options = resolveNodeOptions(config);
    this.nodeId = config.nodeId;
    this.key = nodeIdKey(config.nodeId);
    this.transports = transportsOf(this.options);
    if (this.options.authenticateIds) {
      const { cert } = this.options.tls;
      const { certificateId } = platform;
      if (certificateId === undefined)
        throw new TypeError(`authenticateIds is not available in ${platform.name}: peers' certificates cannot be seen`);
      if (cert === undefined) throw new TypeError('authenticateIds needs tls.cert (and tls.key): the node id is bound to its key');
      if (nodeIdKey(certificateId(cert)) !== this.key) {
        throw new TypeError(`with authenticateIds the node id must be certificateId(tls.cert) = ${certificateId(cert)}`);
      }
    }
    this.connectionTimeoutValue = positive('connectionTimeout', config.connectionTimeout ?? DEFAULT_CONNECTION_TIMEOUT);
    this.statsHalfLifeValue = positive('statsHalfLife', config.statsHalfLife ?? DEFAULT_STATS_HALF_LIFE);
    this.initMessage = (config.initMessage ?? null) as I;
    this.hub = new EventHub(
      this.options.eventBufferSize,
      (paused) => {
        for (const connection of this.registry.all()) connection.setPaused(paused);
      },
      this.options.eventBufferBytes,
    );
    this.events$ = this.hub.events$;
    this.registry = new Registry(this.options);
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
    this.connectionTimeoutValue = positive('connectionTimeout', value);
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

  /** Registered connections. */
  get connectionCount(): number {
    return this.registry.size;
  }

  /** Is there a registered connection to `id`? */
  isConnected(id: N): boolean {
    return this.registry.get(nodeIdKey(id)) !== undefined;
  }

  /** The id connected at that remote address, or `undefined`. */
  lookupConnection(address: Address): N | undefined {
    const { host, port } = parseAddress(address, 'CONNECTION_ERROR');
    const wanted = formatAddress(host, port);
    return this.registry.registered().find((connection) => connection.remoteAddress === wanted)?.nodeId;
  }

  /** A snapshot of every registered connection's traffic. */
  stats(): NodeStats<N> {
    const now = this.options.scheduler.now();
    return { connections: this.registry.registered().map((connection) => connection.stats(now)) };
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
    const connection = this.connectionTo(id);
    this.registry.unregister(connection);
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
    return this.connectionTo(id).writable$;
  }

  /**
   * Resolves once the write queue to `id` is under its high-water mark: at
   * once if it is, and also when the connection ends (so check
   * `isConnected(id)` after it before sending more). Rejects with
   * `NOT_CONNECTED` when there is no connection to `id`.
   */
  async drain(id: N): Promise<void> {
    this.assertOpen();
    await firstValueFrom(this.connectionTo(id).writable$.pipe(filter(Boolean)), { defaultValue: true });
  }

  /** The next event; resolves to `{ type: 'closed' }` once the node is closed and every kept event was taken. */
  receive(options: ReceiveOptions = {}): Promise<NodeEvent<M, N, I>> {
    const { timeout } = options;
    if (timeout !== undefined && !(timeout > 0))
      return Promise.reject(new TypeError(`timeout must be a positive number of ms, got ${timeout}`));
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
    const listener = await this.transportFor(endpoint, 'OPEN_ERROR').listen(endpoint, (stream) => this.admit(stream), this.admission);
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

  /** Connects, exchanges handshakes, accepts; resolves with the peer's id once it is registered. */
  async connect(address: Address, options: ConnectOptions = {}): Promise<N> {
    const request = await this.connectRequest(address, options);
    if (!request.accept()) {
      throw endedEarly(request.remoteAddress, 'before it was accepted', request.nodeId);
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
    const transport = this.transportFor(endpoint, 'CONNECTION_ERROR');
    const deadline = new Deadline(positive('timeout', options.timeout ?? this.options.handshakeTimeout), this.options.scheduler);
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
      const connection = this.open(stream, true, deadline);
      this.waiters.set(connection, { resolve, reject });
      connection.start();
    });
  }

  /**
   * Queues `message` for `to` (one write per event-loop turn); to this
   * node's own id, delivers a `message` event from itself. Throws
   * `NOT_CONNECTED`, `SEND_ERROR` (cannot be encoded, too large, queue
   * full) or `ALREADY_CLOSED`.
   */
  send(to: N, message: M): void {
    // The same id as the last send (the common case in a loop): skip the key and the lookup.
    const last = this.closed ? undefined : this.registry.lastSend(to);
    if (last) return last.send(message);
    this.assertOpen();
    const key = nodeIdKey(to);
    if (key === this.key) {
      const { encoder, decoder } = this.selfCodec;
      encoder.append(message);
      try {
        decoder.write(encoder.take(), (value) =>
          queueMicrotask(() => this.hub.emit({ type: 'message', from: this.nodeId, message: value as M })),
        );
      } catch (error) {
        // A value the decoder's limits refuse (too many objects, say) is the sender's to hear of, as a peer's limit would be.
        if (!(error instanceof NetError)) throw error;
        const { limit, max, actual } = error;
        throw new NetError('SEND_ERROR', `the message to this node itself cannot be decoded: ${error.message}`, {
          cause: error,
          ...(limit === undefined ? {} : { limit }),
          ...(max === undefined ? {} : { max }),
          ...(actual === undefined ? {} : { actual }),
        });
      }
      return;
    }
    const connection = this.registry.get(key);
    if (!connection) throw notConnected(to);
    connection.send(message);
    this.registry.remember(to, connection);
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
    this.lifecycle.next({ type: 'closing' });
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
    const closes: Promise<void>[] = [];
    for (const connection of this.registry.all()) {
      if (this.announced.has(connection)) closes.push(connection.close('closed'));
      else connection.destroy('closed');
    }
    closes.push(...this.listeners.map((entry) => entry.listener.close()));
    this.listeners.length = 0;
    await Promise.all(closes);
    this.hub.emit({ type: 'closed' });
    this.hub.complete();
    this.failures.complete();
    this.lifecycle.complete();
  }

  /** `await using node = ...` closes it (the crate's `CloseGuard`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private assertOpen(): void {
    if (this.closed) throw alreadyClosed();
  }

  /** The registered connection to `id`; throws `NOT_CONNECTED`. */
  private connectionTo(id: N): Connection<M, N, I> {
    const connection = this.registry.get(nodeIdKey(id));
    if (!connection) throw notConnected(id);
    return connection;
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

  /** The transport of an endpoint's scheme; throws a `NetError` with `code` for one this node lacks. */
  private transportFor(endpoint: Endpoint, code: NetErrorCode): Transport {
    const transport = this.transports[endpoint.scheme];
    if (transport) return transport;
    const has = Object.keys(this.transports).join(', ');
    const why = this.options.authenticateIds ? ' (authenticateIds: tls and wss only)' : '';
    throw new NetError(code, `${endpoint.scheme}:// is not a transport of this node; it has ${has}${why}`, {
      address: `${endpoint.scheme}://${formatAddress(endpoint.host, endpoint.port)}`,
    });
  }

  /** How a transport with a costly handshake of its own (TLS) asks for room under the node's limits. */
  private readonly admission: Admission = {
    enter: (address) => {
      if (this.closing) return false;
      const refusal = this.registry.refusal();
      if (refusal) {
        this.failures.next(refusedError(address, refusal.limit, refusal.max));
        return false;
      }
      this.registry.enterTransport();
      return true;
    },
    leave: () => this.registry.leaveTransport(),
    fail: (error) => {
      if (!this.closing) this.failures.next(error);
    },
  };

  /** An incoming stream: a connection, or refused at once by a limit (one failure each). */
  private admit(stream: ByteStream): void {
    if (this.closing) {
      stream.destroy();
      return;
    }
    const refusal = this.registry.refusal();
    if (refusal) {
      stream.destroy();
      const { limit, max } = refusal;
      const address = stream.remoteAddress;
      this.failures.next(refusedError(address, limit, max));
      return;
    }
    // The deadline counts from the TCP connect: a transport handshake (TLS) already took its share.
    const spent = stream.openedAt === undefined ? 0 : performance.now() - stream.openedAt;
    const { handshakeTimeout, scheduler } = this.options;
    this.open(stream, false, new Deadline(Math.max(1, handshakeTimeout - spent), scheduler, handshakeTimeout)).start();
  }

  /** A connection, filed; it reads once `start()`ed. */
  private open(stream: ByteStream, outgoing: boolean, deadline: Deadline): Connection<M, N, I> {
    const connection = new Connection<M, N, I>(stream, outgoing, this.connectionConfig(), this.sink, this.handshakeBytes, deadline);
    this.registry.add(connection, !outgoing);
    // While the event buffer is over a bound, a new connection does not read either.
    if (this.hub.isPaused) connection.setPaused(true);
    return connection;
  }

  private farewell(connection: Connection<M, N, I>, reason: DisconnectReason, error: NetError | undefined): void {
    if (!this.announced.delete(connection)) return;
    const nodeId = connection.nodeId as N;
    this.hub.emit(error ? { type: 'disconnected', nodeId, reason, error } : { type: 'disconnected', nodeId, reason });
    this.lifecycle.next(
      error ? { type: 'disconnected', key: connection.key, reason, error } : { type: 'disconnected', key: connection.key, reason },
    );
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
      lifecycle$: this.lifecycle.asObservable(),
      scheduler: this.options.scheduler,
      isClosing: () => this.closing !== undefined,
    };
  }

  /** What the connections report, turned into events. */
  private readonly sink: ConnectionSink<M, N, I> = {
    request: (connection, request) => {
      if (connection.key === this.key) {
        const address = connection.remoteAddress;
        connection.destroy('error', new NetError('CONNECTION_ERROR', `${address} is this node itself`, { address }));
        return;
      }
      const waiter = this.waiters.get(connection);
      if (waiter) {
        this.waiters.delete(connection);
        waiter.resolve(request);
      } else this.hub.emit({ type: 'connectionRequest', request });
    },
    accepted: (connection) => {
      if (this.closing) return false;
      this.registry.decided(connection);
      const loser = this.registry.register(connection, this.key);
      if (loser === connection) {
        // Deliver what the peer sent on it, then let it go, with no events: it never counted.
        queueMicrotask(() => void connection.close('replaced', true));
        return true;
      }
      // The new one delivers once the old one has, and once every connection from the same peer still
      // awaiting its decision that will lose to it has ended: the peer sent on those first (it sends on
      // the one it has registered, and moves to the winner once), so its messages stay in order.
      const before: Promise<void>[] = [];
      if (loser) {
        this.farewell(loser, 'replaced', undefined);
        before.push(loser.close('replaced', true));
      }
      for (const other of this.registry.all()) {
        if (other !== connection && other.isPending && other.key === connection.key) {
          if (!newConnectionWins(connection.outgoing, other.outgoing, this.key, other.key)) before.push(other.whenEnded());
        }
      }
      if (before.length > 0) connection.follow(before.length === 1 ? before[0]! : Promise.all(before).then(() => undefined));
      this.announced.add(connection);
      this.hub.emit({ type: 'connected', nodeId: connection.nodeId as N });
      return true;
    },
    message: (connection, message) => this.hub.emit({ type: 'message', from: connection.nodeId as N, message }),
    read: (cost) => this.hub.charge(cost),
    ended: (connection, reason, error) => {
      this.registry.remove(connection);
      const address = connection.remoteAddress;
      const waiter = this.waiters.get(connection);
      if (waiter) {
        this.waiters.delete(connection);
        waiter.reject(this.closing ? alreadyClosed() : (error ?? endedEarly(address, 'during the handshake')));
      }
      if (this.announced.has(connection)) this.farewell(connection, reason, error);
      else if (!connection.decided && !this.closing) {
        this.failures.next(error ?? endedEarly(address, 'before it was accepted', connection.nodeId));
      }
    },
  };
}

/** The transports a node with these options has: its platform's, then the `transports` option's. */
function transportsOf<M, N, I>(options: ResolvedNodeOptions<M, N, I>): Readonly<Record<string, Transport>> {
  const { tls, authenticateIds, handshakeTimeout, limits } = options;
  return { ...platform.transports({ tls, authenticateIds, handshakeTimeout, maxValueBytes: limits.maxValueBytes }), ...options.transports };
}

/** Key-bound ids: the id in a peer's handshake must be the certificateId of the certificate it presented. */
function verifyPeer(nodeId: unknown, stream: ByteStream): NetError | undefined {
  const address = stream.remoteAddress;
  const certificate = stream.peerCertificate;
  if (certificate === undefined) {
    return new NetError('CONNECTION_ERROR', `${address} presented no certificate, and ids are key-bound (authenticateIds)`, {
      address,
      nodeId,
    });
  }
  const bound = platform.certificateId?.(certificate) ?? '';
  if (nodeIdKey(bound) === nodeIdKey(nodeId)) return undefined;
  return new NetError('CONNECTION_ERROR', `${address} claims the id ${describeValue(nodeId)}, but its certificate is bound to ${bound}`, {
    address,
    nodeId,
  });
}
