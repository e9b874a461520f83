import { Subject } from 'rxjs';
import { diagnostics } from '../diagnostics.js';
import type { DiagnosticsNode } from '../diagnosticsChannels.js';
import { NetError, alreadyClosed, endedEarly, notConnected, refusedError } from '../errors.js';
import type { DisconnectReason, NodeEvent } from '../events.js';
import { nodeIdKey } from '../nodeId.js';
import type { ResolvedNodeOptions } from '../options.js';
import type { Admission, ByteStream } from '../transport/Transport.js';
import { Connection } from './Connection.js';
import type { ConnectionConfig, ConnectionSink } from './connectionParts.js';
import type { ConnectionRequest } from './ConnectionRequest.js';
import { Deadline } from './Deadline.js';
import type { EventHub } from './EventHub.js';
import type { LifecycleEvent } from './link.js';
import { Registry } from './Registry.js';
import { SelfConnection } from './SelfConnection.js';

/** A connect in flight: settles when the peer's handshake arrives, or when the connection ends first. */
export interface Waiter<M, N, I> {
  resolve(request: ConnectionRequest<M, N, I>): void;
  reject(error: NetError): void;
}

/** What the book needs of its node. */
export interface BookHost<M, N, I> {
  readonly nodeId: N;
  /** The node, as diagnostics messages name it. */
  readonly node: DiagnosticsNode;
  /** The registry key of the node's own id. */
  readonly key: string;
  readonly options: ResolvedNodeOptions<M, N, I>;
  readonly hub: EventHub<NodeEvent<M, N, I>>;
  /** The settings of a connection made now. */
  connectionConfig(): ConnectionConfig<M, N, I>;
  /** The node's handshake, encoded. */
  handshakeBytes(): Uint8Array;
  /** Has `close()` been called? */
  isClosing(): boolean;
}

/**
 * A node's connections, and everything it decides about them: admission
 * under its limits, the connects waiting for a handshake, what each
 * connection reports (its request, its acceptance and the duplicate rule,
 * its messages, its end) turned into events exactly once, failures of
 * connections that never registered, and where a send goes (a registered
 * connection, or the node itself). `Node` is the API over it.
 */
export class ConnectionBook<M, N, I> {
  readonly registry: Registry<Connection<M, N, I>>;
  /** Connections that failed before they were registered (the node's `failures$`). */
  readonly failures = new Subject<NetError>();
  /** Registrations, connections' ends and the closing, for links and `whenConnected` (apart from events$, so they never take the user's events). */
  readonly lifecycle = new Subject<LifecycleEvent>();
  /** Connections that emitted `connected` and owe one `disconnected`. */
  private readonly announced = new Set<Connection<M, N, I>>();
  private readonly waiters = new Map<Connection<M, N, I>, Waiter<M, N, I>>();
  private readonly self: SelfConnection;

  constructor(private readonly host: BookHost<M, N, I>) {
    this.registry = new Registry(host.options);
    const { limits } = host.options;
    this.self = new SelfConnection(
      (message) => host.hub.emit({ type: 'message', from: host.nodeId, message: message as M }),
      {
        encoder: { maxValueBytes: limits.maxValueBytes, maxDepth: limits.maxDepth },
        decoder: limits,
      },
      host.options.validateMessage,
    );
  }

  /**
   * Queues `message` for `to`: the registered connection to it, or this node
   * itself. Throws `NOT_CONNECTED` or `SEND_ERROR`.
   */
  send(to: N, message: M): void {
    const key = nodeIdKey(to);
    const route = key === this.host.key ? this.self : this.registry.get(key);
    if (!route) throw notConnected(to);
    route.send(message);
    if (route !== this.self) this.registry.remember(to, route as Connection<M, N, I>);
  }

  /** The registered connection to `id`; throws `NOT_CONNECTED`. */
  connectionTo(id: N): Connection<M, N, I> {
    const connection = this.registry.get(nodeIdKey(id));
    if (!connection) throw notConnected(id);
    return connection;
  }

  /** A connection, filed; it reads once `start()`ed. A connect's `waiter` hears of its handshake. */
  open(stream: ByteStream, outgoing: boolean, transport: string, deadline: Deadline, waiter?: Waiter<M, N, I>): Connection<M, N, I> {
    const { host } = this;
    const connection = new Connection<M, N, I>(
      stream,
      outgoing,
      transport,
      host.connectionConfig(),
      this.sink,
      host.handshakeBytes(),
      deadline,
    );
    this.registry.add(connection, !outgoing);
    if (waiter) this.waiters.set(connection, waiter);
    // While the event buffer is over a bound, a new connection does not read either.
    if (host.hub.isPaused) connection.setPaused(true);
    return connection;
  }

  /** An incoming stream: a connection, or refused at once by a limit (one failure each). */
  admit(stream: ByteStream, transport: string): void {
    if (this.host.isClosing()) {
      stream.destroy();
      return;
    }
    const refusal = this.registry.refusal();
    if (refusal) {
      stream.destroy();
      this.fail(refusedError(stream.remoteAddress, refusal.limit, refusal.max));
      return;
    }
    // The deadline counts from the TCP connect: a transport handshake (TLS) already took its share.
    const spent = stream.openedAt === undefined ? 0 : performance.now() - stream.openedAt;
    const { handshakeTimeout, scheduler } = this.host.options;
    this.open(stream, false, transport, new Deadline(Math.max(1, handshakeTimeout - spent), scheduler, handshakeTimeout)).start();
  }

