import {
  Observable,
  asyncScheduler,
  type OperatorFunction,
  type SchedulerAction,
  type SchedulerLike,
  type Subscriber,
  type Subscription,
} from 'rxjs';
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING_MESSAGES } from '../defaults.js';
import { NetError, deadlineError, toNetError } from '../errors.js';
import { PendingInbox } from './PendingInbox.js';
import { checkValidator, validate, type Validator } from '../validate.js';

/** The peer's handshake as a request to accept (take its messages) or reject, carrying everything sent after it. */
export interface Handshake<I = unknown, N = unknown> {
  /** The peer's init message (validated). */
  readonly initMessage: I;
  /** The peer's node id (validated). */
  readonly nodeId: N;
  /**
   * The values after the handshake. Values that arrive before the first
   * subscription are kept (up to `maxPending`) and replayed to it in order;
   * then values are live. One subscriber only (a second gets an error).
   * Errors with the source's error; completes with the source, or when the
   * outer subscription is unsubscribed.
   */
  readonly messages: Observable<unknown>;
  /** Accepts: the same as taking {@link messages}. */
  accept(): Observable<unknown>;
  /** Rejects: drops the kept values, stops reading the source, and completes the stream this came from. */
  reject(): void;
}

/** Options of {@link handshake}. */
export interface HandshakeConfig<I = unknown, N = unknown> {
  /** Checks the peer's init message. @default accept any */
  readonly validateInit?: Validator<I>;
  /** Checks the peer's node id. @default accept any */
  readonly validateNodeId?: Validator<N>;
  /** ms from subscription by which the handshake value must have arrived; `Infinity` for none. @default 10000 */
  readonly timeout?: number;
  /** Scheduler of the timeout. @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
  /** Most values kept before `messages` is subscribed. @default 1024 */
  readonly maxPending?: number;
}

/**
 * Reads the handshake that opens every connection: the first value must be
 * the 2-array `[initMessage, nodeId]` and pass the validators. Emits one
 * {@link Handshake}: a request to `accept()` (which gives the rest of the
 * values, also available as `messages`) or `reject()`.
 *
 * Errors, before the handshake, with `READ_ERROR` for a value of the wrong
 * shape or one that fails validation, `TIMEOUT` when none arrives within
 * `timeout`, `CONNECTION_ERROR` when the source completes first, or the
 * source's error; after it, with `READ_ERROR` (`limit: 'maxPending'`) when
 * more than `maxPending` values wait for a subscriber. Completes when the
 * source ends after the handshake (its error, if any, goes to `messages`).
 * Unsubscribing cancels the timeout and completes `messages`.
 *
 * @example
 * ```ts
 * import { of } from 'rxjs';
 * import { handshake } from 'msgpacknet';
 * of([null, 'peer-1'], 'hello').pipe(handshake()).subscribe((hs) => {
 *   console.log(hs.nodeId); // 'peer-1'
 *   hs.messages.subscribe((m) => console.log(m)); // 'hello'
 * });
 * ```
 */
export function handshake<I = unknown, N = unknown>(config: HandshakeConfig<I, N> = {}): OperatorFunction<unknown, Handshake<I, N>> {
  const { validateInit, validateNodeId, scheduler = asyncScheduler } = config;
  const timeout = config.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const maxPending = config.maxPending ?? DEFAULT_MAX_PENDING_MESSAGES;
  checkValidator('validateInit', validateInit);
  checkValidator('validateNodeId', validateNodeId);
  if (!(timeout > 0)) throw new TypeError(`timeout must be a positive number of ms, got ${timeout}`);
  if (!(Number.isSafeInteger(maxPending) && maxPending >= 0)) throw new TypeError(`maxPending must be a non-negative integer`);

  const settings: Settings<I, N> = { validateInit, validateNodeId, timeout, scheduler, maxPending };
  return (source) =>
    new Observable<Handshake<I, N>>((subscriber) => {
      const reader = new HandshakeReader(settings, subscriber);
      const subscription = source.subscribe(reader);
      return () => {
        reader.stop();
        subscription.unsubscribe();
      };
    });
}

interface Settings<I, N> {
  readonly validateInit: Validator<I> | undefined;
  readonly validateNodeId: Validator<N> | undefined;
  readonly timeout: number;
  readonly scheduler: SchedulerLike;
  readonly maxPending: number;
}

/** One subscription's state, and the observer of its source (a class: a node holds one per connection). */
class HandshakeReader<I, N> {
  private queue: MessageQueue | undefined;
  private readonly timer: Subscription | undefined;

