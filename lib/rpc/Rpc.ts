import pTimeout from 'p-timeout';
import {
  Observable,
  Subject,
  Subscription,
  asyncScheduler,
  defer,
  from,
  isObservable,
  switchMap,
  take,
  throwError,
  timeout as timeoutWith,
  type SchedulerLike,
} from 'rxjs';
import { diagnostics } from '../diagnostics.js';
import { NetError, alreadyClosed, describeValue } from '../errors.js';
import type { NodeEvent } from '../events.js';
import { nodeIdKey } from '../nodeId.js';
import { duration, durationError, positive } from '../options.js';
import {
  CANCEL_METHOD,
  MAX_MSGID,
  NOTIFICATION,
  REQUEST,
  RESPONSE,
  errorValue,
  isMsgid,
  isRpcMessage,
  remoteError,
  type RpcErrorValue,
} from './envelope.js';
import { TimerQueue } from './TimerQueue.js';

/** The default `timeout` of a call, in ms. */
export const DEFAULT_RPC_TIMEOUT = 30_000;
/** The default `maxConcurrent`: calls from one peer served at once. */
export const DEFAULT_RPC_MAX_CONCURRENT = 256;

/**
 * What an {@link Rpc} needs of a node: its id, `send`, and `intercept`. A
 * `Node` (Node.js or browser build, any transport) is one; so is anything
 * that forwards to one (a cluster that connects on demand in `send`).
 */
export interface RpcHost<N> {
  /** This node's id: a call to it is served in-process. */
  readonly nodeId: N;
  /** Queues a message (an envelope) for `to`; throws as `Node.send` does. */
  send(to: N, message: unknown): void;
  /** See `Node.intercept`. */
  intercept(interceptor: (event: NodeEvent<unknown, N>) => boolean): Subscription;
}

/** A `Cluster` as an Rpc uses it: `new Rpc(cluster)` calls connect on demand. */
export interface RpcCluster<N> {
  /** The cluster's node. */
  readonly node: RpcHost<N>;
  /** Resolves once `to` is connected, connecting on demand; rejects `NOT_CONNECTED` or `TIMEOUT`. */
  whenReachable(to: N, options?: { readonly signal?: AbortSignal }): Promise<void>;
}

/** Options of {@link Rpc}. */
export interface RpcOptions {
  /** Per call, in ms, unless the call gives its own: then it rejects with `TIMEOUT` and cancels. @default 30000 */
  readonly timeout?: number;
  /** Calls from one peer served at once; beyond it a request is answered at once with the error code `BUSY`. @default 256 */
  readonly maxConcurrent?: number;
  /** The scheduler of call timeouts (a `TestScheduler` in marble tests). @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

/** Options of one call. */
export interface CallOptions {
  /** In ms; overrides the `Rpc`'s `timeout`. `Infinity` waits for ever (until the connection ends). */
  readonly timeout?: number;
  /** Aborting it cancels the call, which rejects (or errors) with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** What a handler is told about the call it serves. */
export interface RpcCall<N> {
  /** The caller. */
  readonly from: N;
  /** The method called. */
  readonly method: string;
  /** Aborts when the caller cancels (or its call times out), the connection ends, or the node closes. */
  readonly signal: AbortSignal;
}

/**
 * Serves one method: returns the result, a Promise of it, or an Observable
 * whose first value is the result (it is unsubscribed after it). Throwing,
 * rejecting, or an Observable that errors or completes empty answers with
 * an error (see {@link RpcErrorValue}).
 */
export type RpcHandler<N, P extends readonly unknown[] = unknown[], R = unknown> = (
  params: P,
  call: RpcCall<N>,
) => R | PromiseLike<R> | Observable<R>;

/** A notification received: `[2, method, params]` from `from`. */
export interface RpcNotification<N> {
  /** The sender. */
  readonly from: N;
  /** The method named in `[2, method, params]`. */
  readonly method: string;
  /** Its parameters, as decoded. */
  readonly params: readonly unknown[];
}

/** {@link Rpc.inFlight}: what an Rpc has in progress. */
export interface RpcInFlight {
  /** Calls of ours waiting for an answer. */
  readonly calls: number;
  /** Calls of peers being served by our handlers. */
  readonly serving: number;
}

/** A call of ours waiting for its answer. */
interface Pending {
  readonly method: string;
  readonly answer: (error: NetError | undefined, result?: unknown) => void;
}

/** One peer's calls: ours to it, and its to us being served. */
interface Peer<N> {
  readonly id: N;
  readonly calls: Map<number, Pending>;
  readonly serving: Map<number, ServedCall<N>>;
}

const attached = new WeakSet();

/**
 * Request/reply over a node's connections, as msgpack-rpc: a request is
 * the message `[0, msgid, method, params]`, its response `[1, msgid, error,
 * result]`, a notification `[2, method, params]`, and a cancelled call is
 * told with `[2, "$/cancelRequest", [msgid]]`. The `Rpc` takes the messages
 * shaped so (see {@link isRpcMessage}) before `events$` does; every other
 * message reaches `events$` as before. One per node.
 *
 * @example
 * ```ts
 * import { Node, Rpc } from 'msgpacknet';
 * const server = new Rpc(Node.createDefault());
 * server.handle('add', ([a, b]: [number, number]) => a + b);
 * // on the caller, once connected to the server's node:
 * // const sum = await client.call<number>(serverId, 'add', [1, 2]);
 * ```
 */
export class Rpc<N = unknown> {
  /** The notifications received (the cancel notification excluded); hot, not kept. */
  readonly notifications$: Observable<RpcNotification<N>>;
  private readonly notifications = new Subject<RpcNotification<N>>();
  private readonly handlers = new Map<string, RpcHandler<N, readonly unknown[]>>();
  private readonly peers = new Map<string, Peer<N>>();
  private readonly timeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly scheduler: SchedulerLike;
  /** The calls' timeouts: one scheduler action per distinct timeout, not one per call. */
  private readonly timers: { setTimeout: typeof globalThis.setTimeout; clearTimeout: typeof globalThis.clearTimeout };
  private readonly interception: Subscription;
  private nextMsgid = 0;
  private ended = false;