  /** How a transport with a costly handshake of its own (TLS) asks for room under the node's limits. */
  readonly admission: Admission = {
    enter: (address) => {
      if (this.host.isClosing()) return false;
      const refusal = this.registry.refusal();
      if (refusal) {
        this.fail(refusedError(address, refusal.limit, refusal.max));
        return false;
      }
      this.registry.enterTransport();
      return true;
    },
    leave: () => this.registry.leaveTransport(),
    fail: (error) => {
      if (!this.host.isClosing()) this.fail(error);
    },
  };

  /** The node closes: registered connections end in order (resolving when closed), the rest at once. */
  closeAll(): Promise<void>[] {
    const closes: Promise<void>[] = [];
    for (const connection of this.registry.all()) {
      if (this.announced.has(connection)) closes.push(connection.close('closed'));
      else connection.destroy('closed');
    }
    return closes;
  }

  /** After the node's `closed`: the book's streams complete. */
  complete(): void {
    this.failures.complete();
    this.lifecycle.complete();
  }

  /** A connection failed before it was registered: on `failures$`, and on the diagnostics channels. */
  private fail(error: NetError): void {
    this.failures.next(error);
    diagnostics.failure(this.host.node, error);
  }

  private farewell(connection: Connection<M, N, I>, reason: DisconnectReason, error: NetError | undefined): void {
    if (!this.announced.delete(connection)) return;
    const nodeId = connection.nodeId as N;
    const { key } = connection;
    this.host.hub.emit(error ? { type: 'disconnected', nodeId, reason, error } : { type: 'disconnected', nodeId, reason });
    this.lifecycle.next(error ? { type: 'disconnected', key, reason, error } : { type: 'disconnected', key, reason });
    const { node } = this.host;
    diagnostics.connectionClose(() => ({
      node,
      nodeId,
      remoteAddress: connection.remoteAddress,
      outgoing: connection.outgoing,
      transport: connection.transport,
      reason,
      error,
      bytesRead: connection.read.total,
      bytesWritten: connection.written.total,
      messagesRead: connection.messagesRead,
      messagesWritten: connection.messagesWritten,
    }));
    diagnostics.limit(node, nodeId, error);
  }

  /** What the connections report, turned into events. */
  private readonly sink: ConnectionSink<M, N, I> = {
    request: (connection, request) => {
      if (connection.key === this.host.key) {
        const address = connection.remoteAddress;
        connection.destroy(
          'error',
          new NetError('CONNECTION_ERROR', `${address} is this node itself`, { address, nodeId: this.host.nodeId }),
        );
        return;
      }
      const waiter = this.waiters.get(connection);
      if (waiter) {
        this.waiters.delete(connection);
        waiter.resolve(request);
      } else this.host.hub.emit({ type: 'connectionRequest', request });
    },
    accepted: (connection) => {
      if (this.host.isClosing()) return false;
      this.registry.decided(connection);
      const loser = this.registry.register(connection, this.host.key);
      if (loser === connection) {
        // Deliver what the peer sent on it, then let it go, with no events: it never counted.
        queueMicrotask(() => void connection.close('replaced', true));
        return true;
      }
      // The new one delivers once the old one has, and once the peer's pending connections that lose to it have ended.
      const before: Promise<void>[] = [];
      if (loser) {
        this.farewell(loser, 'replaced', undefined);
        const ended = loser.close('replaced', true);
        before.push(ended);
        connection.writeAfter(ended);
      }
      for (const other of this.registry.pendingLosers(connection, this.host.key)) before.push(other.whenEnded());
      if (before.length > 0) connection.follow(before.length === 1 ? before[0]! : Promise.all(before).then(() => undefined));
      this.announced.add(connection);
      this.lifecycle.next({ type: 'connected', key: connection.key });
      this.host.hub.emit({ type: 'connected', nodeId: connection.nodeId as N });
      diagnostics.connectionOpen(() => ({
        node: this.host.node,
        nodeId: connection.nodeId,
        remoteAddress: connection.remoteAddress,
        outgoing: connection.outgoing,
        transport: connection.transport,
      }));
      return true;
    },
    message: (connection, message) => this.host.hub.emit({ type: 'message', from: connection.nodeId as N, message }),
    read: (cost) => this.host.hub.charge(cost),
    ended: (connection, reason, error) => {
      this.registry.remove(connection);
      const address = connection.remoteAddress;
      const closing = this.host.isClosing();
      const waiter = this.waiters.get(connection);
      if (waiter) {
        this.waiters.delete(connection);
        const failure = closing ? alreadyClosed() : (error ?? endedEarly(address, 'during the handshake'));
        waiter.reject(failure);
        if (!closing) diagnostics.failure(this.host.node, failure); // a connect()'s failure: not on failures$, but on the channels
      }
      if (this.announced.has(connection)) this.farewell(connection, reason, error);
      else if (!connection.decided && !closing) {
        this.fail(error ?? endedEarly(address, 'before it was accepted', connection.nodeId));
      }
    },
  };
}
