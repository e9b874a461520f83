import { newConnectionWins } from './duplicates.js';

/** What the registry needs of a connection. */
export interface Registered {
  /** The registry key of the peer's node id. */
  readonly key: string;
  /** Did this node open it? (the duplicate rule needs it) */
  readonly outgoing: boolean;
  /** Is its request awaiting a decision? (absent: never) */
  readonly isPending?: boolean;
}

/** Why an incoming connection is refused at once: the limit, and its value. */
export interface Refusal {
  readonly limit: 'maxPendingHandshakes' | 'maxConnections';
  readonly max: number;
}

/**
 * The node's book of connections: every live one, the registered ones by
 * node id key, the admission limits (`maxPendingHandshakes`,
 * `maxConnections`) and the duplicate rule. It only keeps accounts: it
 * opens, closes and emits nothing.
 */
export class Registry<C extends Registered> {
  private readonly byKey = new Map<string, C>();
  private readonly live = new Set<C>();
  /** Incoming connections whose handshake or decision is outstanding. */
  private readonly undecided = new Set<C>();
  /** Incoming connections still in their transport's handshake (TLS), before they are connections. */
  private inTransport = 0;
  /** The last primitive id sent to, and its connection; forgotten whenever the registry changes. */
  private lastId: unknown;
  private lastConnection: C | undefined;

  constructor(private readonly limits: { readonly maxPendingHandshakes: number; readonly maxConnections: number }) {}

  /** Registered connections. */
  get size(): number {
    return this.byKey.size;
  }

  /** Every live connection (registered or not). */
  get liveCount(): number {
    return this.live.size;
  }

  /** Would an incoming connection be refused now, and by which limit? */
  refusal(): Refusal | undefined {
    const { maxPendingHandshakes, maxConnections } = this.limits;
    if (this.undecided.size + this.inTransport >= maxPendingHandshakes) return { limit: 'maxPendingHandshakes', max: maxPendingHandshakes };
    if (this.live.size + this.inTransport >= maxConnections) return { limit: 'maxConnections', max: maxConnections };
    return undefined;
  }

  /** A connection begins its transport's handshake (TLS): it counts against both limits until {@link leaveTransport}. */
  enterTransport(): void {
    this.inTransport++;
  }

  leaveTransport(): void {
    this.inTransport--;
  }

  /** A new live connection; an incoming one counts against `maxPendingHandshakes` until {@link decided}. */
  add(connection: C, incoming: boolean): void {
    this.live.add(connection);
    if (incoming) this.undecided.add(connection);
  }

  /** Its request was accepted or rejected. */
  decided(connection: C): void {
    this.undecided.delete(connection);
  }

  /**
   * Registers an accepted connection under its key. With one already
   * registered, {@link newConnectionWins} decides: returns the connection
   * that lost (the old one, now unregistered, or `connection` itself, which
   * was not registered), or undefined when there was none.
   */
  register(connection: C, ownKey: string): C | undefined {
    this.forgetLastSend();
    const existing = this.byKey.get(connection.key);
    if (existing && !newConnectionWins(existing.outgoing, connection.outgoing, ownKey, connection.key)) return connection;
    this.byKey.set(connection.key, connection);
    return existing;
  }

  /**
   * The connections from the same peer as `registered` (just registered)
   * whose request is still pending and that will lose to it under the same
   * rule when accepted: the peer sent on those first (it sends on the one it
   * has registered, and moves to the winner once), so `registered` delivers
   * after they have ended, and the peer's messages stay in order.
   */
  pendingLosers(registered: C, ownKey: string): C[] {
    const losers: C[] = [];
    for (const other of this.live) {
      if (other === registered || other.isPending !== true || other.key !== registered.key) continue;
      if (!newConnectionWins(registered.outgoing, other.outgoing, ownKey, other.key)) losers.push(other);
    }
    return losers;
  }

  /** Unregisters it (if it is the one registered under its key); `send` to its id fails from now on. */
  unregister(connection: C): void {
    if (this.byKey.get(connection.key) === connection) this.byKey.delete(connection.key);
    this.forgetLastSend();
  }

  /** It ended: forgotten everywhere. */
  remove(connection: C): void {
    this.unregister(connection);
    this.live.delete(connection);
    this.undecided.delete(connection);
  }

  /** The registered connection under `key`. */
  get(key: string): C | undefined {
    return this.byKey.get(key);
  }

  /** Is `connection` the one registered under its key? */
  isRegistered(connection: C): boolean {
    return this.byKey.get(connection.key) === connection;
  }

  /** The connection of the last {@link remember}ed send when `id` is the same primitive id. */
  lastSend(id: unknown): C | undefined {
    return id === this.lastId ? this.lastConnection : undefined;
  }

  /** Remembers a send to a primitive id, for {@link lastSend}. */
  remember(id: unknown, connection: C): void {
    if (typeof id === 'object') return;
    this.lastId = id;
    this.lastConnection = connection;
  }

  registered(): C[] {
    return [...this.byKey.values()];
  }

  all(): C[] {
    return [...this.live];
  }

  private forgetLastSend(): void {
    this.lastId = undefined;
    this.lastConnection = undefined;
  }
}
