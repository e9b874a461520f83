import {
  EMPTY,
  Observable,
  defer,
  filter,
  finalize,
  retry,
  takeUntil,
  throwError,
  timer,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { NetError, isNetError } from '../errors.js';
import type { DisconnectReason } from '../events.js';
import { nodeIdKey } from '../nodeId.js';
import { formatAddress, parseAddress } from '../transport/address.js';

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
  /**
   * ms a new connection must hold before the link reports it `connected`
   * (and resets the delay and the count). A peer's `reject()` looks on the
   * wire like a close right after the handshakes (the crate's protocol has
   * no refusal message), so a connection that the peer ends sooner counts
   * as a failed attempt, and a rejecting peer is retried with backoff, not
   * every `initialDelay`. The node's own `connected` event, and `send`, do
   * not wait for it. 0: report at once. @default 500
   */
  readonly settleTime?: number;
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
  readonly type: 'connected' | 'disconnected' | 'closing';
  readonly key?: string;
  readonly reason?: DisconnectReason;
  readonly error?: NetError;
}

/** What a link needs from its node. */
export interface LinkHost<N> {
  /** The node: links are counted per node (one per address). */
  readonly owner: object;
  /**
   * One attempt: emits the peer's id once connected (then completes), or
   * errors. Unsubscribing before it emits gives up the attempt (a connection
   * made after that is closed).
   */
  connect(address: string, options: { timeout?: number }): Observable<N>;
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
export function backoffDelay(n: number, options: Required<Omit<LinkOptions, 'maxAttempts' | 'timeout' | 'settleTime'>>): number {
  const d = Math.min(options.initialDelay * options.factor ** (n - 1), options.maxDelay);
  return d * (1 - options.jitter * options.random());
}

/**
 * The links of one node: their states by address in normal form (a second
 * link to an address already linked is refused), so that one unsubscribing
 * leaves a peer that another link still holds connected.
 */
const linked = new WeakMap<object, Map<string, LinkState<unknown>>>();

/**
 * An address in the form links compare: scheme (`tcp` for a bare
 * `"host:port"`), host in lower case and in the URL standard's form (so
 * `[0:0::1]` is `[::1]`), port, and path: `tcp://LocalHost:80` and
 * `localhost:80` are one. One that does not parse stays as given (its
 * connect fails with its own error).
 */
export function linkKey(address: string): string {
  let endpoint;
  try {
    endpoint = parseAddress(address, 'CONNECTION_ERROR');
  } catch {
    return address;
  }
  const { scheme, port, path } = endpoint;
  let host = endpoint.host.toLowerCase();
  try {
    const hostname = new URL(`http://${host.includes(':') ? `[${host}]` : host}/`).hostname;
    host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  } catch {
    // Not a host the URL standard takes: compared as given, in lower case.
  }
  return `${scheme}://${formatAddress(host, port)}${path}`;
}

/** How one session of a link ended when another attempt follows: after `retryIn` ms. */
class RetryAfter {
  constructor(readonly retryIn: number) {}
}

/** A link's counters across its sessions (one per subscription). */
interface LinkState<N> {
  /** Attempts since the last connection (the `attempt` of `connecting`). */
  attempt: number;
  /** Delays in a row since the last connection (the n of {@link backoffDelay}). */
  delays: number;
  /** Failed attempts in a row (against `maxAttempts`). */
  failedAttempts: number;
  /** The connection this link holds, if any; `settled` once it has held for `settleTime`. */
  current: { readonly id: N; readonly key: string; settled: boolean } | undefined;
}

/**
 * `node.link(address)`: keeps one connection to `address` open, reconnecting
 * after every failure or loss with exponential backoff and jitter, until
 * unsubscribed (the connection is closed gracefully) or the node closes (it
 * completes). See {@link LinkOptions} and the README's "Resilient links".
 *
 * Built from RxJS: one session (an attempt, then the connection until it is
 * lost) is an Observable that ends with a `RetryAfter`; `retry({ delay })`
 * waits that long with `timer` on the node's scheduler and subscribes again.
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
  const settleTime = options.settleTime ?? 500;
  if (!(settleTime >= 0 && Number.isFinite(settleTime))) throw new TypeError(`settleTime must be a number of ms >= 0, got ${settleTime}`);
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
  const connectOptions = timeout === undefined ? {} : { timeout };

  /** One attempt, then the connection until it is lost: ends with a RetryAfter, the final error, or complete (node closing). */
  const session = (state: LinkState<N>): Observable<LinkEvent<N>> =>
    new Observable<LinkEvent<N>>((subscriber) => {
      const retry = (reason: DisconnectReason, error: NetError | undefined, failedAttempt: boolean): void => {
        if (failedAttempt && maxAttempts !== undefined && ++state.failedAttempts >= maxAttempts) {
          subscriber.error(error ?? new NetError('CONNECTION_ERROR', `${address}: ${maxAttempts} attempts failed`, { address }));
          return;
        }
        const retryIn = backoffDelay(++state.delays, settings);
        subscriber.next(error ? { state: 'disconnected', reason, error, retryIn } : { state: 'disconnected', reason, retryIn });
        subscriber.error(new RetryAfter(retryIn));
      };
      let settling: Subscription | undefined;
      const settle = (id: N): void => {
        state.current = { id, key: nodeIdKey(id), settled: true };
        state.attempt = 0;
        state.delays = 0;
        state.failedAttempts = 0;
        subscriber.next({ state: 'connected', nodeId: id });
      };
      const lifecycle = host.lifecycle$.subscribe((event) => {
        const { current } = state;
        if (event.type !== 'disconnected' || current === undefined || event.key !== current.key) return;
        // A duplicate that replaced ours keeps the id reachable: still connected.
        if (event.reason === 'replaced' && host.isConnected(current.id)) return;
        state.current = undefined;
        if (current.settled) {
          retry(event.reason ?? 'error', event.error, false);
          return;
        }
        // Ended before it settled: a rejection, as far as the link can tell (a failed attempt).
        settling?.unsubscribe();
        const message = `${address} closed the connection ${settleTime} ms or less after the handshakes (rejected?)`;
        retry(event.reason ?? 'error', event.error ?? new NetError('CONNECTION_ERROR', message, { address, nodeId: current.id }), true);
      });
      subscriber.next({ state: 'connecting', attempt: ++state.attempt });
      const attempt = host.connect(address, connectOptions).subscribe({
        next: (id) => {
          if (settleTime === 0) {
            settle(id);
            return;
          }
          state.current = { id, key: nodeIdKey(id), settled: false };
          settling = timer(settleTime, host.scheduler).subscribe(() => settle(id));
        },
        error: (error: unknown) => {
          if (host.isClosing() || isNetError(error, 'ALREADY_CLOSED')) {
            subscriber.complete();
            return;
          }
          const failure = isNetError(error)
            ? error
            : new NetError('CONNECTION_ERROR', `${address}: ${String(error)}`, { cause: error, address });
          retry('error', failure, true);
        },
      });
      return () => {
        lifecycle.unsubscribe();
        attempt.unsubscribe();
        settling?.unsubscribe();
      };
    });

