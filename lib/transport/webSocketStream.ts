/**
 * The browser's WebSocket (or any class of the same API) as a
 * {@link ByteStream}: what `webSocket.ts` (the transport) hands the node.
 * Browser-safe: imports nothing from Node.js.
 */
import { Observable, type Subscriber } from 'rxjs';
import { NetError } from '../errors.js';
import type { ByteStream } from './Transport.js';
import type { WebSocketLike } from './webSocket.js';
import { closeError, WEB_SOCKET_ABORT_CODE, WEB_SOCKET_MAX_MESSAGE_BYTES, WEB_SOCKET_OPEN } from './webSocketClose.js';

export { WEB_SOCKET_ABORT_CODE, WEB_SOCKET_MAX_MESSAGE_BYTES };

/** ms between two looks at `bufferedAmount` while bytes are queued (the WebSocket API has no drain event). */
const DRAIN_POLL_MS = 4;
/** Our close after a text message (1003, "unsupported data", is not allowed to a page). */
const UNSUPPORTED_CODE = 4003;
/** Our close after too much arrived while paused (as 1009, "message too big"). */
const TOO_MUCH_CODE = 4009;
const CLOSING = 2;

/** How reading ended: `error` undefined for an end of stream. */
interface ReadEnd {
  readonly error: NetError | undefined;
}

/**
 * A WebSocket as a {@link ByteStream}. Writes are binary messages of at
 * most {@link WEB_SOCKET_MAX_MESSAGE_BYTES}; `queuedBytes` is the socket's
 * `bufferedAmount`, looked at on a timer only while someone waits for it to
 * drain. A WebSocket has no half-close: `end()` closes both directions
 * (1000, after what is queued) and `destroy()` too (the queue is sent all
 * the same: the API cannot drop it), after which the stream is over at once
 * (`closed` settles, reading ends) while the closing handshake finishes in
 * the background; `destroy(true)` closes with {@link WEB_SOCKET_ABORT_CODE},
 * which the peer reads as `CONNECTION_ABORTED` (the API has no reset).
 */
export class WebSocketStream implements ByteStream {
  readonly chunks$: Observable<Uint8Array>;
  readonly closed: Promise<NetError | undefined>;
  readonly opened: Promise<void>;
  private reader: Subscriber<Uint8Array> | undefined;
  private isOpen = false;
  /** end() or destroy() was called: the close is ours. */
  private closing = false;
  private paused = false;
  /**
   * Someone subscribed to chunks$. Until then chunks are kept: a WebSocket
   * class may emit a message in the same turn as `open` (the `ws` package does
   * when the first frame came with the upgrade), before the node reads.
   */
  private subscribed = false;
  /** Chunks received while paused (or before anyone read), handed on at resume. */
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  /** How reading ended, once it did; handed on after the held chunks. */
  private readEnd: ReadEnd | undefined;
  private delivered = false;
  private drainWaiter: (() => void) | undefined;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private settleOpen!: { resolve: () => void; reject: (error: unknown) => void };
  private settleClosed!: (error: NetError | undefined) => void;

  constructor(
    private readonly socket: WebSocketLike,
    /** `"host:port"` as connected to: a browser cannot see the peer's socket address. */
    readonly remoteAddress: string,
    private readonly url: string,
    private readonly maxPausedBytes: number,
  ) {
    socket.binaryType = 'arraybuffer';
    this.opened = new Promise((resolve, reject) => (this.settleOpen = { resolve, reject }));
    this.closed = new Promise((resolve) => (this.settleClosed = resolve));
    socket.addEventListener('open', () => {
      this.isOpen = true;
      this.settleOpen.resolve();
    });
    socket.addEventListener('message', (event) => this.onMessage(event.data));
    // Always listened to (the ws package throws an unheard 'error'); the 'close' that follows tells the rest.
    socket.addEventListener('error', () => undefined);
    socket.addEventListener('close', (event) => this.onClose(event.code, event.reason, event.wasClean));
    this.chunks$ = new Observable<Uint8Array>((subscriber) => {
      this.reader = subscriber;
      this.subscribed = true;
      // Not from inside subscribe: its caller (a connection being made) is not ready for data yet.
      if (this.held.length > 0 || this.readEnd !== undefined) queueMicrotask(() => this.deliver());
      return () => {
        if (this.reader === subscriber) this.reader = undefined;
      };
    });
  }

  get writable(): boolean {
    return this.isOpen && !this.closing && this.socket.readyState === WEB_SOCKET_OPEN;
  }

  get queuedBytes(): number {
    const state = this.socket.readyState;
    return state === WEB_SOCKET_OPEN || state === CLOSING ? this.socket.bufferedAmount : 0;
  }

  write(bytes: Uint8Array): void {
    if (!this.writable) return;
    // One message per write; a large write as several, each well under any peer's maxPayload.
    for (let start = 0; start < bytes.length; start += WEB_SOCKET_MAX_MESSAGE_BYTES) {
      this.socket.send(bytes.subarray(start, start + WEB_SOCKET_MAX_MESSAGE_BYTES));
    }
  }

  whenDrained(callback: () => void): void {
    this.drainWaiter = callback;
    if (this.drainTimer === undefined) this.pollDrain();
  }

  end(): void {
    this.close(1000, '');
  }