  private readonly host: RpcHost<N>;
  /** A cluster's connect on demand, when made on one. */
  private readonly reach: ((to: N, signal: AbortSignal) => Promise<void>) | undefined;

  constructor(on: RpcHost<N> | RpcCluster<N>, options: RpcOptions = {}) {
    const cluster = 'whenReachable' in on ? on : undefined;
    const host = cluster ? cluster.node : (on as RpcHost<N>);
    this.host = host;
    this.reach = cluster ? (to, signal) => cluster.whenReachable(to, { signal }) : undefined;
    this.timeoutMs = callTimeout('timeout', options.timeout ?? DEFAULT_RPC_TIMEOUT);
    this.maxConcurrent = positive('maxConcurrent', options.maxConcurrent ?? DEFAULT_RPC_MAX_CONCURRENT, true);
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.timers = new TimerQueue(this.scheduler) as unknown as typeof this.timers; // p-timeout types them as the global timers
    if (attached.has(host)) throw new TypeError('this node already has an Rpc: make one per node and share it');
    attached.add(host);
    this.notifications$ = this.notifications.asObservable();
    this.interception = host.intercept((event) => this.onEvent(event));
  }

  /**
   * Serves `method` with `handler` (see {@link RpcHandler}) until the
   * returned Subscription is unsubscribed. Throws a `TypeError` when the
   * method is served already.
   */
  handle<P extends readonly unknown[] = unknown[], R = unknown>(method: string, handler: RpcHandler<N, P, R>): Subscription {
    if (typeof method !== 'string') throw new TypeError(`method must be a string, got ${describeValue(method)}`);
    if (typeof handler !== 'function') throw new TypeError(`the handler of "${method}" must be a function`);
    if (this.handlers.has(method)) throw new TypeError(`"${method}" is served already: unsubscribe its handler first`);
    // The params come from the wire: the handler's own P is its promise to check them.
    const served = handler as unknown as RpcHandler<N, readonly unknown[]>;
    this.handlers.set(method, served);
    return new Subscription(() => {
      if (this.handlers.get(method) === served) this.handlers.delete(method);
    });
  }

  /**
   * Calls `method` on `to` and resolves with its result. Rejects (never
   * throws) with a `NetError`: `NOT_CONNECTED` (no connection to `to`),
   * `SEND_ERROR` (the params cannot be encoded), `TIMEOUT`, `REMOTE_ERROR`
   * (the handler failed: `remoteError` holds the error value), `BUSY`,
   * `CONNECTION_ERROR` (the connection ended first: the outcome is
   * unknown), `ALREADY_CLOSED`; or with an aborted `signal`'s reason.
   * Timeout and abort send the cancel notification.
   */
  call<R = unknown>(to: N, method: string, params: readonly unknown[] = [], options: CallOptions = {}): Promise<R> {
    const ms = options.timeout ?? this.timeoutMs;
    const invalid = durationError('timeout', ms, true);
    if (invalid) return Promise.reject(invalid);
    return diagnostics.rpcCall(
      () => ({ node: this.host, to, method, timeout: ms }),
      () => this.timedCall<R>(to, method, params, options.signal, ms),
    );
  }