  constructor(
    private readonly settings: Settings<I, N>,
    private readonly subscriber: Subscriber<Handshake<I, N>>,
  ) {
    const { timeout, scheduler } = settings;
    // Infinity: no timer here (the node keeps one deadline for the whole start of a connection).
    this.timer = timeout === Number.POSITIVE_INFINITY ? undefined : scheduler.schedule(expire, timeout, this);
  }

  next(value: unknown): void {
    const { queue, subscriber, settings } = this;
    if (queue) {
      const error = queue.push(value);
      if (error) {
        queue.end(error);
        subscriber.error(error);
      }
      return;
    }
    this.timer?.unsubscribe();
    let result: ReturnType<typeof parseHandshake<I, N>>;
    try {
      result = parseHandshake(value, settings.validateInit, settings.validateNodeId);
    } catch (error) {
      // A validator that throws is a failed validation, never an exception out of the stream.
      result = toNetError(error, 'READ_ERROR', 'the handshake validator threw');
    }
    if (result instanceof NetError) {
      subscriber.error(result);
      return;
    }
    const messages = new MessageQueue(settings.maxPending);
    this.queue = messages;
    subscriber.next({
      ...result,
      messages: messages.observable,
      accept: () => messages.observable,
      reject: () => {
        messages.end();
        subscriber.complete();
      },
    });
  }

  error(error: unknown): void {
    if (this.queue) {
      this.queue.end(error);
      this.subscriber.complete();
    } else this.subscriber.error(error);
  }

  complete(): void {
    if (this.queue) {
      this.queue.end();
      this.subscriber.complete();
    } else this.subscriber.error(new NetError('CONNECTION_ERROR', 'the stream ended before the handshake'));
  }

  /** The timer fired: no handshake in time. */
  expire(): void {
    this.subscriber.error(deadlineError(this.settings.timeout, 'no handshake arrived'));
  }

  stop(): void {
    this.timer?.unsubscribe();
    this.queue?.end();
  }
}

function expire(this: SchedulerAction<HandshakeReader<unknown, unknown>>, reader: HandshakeReader<unknown, unknown> | undefined): void {
  reader!.expire();
}

/** The handshake `[initMessage, nodeId]` checked and validated, or the `READ_ERROR` it is (a validator may throw). @internal */
export function parseHandshake<I, N>(
  value: unknown,
  validateInit: Validator<I> | undefined,
  validateNodeId: Validator<N> | undefined,
): { initMessage: I; nodeId: N } | NetError {
  if (!Array.isArray(value) || value.length !== 2) {
    return new NetError('READ_ERROR', 'the handshake must be the 2-array [initMessage, nodeId]');
  }
  const init = validate(validateInit, value[0]);
  if (!init.ok) return new NetError('READ_ERROR', `invalid handshake init message: ${init.reason}`);
  const id = validate(validateNodeId, value[1]);
  if (!id.ok) return new NetError('READ_ERROR', `invalid handshake node id: ${id.reason}`);
  return { initMessage: init.value, nodeId: id.value };
}

/** Holds values (in a {@link PendingInbox}) until the one subscriber arrives, then passes them live. */
class MessageQueue {
  readonly observable: Observable<unknown>;
  private readonly inbox: PendingInbox<unknown>;
  private subscriber: Subscriber<unknown> | undefined;
  private taken = false;

  constructor(max: number) {
    this.inbox = new PendingInbox(max);
    this.observable = new Observable<unknown>((subscriber) => {
      if (this.taken) {
        subscriber.error(new TypeError('handshake messages can be subscribed once'));
        return;
      }
      this.taken = true;
      this.inbox.drain(
        (value) => subscriber.next(value),
        () => !subscriber.closed,
        (error) => finish(subscriber, error),
      );
      if (this.inbox.ended || subscriber.closed) return;
      this.subscriber = subscriber;
      return () => {
        this.subscriber = undefined;
      };
    });
  }

  /** Passes a value on, or keeps it until subscribed; the `maxPending` error when the inbox is full. */
  push(value: unknown): NetError | undefined {
    if (this.inbox.ended) return undefined;
    if (this.subscriber) this.subscriber.next(value);
    else if (!this.taken) return this.inbox.keep(value);
    // else the subscriber left: drop, as after unsubscribe
    return undefined;
  }

  end(error?: unknown): void {
    if (this.inbox.ended) return;
    this.inbox.end(error);
    if (this.subscriber) finish(this.subscriber, error);
  }
}

function finish(subscriber: Subscriber<unknown>, error: unknown): void {
  if (error !== undefined) subscriber.error(error);
  else subscriber.complete();
}
