import type { SchedulerLike, Subscription } from 'rxjs';
import { deadlineError } from '../errors.js';

/**
 * The one absolute deadline of a connection's start: from the moment it
 * begins (the TCP connect, or the accepted socket) to the accept decision,
 * covering the transport's own handshake (TLS, WebSocket upgrade), the
 * `[init, id]` handshake and the decision. One timer on the node's
 * scheduler; whatever is waiting when it fires is told through
 * {@link signal} (a transport's connect) or {@link onExpiry} (the connection).
 */
export class Deadline {
  private readonly controller = new AbortController();
  private timer: Subscription | undefined;
  private expiry: ((error: Error) => void) | undefined;
  /** What had not happened when it fired, for the error message. */
  private waitingFor = 'the connection was not established';
  private address: string | undefined;

  constructor(
    /** ms from now. */
    readonly ms: number,
    scheduler: SchedulerLike,
    /** The deadline as configured, for the error message (a listener's deadline counts from the TCP connect, so `ms` may be what is left of it). @default ms */
    private readonly configured = ms,
  ) {
    this.timer = scheduler.schedule(() => this.expire(), ms);
  }

  /** Aborted with the `TIMEOUT` error when the deadline passes. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Calls `handler` with the `TIMEOUT` error when the deadline passes, naming what was awaited then. */
  onExpiry(handler: (error: Error) => void, waitingFor: string, address: string): void {
    this.expiry = handler;
    this.waitingFor = waitingFor;
    this.address = address;
  }

  /** Updates what the deadline waits for (for the error message). */
  waitFor(what: string): void {
    this.waitingFor = what;
  }

  /** Met: the timer is cancelled, nothing is told. */
  cancel(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
    this.expiry = undefined;
  }

  /** Given up (the node closes): the timer is cancelled and the signal aborted with `reason`; nothing else is told. */
  abort(reason: Error): void {
    this.cancel();
    this.controller.abort(reason);
  }

  private expire(): void {
    this.timer = undefined;
    const error = deadlineError(this.configured, this.waitingFor, this.address);
    this.controller.abort(error);
    const expiry = this.expiry;
    this.expiry = undefined;
    expiry?.(error);
  }
}
