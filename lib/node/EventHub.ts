import pTimeout from 'p-timeout';
import { Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import { NetError } from '../errors.js';
import { schedulerTimers } from '../schedulerTimers.js';

/** Method-shaped (so bivariant in `E`: a node of `Node<M, string>` stays a `Node<unknown, unknown>`). */
type Interceptor<E> = { check(event: E): boolean }['check'];

/** A `receive()` call waiting for an event. */
interface Receiver<E> {
  /** Method-shaped, as {@link Interceptor}: keeps a node's event type covariant. */
  resolve(event: E): void;
  /** Has it been handed an event (which a timeout in the same turn must not drop)? */
  taken: boolean;
  event: E | undefined;
}

/**
 * The hot event stream of a node. Events reach every current subscriber;
 * while there is none they are kept, in order, for the next one. When more
 * than `bound` are kept, `onOverflow(true)` asks the producer to pause
 * (the node stops reading its sockets) until they are handed out, when
 * `onOverflow(false)` is called: so nothing is ever dropped.
 */
export class EventHub<E> {
  readonly events$: Observable<E>;
  /** Replaced, never mutated, on (un)subscribe: emitting iterates a stable snapshot without copying. */
  private subscribers: readonly Subscriber<E>[] = [];
  private kept: E[] = [];
  private head = 0;
  private draining = false;
  private completed = false;
  private paused = false;
  /** Delivering an event now; events emitted meanwhile wait in `reentrant`. */
  private emitting = false;
  private reentrant: { event: E; afterRouted?: () => void }[] | undefined;
  /** The estimated heap of the kept events (see {@link charge}). */
  private keptCost = 0;
  /** Was an event kept since the last {@link charge}? */
  private keptSinceCharge = false;
  /** Called first for every event as it is routed; one that returns true consumes it (see {@link intercept}). */
  private interceptors: readonly Interceptor<E>[] = [];
  /** `receive()` calls waiting, in call order; while there are any, one subscription takes events for them. */
  private receivers: Receiver<E>[] = [];
  private receiving: Subscription | undefined;

  constructor(
    private readonly bound: number,
    private readonly onOverflow: (paused: boolean) => void,
    /** The most estimated heap bytes of kept events; beyond it the producer is paused too. */
    private readonly maxCost = Number.POSITIVE_INFINITY,
  ) {
    this.events$ = new Observable<E>((subscriber) => {
      this.subscribers = [...this.subscribers, subscriber];
      this.drain(subscriber);
      if (this.completed && this.size === 0) subscriber.complete();
      return () => {
        this.subscribers = this.subscribers.filter((s) => s !== subscriber);
      };
    });
  }

  /**
   * Adds `interceptor`, called for every event at the moment it is routed
   * (whether anyone subscribes or not, in the order subscribers see them),
   * before subscribers and before keeping: when it returns true the event
   * is consumed, neither delivered nor kept. Returns the removal.
   */
  intercept(interceptor: Interceptor<E>): () => void {
    this.interceptors = [...this.interceptors, interceptor];
    return () => {
      this.interceptors = this.interceptors.filter((i) => i !== interceptor);
    };
  }

  /** Has the producer been asked to pause (and not yet to resume)? */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Events kept for the next subscriber. */
  get size(): number {
    return this.kept.length - this.head;
  }

  /**
   * Adds `cost` (estimated heap bytes) for events just emitted; counted only
   * when some of them were kept, it pauses the producer beyond `maxCost`.
   */
  charge(cost: number): void {
    // Only a read that kept something costs: one whose events went to subscribers or were
    // intercepted (Rpc's answers, say) holds no heap here, kept events or not.
    const kept = this.keptSinceCharge;
    this.keptSinceCharge = false;
    if (this.size === 0 || !kept) return;
    this.keptCost += cost;
    if (!this.paused && this.keptCost > this.maxCost) {
      this.paused = true;
      this.onOverflow(true);
    }
  }

  /**
   * Delivers `event` to every subscriber, or keeps it when there is none;
   * then calls `afterRouted`, if given (so a `closing` event reaches its
   * handlers before the node refuses sends, even when it is emitted from
   * inside a handler and so routed later).
   */
  emit(event: E, afterRouted?: () => void): void {
    if (this.emitting) {
      // Emitted from inside a handler (accept() in a connectionRequest handler emits connected):
      // routed once the current event has reached every subscriber, so all see one order.
      (this.reentrant ??= []).push(afterRouted ? { event, afterRouted } : { event });
      return;
    }
    const subscribers = this.subscribers;
    if (subscribers.length === 1 && afterRouted === undefined && this.size === 0 && !this.draining && this.interceptors.length === 0) {
      // The common case (one subscriber, nothing kept), kept short for the message path.
      this.emitting = true;
      try {
        subscribers[0]!.next(event);
      } finally {
        this.emitting = false;
      }
      if (this.reentrant !== undefined) this.routeReentrant();
      return;
    }
    this.emitting = true;
    try {
      this.route(event);
      afterRouted?.();
    } finally {
      this.emitting = false;
    }
    if (this.reentrant !== undefined) this.routeReentrant();
  }

  /** Routes the events emitted from inside handlers, in order (and those they emit in turn). */
  private routeReentrant(): void {
    this.emitting = true;
    try {
      const reentrant = this.reentrant!;
      for (let i = 0; i < reentrant.length; i++) {
        const next = reentrant[i]!;
        this.route(next.event);
        next.afterRouted?.();
      }
    } finally {
      this.reentrant = undefined;
      this.emitting = false;
    }
  }

  private route(event: E): void {
    if (this.interceptors.length > 0 && this.intercepted(event)) return;
    const subscribers = this.subscribers;
    if (subscribers.length === 0 || this.draining || this.size > 0) {
      this.kept.push(event);
      this.keptSinceCharge = true;
      if (!this.paused && this.size > this.bound) {
        this.paused = true;
        this.onOverflow(true);
      }
      const first = subscribers[0];
      if (first && !this.draining) this.drain(first);
      return;
    }
    if (subscribers.length === 1) subscribers[0]!.next(event);
    else for (const subscriber of subscribers) subscriber.next(event);
  }

  private intercepted(event: E): boolean {
    for (const interceptor of this.interceptors) {
      try {
        if (interceptor(event)) return true;
      } catch (error) {
        // As RxJS reports an error thrown by a subscriber's next: out of band, so routing goes on.
        setTimeout(() => {
          throw error;
        });
      }
    }
    return false;
  }

  /** Completes every subscriber once the kept events are handed out; later subscribers get what is kept, then complete. */
  complete(): void {
    this.completed = true;
    if (this.size === 0) for (const subscriber of this.subscribers) subscriber.complete();
  }

  /**
   * The next event (a kept one first), as a Promise; `closed` once completed
   * with nothing kept. Calls made at once take distinct events, in call
   * order (a queue, as the crate's `receive`). With `timeout` (ms, on
   * `scheduler`), rejects with `TIMEOUT` and takes nothing: the event it did
   * not wait for stays for the next call.
   */
  receive(closed: E, timeout: number | undefined, scheduler: SchedulerLike): Promise<E> {
    if (this.receivers.length === 0) {
      const kept = this.take();
      if (kept !== undefined) return Promise.resolve(kept);
    }
    if (this.completed && this.size === 0) return Promise.resolve(closed);
    let receiver!: Receiver<E>;
    const next = new Promise<E>((resolve) => (receiver = { resolve, taken: false, event: undefined }));
    this.receivers.push(receiver);
    this.receiving ??= this.events$.subscribe({
      next: (event) => this.handOut(event),
      complete: () => this.handOut(closed),
    });
    if (timeout === undefined) return next;
    return pTimeout(next, {
      milliseconds: timeout,
      fallback: () => {
        // The timer and the event in one turn (a virtual scheduler): the event was taken, so it is the answer.
        if (receiver.taken) return receiver.event as E;
        this.receivers = this.receivers.filter((r) => r !== receiver);
        if (this.receivers.length === 0) this.stopReceiving();
        throw new NetError('TIMEOUT', `no event within ${timeout} ms`, { limit: 'timeout', max: timeout });
      },
      customTimers: schedulerTimers(scheduler),
    });
  }

  /** An event for the receivers: the first waiting one takes it (`closed`: every one does). */
  private handOut(event: E): void {
    const completing = this.completed && this.size === 0;
    const taking = completing ? this.receivers : this.receivers.slice(0, 1);
    this.receivers = completing ? [] : this.receivers.slice(1);
    if (this.receivers.length === 0) this.stopReceiving();
    for (const receiver of taking) {
      receiver.taken = true;
      receiver.event = event;
      receiver.resolve(event);
    }
  }

  /** No receiver waits: events are kept again for the next subscriber or call. */
  private stopReceiving(): void {
    const receiving = this.receiving;
    this.receiving = undefined;
    receiving?.unsubscribe();
  }

  /** Takes the next kept event, if any (for `receive()`). */
  take(): E | undefined {
    if (this.size === 0) return undefined;
    const event = this.next();
    this.afterTake();
    return event;
  }

  private next(): E {
    const event = this.kept[this.head]!;
    // Each event taken takes its share of the cost (the cost is known per read, not per event).
    this.keptCost -= this.keptCost / this.size;
    this.kept[this.head++] = undefined as E;
    if (this.head > 1024 && this.head * 2 > this.kept.length) {
      this.kept = this.kept.slice(this.head);
      this.head = 0;
    }
    return event;
  }

  private drain(subscriber: Subscriber<E>): void {
    this.draining = true;
    try {
      while (this.size > 0 && !subscriber.closed) subscriber.next(this.next());
    } finally {
      this.draining = false;
    }
    this.afterTake();
  }

  private afterTake(): void {
    if (this.size === 0) this.keptCost = 0;
    if (this.paused && this.size <= this.bound / 2 && this.keptCost <= this.maxCost / 2) {
      this.paused = false;
      this.onOverflow(false);
    }
    if (this.completed && this.size === 0) for (const subscriber of this.subscribers) subscriber.complete();
  }
}
