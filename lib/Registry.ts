import type { Socket } from 'node:net';
import type { Subject, Subscription } from 'rxjs';
import { Connection, type ConnectionConfig, type ConnectionHooks } from './Connection.js';
import type { ConnectionRequest } from './ConnectionRequest.js';
import { newConnectionWins } from './duplicates.js';
import { NetError } from './errors.js';
import type { EventHub } from './EventHub.js';
import type { DisconnectReason, NodeEvent } from './events.js';
import { nodeIdKey } from './nodeId.js';
import type { ResolvedNodeOptions } from './options.js';
import { describeValue, ignore, remoteAddressOf } from './transport/tcp.js';

/** What the registry needs from its node. */
export interface RegistryContext<M, N, I> {
  /** The node's own id key (a connection to it is refused). */
  readonly key: string;
  readonly options: ResolvedNodeOptions<M, N, I>;
  readonly hub: EventHub<NodeEvent<M, N, I>>;
  readonly failures: Subject<NetError>;
  isClosed(): boolean;
  /** The settings for a connection made now (they may have changed since the last). */
  connectionConfig(deadline: number): ConnectionConfig<M, N, I>;
  /** The node's handshake `[init, id]`, encoded. */
  handshakeBytes(): Uint8Array;
}

interface Tracked<M, N, I> {
  readonly connection: Connection<M, N, I>;
  /** A `connected` event was emitted for it. */
  announced: boolean;
  /** A `disconnected` event was emitted for it. */
  farewell: boolean;
  /** Counts against `maxPendingHandshakes` until decided or ended. */
  pendingSlot: boolean;
  /** Accepted or rejected by the caller (a rejected or losing connection is no failure). */
  decided: boolean;
  /** For `connect`/`connectRequest`: settles when the handshake arrives or the connection ends first. */
  waiter?: { resolve(request: ConnectionRequest<M, N, I>): void; reject(error: NetError): void };
  /** The absolute handshake-and-decision deadline. */
  decision?: Subscription;
}

/**
 * The connections of a node: every socket from its first byte to its end,
 * the registered ones by node id key, the limits on pending handshakes and
 * connections, the duplicate rule, and the events that tell about them.
 */
export class Registry<M, N, I> {
  private readonly byKey = new Map<string, Tracked<M, N, I>>();
  private readonly all = new Map<Connection<M, N, I>, Tracked<M, N, I>>();
  private pendingIncoming = 0;
  /** The last primitive id sent to, and its connection; forgotten whenever the registry changes. */
  private lastTo: N | undefined;
  private lastConnection: Connection<M, N, I> | undefined;

  constructor(private readonly context: RegistryContext<M, N, I>) {}