  /** A call with its timeout (`ms` checked). */
  private timedCall<R>(to: N, method: string, params: readonly unknown[], signal: AbortSignal | undefined, ms: number): Promise<R> {
    let subscription: Subscription | undefined;
    const answer = new Promise<R>((resolve, reject) => {
      subscription = this.request$<R>(to, method, params, signal).subscribe({ next: resolve, error: reject });
    });
    if (ms === Number.POSITIVE_INFINITY) return answer;
    // p-timeout makes a TimeoutError, with its stack, on every call, for the case where no fallback is
    // given; ours throws a NetError instead, so that stack is never seen: capturing it cost about half
    // of a busy client's CPU. None is captured while p-timeout sets the call up (synchronously).
    const errors = Error as { stackTraceLimit?: number };
    const limit = errors.stackTraceLimit;
    errors.stackTraceLimit = 0;
    try {
      return pTimeout(answer, {
        milliseconds: ms,
        customTimers: this.timers,
        fallback: () => {
          subscription?.unsubscribe(); // sends the cancel notification
          throw timeoutError(to, method, ms);
        },
      });
    } finally {
      errors.stackTraceLimit = limit;
    }
  }

  /**
   * The call as a cold Observable: each subscription makes one call, emits
   * its result and completes, or errors as {@link call} rejects.
   * Unsubscribing before the answer cancels the call. The timeout runs on
   * the `scheduler`, so marble tests drive it.
   */
  call$<R = unknown>(to: N, method: string, params: readonly unknown[] = [], options: CallOptions = {}): Observable<R> {
    return defer(() => {
      const ms = callTimeout('timeout', options.timeout ?? this.timeoutMs);
      const request = this.request$<R>(to, method, params, options.signal);
      if (ms === Number.POSITIVE_INFINITY) return request;
      return request.pipe(
        timeoutWith({ first: ms, scheduler: this.scheduler, with: () => throwError(() => timeoutError(to, method, ms)) }),
      );
    });
  }

  /** Sends the notification `[2, method, params]` to `to`; throws as `Node.send` does. */
  notify(to: N, method: string, params: readonly unknown[] = []): void {
    checkCall(method, params);
    this.host.send(to, [NOTIFICATION, method, params]);
  }

  /** The calls of ours waiting for an answer, and the calls being served, over all peers. */
  get inFlight(): RpcInFlight {
    let calls = 0;
    let serving = 0;
    for (const peer of this.peers.values()) {
      calls += peer.calls.size;
      serving += peer.serving.size;
    }
    return { calls, serving };
  }

