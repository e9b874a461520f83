import { Observable, type Subscriber } from 'rxjs';
import { NetError } from '../errors.js';
import { formatAddress, type Endpoint } from './address.js';
import type { ByteStream, Transport } from './Transport.js';

/**
 * The part of the WHATWG `WebSocket` this transport uses: a browser's own
 * `WebSocket`, or any class with the same API (the `ws` package's
 * `WebSocket` on Node.js). Browser-safe (a type).
 */
export interface WebSocketLike {
  /** Set to `'arraybuffer'`, so that binary messages arrive as `ArrayBuffer`s. */
  binaryType: string;
  /** Bytes passed to `send` and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Queues one binary message. */
  send(data: Uint8Array): void;
  /** Starts the closing handshake (`code` 1000, or 3000-4999). */
  close(code?: number, reason?: string): void;
  /** `open`: the connection is open; `error`: it failed (a `close` event follows). */
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  /** A message arrived: `data` is an `ArrayBuffer` (binary), or a string (text). */
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  /** The connection is closed (always the last event). */
  addEventListener(
    type: 'close',
    listener: (event: { readonly code: number; readonly reason: string; readonly wasClean: boolean }) => void,
  ): void;
}

/** A `WebSocket` class: `new WebSocket(url)`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Options of {@link webSocketTransport}. */
export interface WebSocketTransportConfig {
  /**
   * The `WebSocket` class to connect with (an injected dependency): on
   * Node.js, the `ws` package's `WebSocket` runs this transport too.
   * @default globalThis.WebSocket
   */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Most bytes kept per connection while its reading is paused (a browser's
   * WebSocket reads on: what arrives is kept, then handed on in order);
   * beyond them the connection ends with `READ_ERROR` (limit `maxPausedBytes`).
   * @default 64 MiB
   */
  readonly maxPausedBytes?: number;
}

/**
 * Largest WebSocket message this transport sends: a write above it goes out
 * as several messages (the reader treats them as one byte stream), as the
 * Node.js `ws` transport does, so that no message nears a peer's `maxPayload`.
 */
export const WEB_SOCKET_MAX_MESSAGE_BYTES = 256 * 1024;

/** Default of {@link WebSocketTransportConfig.maxPausedBytes}: 64 MiB, as the node's `maxQueuedBytes`. */
export const DEFAULT_MAX_PAUSED_BYTES = 64 * 1024 * 1024;

/** ms between two looks at `bufferedAmount` while bytes are queued (the WebSocket API has no drain event). */
const DRAIN_POLL_MS = 4;
/**
 * The close code of an abortive close, `destroy(true)`: the WebSocket API has
 * no reset, and lets a page send 1000 or 3000-4999 only. The Node.js side
 * reads 4000, like a close without a close frame (1006), as `CONNECTION_ABORTED`.
 */
export const WEB_SOCKET_ABORT_CODE = 4000;
/** Our close after a text message (1003, "unsupported data", is not allowed to a page). */
const UNSUPPORTED_CODE = 4003;
/** Our close after too much arrived while paused (as 1009, "message too big"). */
const TOO_MUCH_CODE = 4009;
/** Close codes that end the stream in order: normal, going away, no status. */
const CLEAN_CLOSE = new Set([1000, 1001, 1005]);
const OPEN = 1;
const CLOSING = 2;