  return defer(() => {
    // A closed (or closing) node makes no attempt: the link ends as the node's closing ends it.
    if (host.isClosing()) return EMPTY;
    const links = linked.get(host.owner) ?? new Map<string, LinkState<unknown>>();
    linked.set(host.owner, links);
    const key = linkKey(address);
    if (links.has(key)) {
      const form = key === address ? address : `${address} (${key})`;
      return throwError(
        () => new NetError('CONNECTION_ERROR', `${form} is already linked by this node: one link per address`, { address }),
      );
    }
    const state: LinkState<N> = { attempt: 0, delays: 0, failedAttempts: 0, current: undefined };
    links.set(key, state);
    return defer(() => session(state)).pipe(
      retry({
        delay: (signal: unknown) => (signal instanceof RetryAfter ? timer(signal.retryIn, host.scheduler) : throwError(() => signal)),
      }),
      // The node's closing completes the link, whatever it is doing (connecting, connected, or waiting to retry).
      takeUntil(host.lifecycle$.pipe(filter((event) => event.type === 'closing'))),
      finalize(() => {
        links.delete(key);
        const { current } = state;
        state.current = undefined;
        // Another link of this node holds the same peer (through another address): it keeps the connection.
        const shared = current !== undefined && [...links.values()].some((other) => other.current?.key === current.key);
        // Unsubscribed while connected: close that connection gracefully (the node's own close needs no help).
        if (current !== undefined && !shared && !host.isClosing() && host.isConnected(current.id)) {
          void host.disconnect(current.id).catch(() => undefined);
        }
      }),
    );
  });
}