  /** One call, no timeout: the core of call and call$ (through a cluster: once it reached `to`). */
  private request$<R>(to: N, method: string, params: readonly unknown[], signal: AbortSignal | undefined): Observable<R> {
    const request = this.sent$<R>(to, method, params, signal);
    const { reach } = this;
    if (!reach) return request;
    // Through a cluster: the call's signal (and its end: a timeout, an unsubscribe) stops the wait for a
    // connection too, not only the call once sent.
    return new Observable<R>((subscriber) => {
      if (signal?.aborted) {
        subscriber.error(signal.reason);
        return;
      }
      const waiting = new AbortController();
      const onAbort = (): void => subscriber.error(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const call = from(reach(to, waiting.signal))
        .pipe(switchMap(() => request))
        .subscribe(subscriber);
      return () => {
        signal?.removeEventListener('abort', onAbort);
        waiting.abort();
        call.unsubscribe();
      };
    });
  }

  /** The request sent now, and its answer. */
  private sent$<R>(to: N, method: string, params: readonly unknown[], signal: AbortSignal | undefined): Observable<R> {
    return new Observable<R>((subscriber) => {
      checkCall(method, params);
      if (signal?.aborted) {
        subscriber.error(signal.reason);
        return;
      }
      const peer = this.peer(to);
      const msgid = this.msgid(peer);
      const pending: Pending = {
        method,
        answer: (error, result) => {
          if (error) subscriber.error(error);
          else {
            subscriber.next(result as R);
            subscriber.complete();
          }
        },
      };
      peer.calls.set(msgid, pending);
      try {
        this.host.send(to, [REQUEST, msgid, method, params]);
      } catch (error) {
        peer.calls.delete(msgid);
        this.forget(peer);
        subscriber.error(error);
        return;
      }
      const onAbort = (): void => subscriber.error(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      return () => {
        signal?.removeEventListener('abort', onAbort);
        if (peer.calls.get(msgid) !== pending) return; // answered, or failed with its connection
        peer.calls.delete(msgid);
        this.forget(peer);
        try {
          this.host.send(to, [NOTIFICATION, CANCEL_METHOD, [msgid]]);
        } catch {
          // Not connected any more: nothing to cancel there.
        }
      };
    });
  }

  private onEvent(event: NodeEvent<unknown, N>): boolean {
    switch (event.type) {
      case 'message':
        return isRpcMessage(event.message) && this.onMessage(event.from, event.message);
      case 'disconnected':
        this.peerEnded(
          event.nodeId,
          new NetError('CONNECTION_ERROR', `the connection to node ${describeValue(event.nodeId)} ended (${event.reason})`, {
            nodeId: event.nodeId,
            ...(event.error ? { cause: event.error } : {}),
          }),
        );
        return false;
      case 'closed':
        this.end();
        return false;
      default:
        return false;
    }
  }

  private onMessage(from: N, message: readonly unknown[]): boolean {
    if (this.ended) return false;
    switch (message[0]) {
      case REQUEST:
        this.serve(from, message[1] as number, message[2] as string, message[3] as readonly unknown[]);
        return true;
      case RESPONSE: {
        const peer = this.peers.get(nodeIdKey(from));
        const pending = peer?.calls.get(message[1] as number);
        if (!peer || !pending) return true; // an answer to nothing in flight (cancelled, timed out, or made up): dropped
        peer.calls.delete(message[1] as number);
        this.forget(peer);
        const error = message[2];
        pending.answer(error === null || error === undefined ? undefined : remoteError(error, pending.method, from), message[3]);
        return true;
      }
      default: {
        const method = message[1] as string;
        const params = message[2] as readonly unknown[];
        if (method === CANCEL_METHOD) {
          if (params.length === 1 && isMsgid(params[0])) this.cancelServing(from, params[0]);
        } else this.notifications.next({ from, method, params });
        return true;
      }
    }
  }

  private serve(from: N, msgid: number, method: string, params: readonly unknown[]): void {
    const handler = this.handlers.get(method);
    const peer = this.peer(from);
    if (peer.serving.has(msgid)) return; // the caller reused a msgid in flight: the first call's answer stands
    if (handler === undefined) {
      this.reply(from, msgid, { code: 'NO_SUCH_METHOD', message: `no handler for "${method}"` }, null);
      this.forget(peer);
      return;
    }
    if (peer.serving.size >= this.maxConcurrent) {
      this.reply(from, msgid, { code: 'BUSY', message: `already serving ${this.maxConcurrent} calls from this node` }, null);
      return;
    }
    const call = new ServedCall(from, method);
    peer.serving.set(msgid, call);
    const finish = (error: RpcErrorValue | null, result: unknown): void => {
      if (peer.serving.get(msgid) !== call) return; // cancelled, or its connection ended: nobody to answer
      peer.serving.delete(msgid);
      this.forget(peer);
      this.reply(from, msgid, error, result);
    };
    let result: unknown;
    try {
      result = handler(params, call);
    } catch (error) {
      finish(errorValue(error), null);
      return;
    }
    if (isObservable(result)) {
      let answered = false;
      const subscription = result.pipe(take(1)).subscribe({
        next: (value) => {
          answered = true;
          finish(null, value);
        },
        error: (error: unknown) => finish(errorValue(error), null),
        complete: () => {
          if (!answered) finish({ code: 'ERROR', message: `"${method}" completed without a result` }, null);
        },
      });
      call.onAbort(subscription);
    } else if (isPromiseLike(result)) {
      result.then(
        (value) => finish(null, value),
        (error: unknown) => finish(errorValue(error), null),
      );
    } else finish(null, result);
  }

  /** Sends a response; one that cannot be encoded is answered with `SEND_ERROR` instead; one with no way back is dropped. */
  private reply(to: N, msgid: number, error: RpcErrorValue | null, result: unknown): void {
    try {
      this.host.send(to, [RESPONSE, msgid, error, error === null ? result : null]);
    } catch (failure) {
      if (!(failure instanceof NetError) || failure.code !== 'SEND_ERROR') return; // not connected, or closed
      try {
        this.host.send(to, [RESPONSE, msgid, errorValue(failure), null]);
      } catch {
        // Not even the error fits (the queue is full): the caller's timeout tells it.
      }
    }
  }

  private cancelServing(from: N, msgid: number): void {
    const peer = this.peers.get(nodeIdKey(from));
    const call = peer?.serving.get(msgid);
    if (!peer || !call) return;
    peer.serving.delete(msgid);
    this.forget(peer);
    call.abort(); // an AbortError, as for any cancelled fetch
  }

  /** The connection to `id` ended: its calls fail (their outcome is unknown), its calls being served are aborted. */
  private peerEnded(id: N, error: NetError): void {
    const key = nodeIdKey(id);
    const peer = this.peers.get(key);
    if (!peer) return;
    this.peers.delete(key);
    const [serving, calls] = [[...peer.serving.values()], [...peer.calls.values()]];
    peer.serving.clear();
    peer.calls.clear(); // before answering: their teardown then sends no cancel (to a connection that may be a new one)
    for (const call of serving) call.abort(error);
    for (const pending of calls) {
      pending.answer(
        new NetError('CONNECTION_ERROR', `${error.message} before the answer to "${pending.method}": its outcome is unknown`, {
          nodeId: id,
          cause: error,
        }),
      );
    }
  }

  /** The node closed: every call left fails, every handler is aborted. */
  private end(): void {
    this.ended = true;
    this.interception.unsubscribe();
    const peers = [...this.peers.values()];
    this.peers.clear();
    for (const peer of peers) {
      const [serving, calls] = [[...peer.serving.values()], [...peer.calls.values()]];
      peer.serving.clear();
      peer.calls.clear();
      for (const call of serving) call.abort(alreadyClosed());
      for (const pending of calls) pending.answer(alreadyClosed());
    }
    this.notifications.complete();
  }

  private peer(id: N): Peer<N> {
    const key = nodeIdKey(id);
    let peer = this.peers.get(key);
    if (!peer) {
      peer = { id, calls: new Map(), serving: new Map() };
      this.peers.set(key, peer);
    }
    return peer;
  }

  /** Drops a peer's entry once nothing is in flight with it, so memory follows the calls, not the peers ever seen. */
  private forget(peer: Peer<N>): void {
    if (peer.calls.size === 0 && peer.serving.size === 0) {
      const key = nodeIdKey(peer.id);
      if (this.peers.get(key) === peer) this.peers.delete(key);
    }
  }

  /** The next msgid not in flight to `peer` (a 32-bit counter that wraps). */
  private msgid(peer: Peer<N>): number {
    let msgid = this.nextMsgid;
    while (peer.calls.has(msgid)) msgid = msgid === MAX_MSGID ? 0 : msgid + 1;
    this.nextMsgid = msgid === MAX_MSGID ? 0 : msgid + 1;
    return msgid;
  }
}

/**
 * A call of a peer being served, as its handler sees it. Its AbortSignal is
 * made when the handler first asks for it (making one per call cost a busy
 * server about a quarter of its CPU); aborted before that, it is made
 * aborted, with the same reason.
 */
class ServedCall<N> implements RpcCall<N> {
  private controller: AbortController | undefined;
  private aborted = false;
  private reason: unknown;
  private subscription: Subscription | undefined;

  constructor(
    readonly from: N,
    readonly method: string,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** An Observable handler's subscription: unsubscribed on abort. */
  onAbort(subscription: Subscription): void {
    if (this.aborted) subscription.unsubscribe();
    else if (!subscription.closed) this.subscription = subscription;
  }

  /** Aborts the signal (with `reason`, or an AbortError when none) and an Observable handler; once. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.subscription?.unsubscribe();
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function checkCall(method: unknown, params: unknown): void {
  if (typeof method !== 'string') throw new TypeError(`method must be a string, got ${describeValue(method)}`);
  if (!Array.isArray(params)) throw new TypeError(`params must be an array, got ${describeValue(params)}`);
}

function callTimeout(name: string, value: number): number {
  return duration(name, value, true);
}

function timeoutError(to: unknown, method: string, ms: number): NetError {
  return new NetError('TIMEOUT', `no answer to "${method}" from node ${describeValue(to)} within ${ms} ms`, {
    nodeId: to,
    limit: 'timeout',
    max: ms,
  });
}
