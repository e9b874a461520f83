import { Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { NetError, isNetError } from './errors.js';
import type { DisconnectReason } from './events.js';
import { nodeIdKey } from './nodeId.js';

/** Options of `node.link()`. */
export interface LinkOptions {
  /** ms before the first retry. @default 100 */
  readonly initialDelay?: number;
  /** The longest delay, ms. @default 30000 */
  readonly maxDelay?: number;
  /** Each delay in a row is this many times the last. @default 2 */
  readonly factor?: number;
  /** The share of a delay taken off at random: the n-th delay is drawn from `[d * (1 - jitter), d]`. @default 0.5 */
  readonly jitter?: number;
  /** After this many failed attempts in a row, the link errors with the last error. @default unlimited */
  readonly maxAttempts?: number;
  /** ms for one attempt (connect and handshakes). @default the node's `handshakeTimeout` */
  readonly timeout?: number;
  /** The random source of the jitter, in [0, 1) (seed it in tests). @default Math.random */
  readonly random?: () => number;
}

/** What a link tells: each attempt, each connection, each loss (with the delay before the next attempt). */
export type LinkEvent<N> = LinkConnecting | LinkConnected<N> | LinkDisconnected;

/** An attempt begins. */
export interface LinkConnecting {
  /** The discriminant. */
  readonly state: 'connecting';
  /** Counts from 1, and again from 1 after a connection. */
  readonly attempt: number;
}

/** The connection is registered: `send` to `nodeId` works. */
export interface LinkConnected<N> {
  /** The discriminant. */
  readonly state: 'connected';
  /** The peer's id. */
  readonly nodeId: N;
}

/** An attempt failed, or the connection was lost; the next attempt comes in `retryIn` ms. */
export interface LinkDisconnected {
  /** The discriminant. */
  readonly state: 'disconnected';
  /** `'error'` for a failed attempt; for a lost connection, the reason of its `disconnected` event. */
  readonly reason: DisconnectReason;
  /** The failure behind it, where there is one. */
  readonly error?: NetError;
  /** ms until the next attempt. */
  readonly retryIn: number;
}

/** A registered connection ended (its id key), or the node began to close. Internal to the node. */
export interface LifecycleEvent {
  readonly type: 'disconnected' | 'closing';
  readonly key?: string;
  readonly reason?: DisconnectReason;
  readonly error?: NetError;
}

/** What a link needs from its node. */
export interface LinkHost<N> {
  /** The node: links are counted per node (one per address). */
  readonly owner: object;
  connect(address: string, options: { timeout?: number }): Promise<N>;
  disconnect(id: N): Promise<void>;
  isConnected(id: N): boolean;
  /** Connections' ends and the node's closing, seen apart from `events$` (so a link never takes the user's events). */
  readonly lifecycle$: Observable<LifecycleEvent>;
  readonly scheduler: SchedulerLike;
  isClosing(): boolean;
}

/**
 * The n-th delay in a row (n from 1): `d = min(initialDelay * factor^(n-1), maxDelay)`,
 * drawn from `[d * (1 - jitter), d]` with `random` in [0, 1).
 */
export function backoffDelay(n: number, options: Required<Omit<LinkOptions, 'maxAttempts' | 'timeout'>>): number {
  const d = Math.min(options.initialDelay * options.factor ** (n - 1), options.maxDelay);
  return d * (1 - options.jitter * options.random());
}

/** The links of one node, by address: a second link to an address already linked is refused. */
const linked = new WeakMap<object, Set<string>>();

/**
 * `node.link(address)`: keeps one connection to `address` open, reconnecting
 * after every failure or loss with exponential backoff and jitter, until
 * unsubscribed (the connection is closed gracefully) or the node closes (it
 * completes). See {@link LinkOptions} and the README's "Resilient links".
 */
export function link<N>(host: LinkHost<N>, address: string, options: LinkOptions = {}): Observable<LinkEvent<N>> {
  const settings = {
    initialDelay: options.initialDelay ?? 100,
    maxDelay: options.maxDelay ?? 30_000,
    factor: options.factor ?? 2,
    jitter: options.jitter ?? 0.5,
    random: options.random ?? Math.random,
  };
  const { maxAttempts, timeout } = options;
  for (const [name, value] of Object.entries({
    initialDelay: settings.initialDelay,
    maxDelay: settings.maxDelay,
    factor: settings.factor,
  })) {
    if (!(value > 0 && Number.isFinite(value))) throw new TypeError(`${name} must be a positive number, got ${value}`);
  }
  if (!(settings.jitter >= 0 && settings.jitter <= 1)) throw new TypeError(`jitter must be from 0 to 1, got ${settings.jitter}`);
  if (maxAttempts !== undefined && !(Number.isSafeInteger(maxAttempts) && maxAttempts > 0)) {
    throw new TypeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  }
  return new Observable<LinkEvent<N>>((subscriber) => {
    const addresses = linked.get(host.owner) ?? new Set<string>();
    linked.set(host.owner, addresses);
    if (addresses.has(address)) {
      subscriber.error(new NetError('CONNECTION_ERROR', `${address} is already linked by this node: one link per address`, { address }));
      return;
    }
    addresses.add(address);
    let stopped = false;
    let attempt = 0;
    /** Delays in a row since the last connection, and failed attempts among them. */
    let delays = 0;
    let failedAttempts = 0;
    let current: { id: N; key: string } | undefined;
    let timer: Subscription | undefined;

    const retry = (reason: DisconnectReason, error: NetError | undefined, failedAttempt: boolean): void => {
      if (failedAttempt && maxAttempts !== undefined && ++failedAttempts >= maxAttempts) {
        subscriber.error(error ?? new NetError('CONNECTION_ERROR', `${address}: ${maxAttempts} attempts failed`, { address }));
        return;
      }
      const retryIn = backoffDelay(++delays, settings);
      subscriber.next(error ? { state: 'disconnected', reason, error, retryIn } : { state: 'disconnected', reason, retryIn });
      timer = host.scheduler.schedule(tryOnce, retryIn);
    };

    const tryOnce = (): void => {
      if (stopped) return;
      attempt++;
      subscriber.next({ state: 'connecting', attempt });
      host.connect(address, timeout === undefined ? {} : { timeout }).then(
        (id) => {
          if (stopped) {
            void host.disconnect(id).catch(() => undefined);
            return;
          }
          current = { id, key: nodeIdKey(id) };
          attempt = 0;
          delays = 0;
          failedAttempts = 0;
          subscriber.next({ state: 'connected', nodeId: id });
        },
        (error: unknown) => {
          if (stopped) return;
          if (host.isClosing() || isNetError(error, 'ALREADY_CLOSED')) {
            subscriber.complete();
            return;
          }
          const failure = isNetError(error)
            ? error
            : new NetError('CONNECTION_ERROR', `${address}: ${String(error)}`, { cause: error, address });
          retry('error', failure, true);
        },
      );
    };

    const lifecycle = host.lifecycle$.subscribe((event) => {
      if (event.type === 'closing') {
        subscriber.complete();
        return;
      }
      if (current === undefined || event.key !== current.key) return;
      // A duplicate that replaced ours keeps the id reachable: still connected.
      if (event.reason === 'replaced' && host.isConnected(current.id)) return;
      current = undefined;
      retry(event.reason ?? 'error', event.error, false);
    });

    tryOnce();
    return () => {
      stopped = true;
      addresses.delete(address);
      timer?.unsubscribe();
      lifecycle.unsubscribe();
      if (current !== undefined && host.isConnected(current.id)) void host.disconnect(current.id).catch(() => undefined);
    };
  });
}