  destroy(abort = false): void {
    if (abort) this.close(WEB_SOCKET_ABORT_CODE, 'aborted');
    else this.close(1000, '');
    // Over for us at once, as a destroyed socket is: the closing handshake goes on without us.
    if (this.isOpen) {
      this.endReading(undefined);
      this.settleClosed(this.readEnd?.error);
    }
  }

  /**
   * Stops handing chunks on. A browser's WebSocket cannot stop reading, so
   * what arrives meanwhile is kept (in order, up to `maxPausedBytes`) and
   * handed on at {@link resume}: backpressure does not reach the peer, and
   * what bounds the memory is that limit (past it the stream ends with
   * `READ_ERROR`) and the node's own limits on what it decodes. Where the
   * class can pause its socket (the `ws` package's), it is paused too, and
   * backpressure reaches the peer as over TCP.
   */
  pause(): void {
    this.paused = true;
    (this.socket as { pause?: () => void }).pause?.();
  }

  /** Hands on what was kept while paused, then reads again. */
  resume(): void {
    this.paused = false;
    (this.socket as { resume?: () => void }).resume?.();
    this.deliver();
  }

  /** The connect was aborted (its deadline): the socket is closed as it connects. */
  abortOpen(reason: unknown): void {
    if (this.isOpen) return;
    this.settleOpen.reject(reason);
    this.closing = true;
    this.socket.close();
  }

  private close(code: number, reason: string): void {
    this.stopPolling();
    if (this.closing) return;
    this.closing = true;
    const state = this.socket.readyState;
    if (state === WEB_SOCKET_OPEN) this.socket.close(code, reason);
  }

  private onMessage(data: unknown): void {
    if (this.readEnd !== undefined) return;
    if (!isArrayBuffer(data)) {
      const kind = typeof data === 'string' ? 'a text message' : 'a message that is not an ArrayBuffer';
      this.endReading(
        new NetError('READ_ERROR', `${kind} from ${this.remoteAddress}: msgpacknet carries binary WebSocket messages only`, {
          address: this.remoteAddress,
        }),
      );
      this.close(UNSUPPORTED_CODE, 'binary messages only');
      return;
    }
    const chunk = new Uint8Array(data);
    if (this.subscribed && !this.paused && this.held.length === 0) {
      this.reader?.next(chunk);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes > this.maxPausedBytes) {
      const { maxPausedBytes: max, heldBytes: actual } = this;
      this.held = [];
      this.heldBytes = 0;
      this.endReading(
        new NetError('READ_ERROR', `${this.remoteAddress} sent more than maxPausedBytes (${max}) while reading was paused`, {
          address: this.remoteAddress,
          limit: 'maxPausedBytes',
          max,
          actual,
        }),
      );
      this.close(TOO_MUCH_CODE, 'too much while paused');
    } else this.deliver();
  }

  private onClose(code: number, reason: string, wasClean: boolean): void {
    this.stopPolling();
    if (!this.isOpen) {
      const why = reason === '' ? `closed with code ${code}` : `closed with code ${code}: ${reason}`;
      this.settleOpen.reject(
        new NetError('CONNECTION_ERROR', `cannot connect to ${this.url}: the WebSocket handshake failed (${why})`, {
          address: this.remoteAddress,
        }),
      );
      this.settleClosed(undefined);
      return;
    }
    this.endReading(this.closeError(code, reason, wasClean));
    this.settleClosed(this.readEnd?.error);
  }

  /**
   * What a close means, as on the Node.js side: after our own close, or with
   * 1000, 1001 or no code, the end of the stream; without a close frame
   * (1006) or with 4000, `CONNECTION_ABORTED`; another code, `CONNECTION_ERROR`.
   */
  private closeError(code: number, reason: string, wasClean: boolean): NetError | undefined {
    if (wasClean && this.closing) return undefined;
    return closeError(this.remoteAddress, code, reason, wasClean);
  }

  private endReading(error: NetError | undefined): void {
    if (this.readEnd !== undefined) return;
    this.readEnd = { error };
    this.deliver();
  }

  /** Hands on held chunks, then the end, while not paused and someone reads. */
  private deliver(): void {
    if (!this.subscribed) return;
    if (this.held.length > 0) {
      let index = 0;
      while (!this.paused && index < this.held.length) {
        const chunk = this.held[index++]!;
        this.heldBytes -= chunk.length;
        this.reader?.next(chunk);
      }
      this.held = index === this.held.length ? [] : this.held.slice(index);
    }
    if (this.paused || this.held.length > 0 || this.readEnd === undefined || this.delivered || this.reader === undefined) return;
    this.delivered = true;
    const { error } = this.readEnd;
    if (error) this.reader.error(error);
    else this.reader.complete();
  }

  private pollDrain(): void {
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      if (this.socket.readyState !== WEB_SOCKET_OPEN && this.socket.readyState !== CLOSING) return;
      if (this.socket.bufferedAmount > 0) {
        this.pollDrain();
        return;
      }
      const waiter = this.drainWaiter;
      this.drainWaiter = undefined;
      waiter?.();
    }, DRAIN_POLL_MS);
  }

  private stopPolling(): void {
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    this.drainWaiter = undefined;
  }
}

/** An `ArrayBuffer`, from this realm or another (a WebSocket class from another realm, an iframe's). */
function isArrayBuffer(data: unknown): data is ArrayBuffer {
  return data instanceof ArrayBuffer || Object.prototype.toString.call(data) === '[object ArrayBuffer]';
}