/**
 * A transport over the WHATWG `WebSocket` API, the one a browser has:
 * `connect` opens `ws://host:port/path` or `wss://...` (browsers check the
 * certificate themselves; the node's `tls` option plays no part). Each binary
 * message is a chunk of one continuous byte stream (a value may span
 * messages); a text message ends the stream with `READ_ERROR`. A clean close
 * (1000, 1001, or none given) is the end of the stream; a cut connection
 * (no close frame: 1006) or {@link WEB_SOCKET_ABORT_CODE} is
 * `CONNECTION_ABORTED`, another code `CONNECTION_ERROR`, as on the Node.js
 * side. `listen` rejects with `OPEN_ERROR`: a WebSocket can
 * only connect. This is the only transport of the browser build; imports
 * nothing from Node.js.
 *
 * @example
 * ```ts
 * import { WebSocket } from 'ws';
 * import { Node, webSocketTransport } from 'msgpacknet/browser';
 * // On Node.js, with the ws package's class: what a browser does with its own.
 * const ws = webSocketTransport({ WebSocket });
 * await using server = new Node<string, string>({ nodeId: 'server' });
 * await using client = new Node<string, string>({ nodeId: 'client', transports: { ws } });
 * const address = await server.listen('ws://127.0.0.1:0/net');
 * server.events$.subscribe((event) => {
 *   if (event.type === 'connectionRequest') event.request.accept();
 *   if (event.type === 'message') console.log(event.from, event.message); // client hi
 * });
 * client.send(await client.connect(address), 'hi');
 * ```
 */
export function webSocketTransport(config: WebSocketTransportConfig = {}): Transport {
  const maxPausedBytes = config.maxPausedBytes ?? DEFAULT_MAX_PAUSED_BYTES;
  if (!(maxPausedBytes > 0)) throw new TypeError(`maxPausedBytes must be a positive number, got ${String(maxPausedBytes)}`);
  return {
    connect(endpoint, signal) {
      const WebSocketClass = config.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
      if (WebSocketClass === undefined) {
        const address = formatAddress(endpoint.host, endpoint.port);
        return Promise.reject(
          new NetError('CONNECTION_ERROR', 'this runtime has no WebSocket: pass one as webSocketTransport({ WebSocket })', { address }),
        );
      }
      return openStream(WebSocketClass, endpoint, signal, maxPausedBytes);
    },
    listen(endpoint) {
      const address = formatAddress(endpoint.host, endpoint.port);
      return Promise.reject(
        new NetError('OPEN_ERROR', `cannot listen on ${address}: browsers cannot listen (a WebSocket can only connect)`, { address }),
      );
    },
  };
}

/** Opens a WebSocket; resolves with its stream once it is open. */
async function openStream(
  WebSocketClass: WebSocketConstructor,
  endpoint: Endpoint,
  signal: AbortSignal,
  maxPausedBytes: number,
): Promise<ByteStream> {
  if (signal.aborted) throw signal.reason;
  const address = formatAddress(endpoint.host, endpoint.port);
  const url = `${endpoint.scheme}://${address}${endpoint.path}`;
  let socket: WebSocketLike;
  try {
    socket = new WebSocketClass(url);
  } catch (error) {
    throw new NetError('CONNECTION_ERROR', `cannot connect to ${url}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
      address,
    });
  }
  const stream = new WebSocketStream(socket, address, url, maxPausedBytes);
  const onAbort = (): void => stream.abortOpen(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await stream.opened;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return stream;
}

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
class WebSocketStream implements ByteStream {
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
    return this.isOpen && !this.closing && this.socket.readyState === OPEN;
  }

  get queuedBytes(): number {
    const state = this.socket.readyState;
    return state === OPEN || state === CLOSING ? this.socket.bufferedAmount : 0;
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
    if (state === OPEN) this.socket.close(code, reason);
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
    if (wasClean && (this.closing || CLEAN_CLOSE.has(code))) return undefined;
    const address = this.remoteAddress;
    if (!wasClean || code === 1006 || code === WEB_SOCKET_ABORT_CODE) {
      return new NetError('CONNECTION_ABORTED', `the WebSocket to ${address} was cut (code ${code}${reason === '' ? '' : `: ${reason}`})`, {
        address,
      });
    }
    return new NetError('CONNECTION_ERROR', `${address} closed the WebSocket with code ${code}${reason === '' ? '' : ` (${reason})`}`, {
      address,
    });
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
      if (this.socket.readyState !== OPEN && this.socket.readyState !== CLOSING) return;
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