  /** Registered connections. */
  get size(): number {
    return this.byKey.size;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** The registered connections. */
  registered(): Connection<M, N, I>[] {
    return [...this.byKey.values()].map((tracked) => tracked.connection);
  }

  /** The registered connection to `id`; throws `NOT_CONNECTED`. */
  connection(id: N, key = nodeIdKey(id)): Connection<M, N, I> {
    const tracked = this.byKey.get(key);
    if (!tracked) throw new NetError('NOT_CONNECTED', `not connected to node ${describeValue(id)}`, { nodeId: id });
    return tracked.connection;
  }

  /** Sends to `to` through the connection of the last send when `to` is the same primitive id; false when it is not. */
  sendAgain(to: N, message: M): boolean {
    if (to !== this.lastTo || this.lastConnection === undefined) return false;
    this.lastConnection.send(message);
    return true;
  }

  /** Sends to `to` (not the node itself); throws `NOT_CONNECTED`, `SEND_ERROR`. */
  send(to: N, key: string, message: M): void {
    const connection = this.connection(to, key);
    connection.send(message);
    if (typeof to !== 'object') {
      this.lastTo = to;
      this.lastConnection = connection;
    }
  }

  /**
   * Unregisters the connection to `id` at once and closes it gracefully: our
   * FIN after what is queued, and the peer's messages still delivered until
   * its FIN; `disconnected` follows when it is closed.
   */
  disconnect(id: N): Promise<void> {
    const key = nodeIdKey(id);
    const tracked = this.byKey.get(key);
    if (!tracked) return Promise.reject(new NetError('NOT_CONNECTED', `not connected to node ${describeValue(id)}`, { nodeId: id }));
    this.byKey.delete(key);
    this.forgetLastSend();
    // Read on until the peer's FIN, so nothing it sent before it saw ours is lost.
    return tracked.connection.close('closed', true);
  }

  /** Pauses or resumes reading on every connection. */
  setPaused(paused: boolean): void {
    for (const connection of this.all.keys()) connection.setPaused(paused);
  }

  /** An incoming socket: tracked, or refused at once by a limit (one failure each). */
  admit(socket: Socket): void {
    socket.on('error', ignore);
    const { maxPendingHandshakes, maxConnections, handshakeTimeout } = this.context.options;
    const full =
      this.pendingIncoming >= maxPendingHandshakes
        ? (['maxPendingHandshakes', maxPendingHandshakes] as const)
        : this.all.size >= maxConnections
          ? (['maxConnections', maxConnections] as const)
          : undefined;
    if (this.context.isClosed() || full) {
      const address = remoteAddressOf(socket);
      socket.destroy();
      if (full && !this.context.isClosed()) {
        const [limit, max] = full;
        this.context.failures.next(
          new NetError('CONNECTION_ERROR', `refused ${address}: ${limit} (${max}) reached`, { address, limit, max, actual: max }),
        );
      }
      return;
    }
    this.track(socket, false, handshakeTimeout);
  }

  /** An outgoing socket: resolves with its request once the peer's handshake arrives. */
  open(socket: Socket, deadline: number): Promise<ConnectionRequest<M, N, I>> {
    return new Promise((resolve, reject) => {
      this.track(socket, true, deadline).waiter = { resolve, reject };
    });
  }

  /** Closes everything: registered connections gracefully (each emits `disconnected`), the rest at once. */
  closeAll(): Promise<void>[] {
    const closes: Promise<void>[] = [];
    for (const [connection, tracked] of this.all) {
      if (tracked.announced) closes.push(connection.close('closed'));
      else connection.destroy('closed');
    }
    return closes;
  }

  private track(socket: Socket, outgoing: boolean, deadline: number): Tracked<M, N, I> {
    const { options, hub } = this.context;
    const connection = new Connection<M, N, I>(
      socket,
      outgoing,
      this.context.connectionConfig(deadline),
      this.hooks,
      this.context.handshakeBytes(),
    );
    const tracked: Tracked<M, N, I> = { connection, announced: false, farewell: false, pendingSlot: !outgoing, decided: false };
    if (!outgoing) this.pendingIncoming++;
    this.all.set(connection, tracked);
    // The absolute deadline: a request neither accepted nor rejected by then is rejected.
    tracked.decision = options.scheduler.schedule(() => {
      if (!connection.isOpen && !connection.isEnded) {
        const address = connection.remoteAddress;
        connection.destroy(
          'error',
          new NetError('TIMEOUT', `no accept decision within ${deadline} ms`, { limit: 'handshakeTimeout', max: deadline, address }),
        );
      }
    }, deadline);
    // While the event buffer is over a bound, a new connection does not read either.
    if (hub.isPaused) connection.setPaused(true);
    return tracked;
  }

  private readonly hooks: ConnectionHooks<M, N, I> = {
    handshake: (connection, initMessage) => {
      const tracked = this.all.get(connection)!;
      if (connection.key === this.context.key) {
        const address = connection.remoteAddress;
        connection.destroy('error', new NetError('CONNECTION_ERROR', `${address} is this node itself`, { address }));
        return;
      }
      const request = this.request(tracked, initMessage);
      if (tracked.waiter) tracked.waiter.resolve(request);
      else this.context.hub.emit({ type: 'connectionRequest', request });
    },
    read: (_connection, cost) => this.context.hub.charge(cost),
    message: (connection, message) => {
      this.context.hub.emit({ type: 'message', from: connection.nodeId as N, message });
    },
    ended: (connection, reason, error) => {
      const tracked = this.all.get(connection);
      if (!tracked) return;
      this.all.delete(connection);
      tracked.decision?.unsubscribe();
      this.releaseSlot(tracked);
      const closed = this.context.isClosed();
      const address = connection.remoteAddress;
      if (tracked.waiter) {
        tracked.waiter.reject(
          closed
            ? new NetError('ALREADY_CLOSED', 'the node is closed')
            : (error ?? new NetError('CONNECTION_ERROR', `the connection to ${address} ended during the handshake`, { address })),
        );
        tracked.waiter = undefined;
      }
      if (this.byKey.get(connection.key) === tracked) this.byKey.delete(connection.key);
      this.forgetLastSend();
      if (tracked.announced && !tracked.farewell) this.farewell(tracked, reason, error);
      else if (!tracked.announced && !tracked.decided && !closed) {
        this.context.failures.next(
          error ??
            new NetError('CONNECTION_ERROR', `${address} left before its connection was accepted`, { address, nodeId: connection.nodeId }),
        );
      }
    },
  };

  private request(tracked: Tracked<M, N, I>, initMessage: I): ConnectionRequest<M, N, I> {
    const connection = tracked.connection;
    const decide = (): void => {
      tracked.decision?.unsubscribe();
      tracked.waiter = undefined;
      tracked.decided = true;
      this.releaseSlot(tracked);
    };
    return {
      nodeId: connection.nodeId as N,
      initMessage,
      remoteAddress: connection.remoteAddress,
      get isPending() {
        return connection.isPending;
      },
      accept: () => {
        if (!connection.isPending || this.context.isClosed()) return false;
        decide();
        // Open before `connected` is emitted, so that its handlers can send; messages after it.
        connection.open();
        this.register(tracked);
        connection.deliver();
        return true;
      },
      reject: () => {
        if (!connection.isPending) return false;
        decide();
        this.all.delete(connection);
        connection.destroy('closed');
        return true;
      },
    };
  }

  /**
   * Registers an accepted connection. With one already registered for the
   * same id, {@link newConnectionWins} decides; the loser is ended gracefully
   * but read to its end, so nothing the peer sent on it is lost.
   */
  private register(tracked: Tracked<M, N, I>): void {
    const connection = tracked.connection;
    const existing = this.byKey.get(connection.key);
    if (existing) {
      if (!newConnectionWins(existing.connection.outgoing, connection.outgoing, this.context.key, connection.key)) {
        // Deliver what the peer sent on it, then let it go, with no events: it never counted.
        queueMicrotask(() => void connection.close('replaced', true));
        return;
      }
      this.farewell(existing, 'replaced', undefined);
      void existing.connection.close('replaced', true);
    }
    this.byKey.set(connection.key, tracked);
    this.forgetLastSend();
    tracked.announced = true;
    this.context.hub.emit({ type: 'connected', nodeId: connection.nodeId as N });
  }

  private forgetLastSend(): void {
    this.lastTo = undefined;
    this.lastConnection = undefined;
  }

  private releaseSlot(tracked: Tracked<M, N, I>): void {
    if (!tracked.pendingSlot) return;
    tracked.pendingSlot = false;
    this.pendingIncoming--;
  }

  private farewell(tracked: Tracked<M, N, I>, reason: DisconnectReason, error: NetError | undefined): void {
    tracked.farewell = true;
    const nodeId = tracked.connection.nodeId as N;
    this.context.hub.emit(error ? { type: 'disconnected', nodeId, reason, error } : { type: 'disconnected', nodeId, reason });
  }
}
