/**
 * A WebSocket of the `ws` package as a {@link ByteStream}: what `ws.ts`
 * (the transport) hands the node. See `ws.ts` for the stream's rules.
 */
import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Observable, type Subscriber } from 'rxjs';
import type { RawData, WebSocket } from 'ws';
import { NetError, streamError } from '../errors.js';
import { formatAddress } from './address.js';
import { READ_SLICE_BYTES, READ_SLICE_MS } from './tcp.js';
import type { ByteStream } from './Transport.js';
import { closeError, WEB_SOCKET_ABORT_CODE, WEB_SOCKET_MAX_MESSAGE_BYTES, WEB_SOCKET_OPEN } from './webSocketClose.js';

/** Largest WebSocket message written: {@link WEB_SOCKET_MAX_MESSAGE_BYTES} (256 KiB). */
export const WS_MESSAGE_BYTES = WEB_SOCKET_MAX_MESSAGE_BYTES;
/** ms `destroy()` lets its close frame leave before it cuts the socket anyway. */
export const CLOSE_GRACE_MS = 1000;
/** A browser's abortive close, read as `CONNECTION_ABORTED`: {@link WEB_SOCKET_ABORT_CODE} (4000). */
export const WS_ABORT_CODE = WEB_SOCKET_ABORT_CODE;
/**
 * Most pongs owed to a peer's pings and not yet handed to the socket: a peer
 * that pings faster than they can be written (many in one read, or while it
 * does not read the pongs) is cut past it, with a `READ_ERROR` naming this
 * limit (`maxPendingPongs`), as `ws` itself cuts at its `maxPendingAutoPongs`
 * (also 60), only saying why.
 */
export const WS_MAX_PENDING_PONGS = 60;
const SEND = { binary: true, compress: false, fin: true } as const;
export const ignore = (): void => undefined;

/** A WebSocket as a {@link ByteStream} (see the module's comment). */
export class WsStream implements ByteStream {
  readonly remoteAddress: string;
  readonly chunks$: Observable<Uint8Array>;
  peerCertificate?: X509Certificate;
  openedAt?: number;
  private reader: Subscriber<Uint8Array> | undefined;
  private failure: NetError | undefined;
  /** A socket error (a reset...): why it closed, when no close frame came. */
  private socketFailure: NetError | undefined;
  /** chunks$ was told its end (completed or errored). */
  private over = false;
  private socketClosed = false;
  /** end() or destroy() was called: nothing more is written. */
  private ending = false;
  private destroyed = false;
  /** Bytes given to `ws` whose write has not yet called back. */
  private queued = 0;
  private drainWaiter: (() => void) | undefined;
  private whenClosed: Promise<NetError | undefined> | undefined;
  private onClosed: ((error: NetError | undefined) => void) | undefined;
  private paused = false;
  /**
   * Messages `ws` emitted before the first subscriber (the first ones can come
   * with the upgrade's response) or after pause() (it finishes the socket read
   * at hand): delivered on subscribe and resume().
   */
  private held: Uint8Array[] = [];
  private started = false;
  private flushing = false;
  private yielding: ReturnType<typeof setImmediate> | undefined;
  private sliceBytes = 0;
  private sliceStart = 0;
  private readonly pinger: ReturnType<typeof setInterval> | undefined;
  /** Pongs written and not yet handed to the socket (see {@link WS_MAX_PENDING_PONGS}). */
  private pendingPongs = 0;

  constructor(
    private readonly ws: WebSocket,
    /** The socket under the WebSocket (TLS for wss). */
    private readonly socket: Socket,
    /** The TCP socket (reset by an abortive destroy). */
    private readonly raw: Socket,
    private readonly maxPayload: number,
    pingInterval: number,
    certificate: X509Certificate | undefined,
  ) {
    this.remoteAddress = addressOf(raw);
    if (certificate) this.peerCertificate = certificate;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    // The transport turns ws's automatic pongs off (autoPong: false): they are answered here, under a named limit.
    ws.on('ping', (data) => this.onPing(data));
    ws.on('error', (error: Error & { code?: string }) => this.fail(this.protocolError(error)));
    const onSocketError = (error: Error): void => {
      this.socketFailure ??= streamError(error, this.remoteAddress);
    };
    socket.on('error', onSocketError);
    if (raw !== socket) raw.on('error', onSocketError);
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    if (pingInterval > 0) {
      this.pinger = setInterval(() => ws.readyState === WEB_SOCKET_OPEN && ws.ping(), pingInterval);
      this.pinger.unref();
    }
    this.chunks$ = new Observable<Uint8Array>((subscriber) => {
      if (this.over) {
        if (this.failure) subscriber.error(this.failure);
        else subscriber.complete();
        return;
      }
      this.reader = subscriber;
      this.started = true;
      this.scheduleFlush();
      return () => {
        if (this.reader === subscriber) this.reader = undefined;
      };
    });
  }

  get closed(): Promise<NetError | undefined> {
    return (this.whenClosed ??= this.socketClosed
      ? Promise.resolve(this.failure)
      : new Promise((resolve) => {
          this.onClosed = resolve;
        }));
  }

  get writable(): boolean {
    return !this.ending && this.ws.readyState === WEB_SOCKET_OPEN;
  }

  get queuedBytes(): number {
    return this.queued;
  }

  write(bytes: Uint8Array): void {
    if (!this.writable) return;
    for (let offset = 0; offset < bytes.length; offset += WS_MESSAGE_BYTES) {
      const part = bytes.length <= WS_MESSAGE_BYTES ? bytes : bytes.subarray(offset, offset + WS_MESSAGE_BYTES);
      this.queued += part.length;
      this.ws.send(part, SEND, () => this.sent(part.length));
    }
  }

  whenDrained(callback: () => void): void {
    this.drainWaiter = callback;
    if (this.queued === 0) void Promise.resolve().then(() => this.sent(0));
  }

  end(): void {
    if (this.ending) return;
    this.ending = true;
    if (this.ws.readyState === WEB_SOCKET_OPEN) this.ws.close(1000);
  }

  destroy(abort = false): void {
    const first = !this.destroyed;
    this.destroyed = this.ending = true;
    this.stopTimers();
    if (abort) {
      // The TCP socket alone: destroying a TLS socket first would send a clean close_notify.
      if (!this.raw.destroyed) this.raw.resetAndDestroy();
      return;
    }
    if (first && this.queued === 0 && !this.socket.destroyed) {
      // Nothing queued: a close frame at once (unless one went already), then FIN, without waiting for the peer's.
      if (this.ws.readyState === WEB_SOCKET_OPEN) this.ws.close(1000);
      this.socket.once('finish', () => this.socket.destroy());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
      return;
    }
    // Bytes queued (dropped): no close frame can follow them, the peer sees an abnormal closure.
    this.socket.destroy();
  }

  pause(): void {
    this.paused = true;
    this.ws.pause();
  }

  resume(): void {
    this.paused = false;
    this.scheduleFlush();
    if (!this.socketClosed && this.yielding === undefined) this.ws.resume();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.over) return;
    if (!isBinary) {
      const message = `${this.remoteAddress} sent a text WebSocket message; msgpacknet reads binary messages only`;
      // The close frame first: the owner destroys the stream when told.
      this.ws.close(1003, 'binary messages only');
      this.fail(new NetError('READ_ERROR', message, { address: this.remoteAddress }));
      return;
    }
    const chunk = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    if (this.paused || !this.started || this.held.length > 0) {
      this.held.push(chunk);
      return;
    }
    this.slice(chunk.length);
    this.reader?.next(chunk);
  }

  /** A peer's ping: answered with a pong, unless it already owes reading {@link WS_MAX_PENDING_PONGS} of them. */
  private onPing(data: Buffer): void {
    if (this.over || this.ws.readyState !== WEB_SOCKET_OPEN) return;
    if (this.pendingPongs >= WS_MAX_PENDING_PONGS) {
      const message = `${this.remoteAddress} sent pings faster than their pongs could be written (a ping flood, or a peer that does not read): over maxPendingPongs (${WS_MAX_PENDING_PONGS}) pongs unsent`;
      // No close frame: it would wait behind the pongs the peer does not read.
      this.raw.destroy();
      this.fail(
        new NetError('READ_ERROR', message, {
          address: this.remoteAddress,
          limit: 'maxPendingPongs',
          max: WS_MAX_PENDING_PONGS,
          actual: this.pendingPongs + 1,
        }),
      );
      return;
    }
    this.pendingPongs++;
    this.ws.pong(data, undefined, this.pongSent);
  }

  private readonly pongSent = (): void => {
    this.pendingPongs--;
  };

  private onClose(code: number, reason: string): void {
    this.socketClosed = true;
    this.stopTimers();
    if (!this.failure && !this.destroyed) {
      const error = closeError(this.remoteAddress, code, reason);
      if (error) this.failure = error.code === 'CONNECTION_ABORTED' ? (this.socketFailure ?? error) : error;
    }
    if (this.failure) this.fail(this.failure);
    else {
      if (this.destroyed) this.held = [];
      this.finish();
    }
    this.sent(this.queued);
    this.onClosed?.(this.failure);
  }

  /** Delivers what is held soon (never inside subscribe() or resume(): their callers are not ready for it). */
  private scheduleFlush(): void {
    if (this.flushing || (this.held.length === 0 && !this.socketClosed)) return;
    this.flushing = true;
    void Promise.resolve().then(() => {
      this.flushing = false;
      this.flush();
    });
  }

  /** Delivers the messages held, as long as it is not paused; then a clean end that waited for them. */
  private flush(): void {
    while (!this.paused && this.reader && this.held.length > 0 && !this.over) this.reader.next(this.held.shift()!);
    if (this.socketClosed && !this.failure) this.finish();
  }

  /** A clean end: chunks$ completes once the messages held are delivered. */
  private finish(): void {
    if (this.over || this.held.length > 0) return;
    this.over = true;
    this.reader?.complete();
  }

  private fail(error: NetError): void {
    this.failure ??= error;
    if (this.over) return;
    this.over = true;
    this.held = [];
    this.reader?.error(this.failure);
  }

  private sent(length: number): void {
    this.queued = Math.max(0, this.queued - length);
    if (this.queued > 0 || !this.drainWaiter) return;
    const waiter = this.drainWaiter;
    this.drainWaiter = undefined;
    waiter();
  }

  /** A frame `ws` refused (too large, malformed): the peer broke the protocol or a limit. */
  private protocolError(error: Error & { code?: string }): NetError {
    const tooLarge = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || error.code === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH';
    return new NetError('READ_ERROR', `${this.remoteAddress} sent an invalid WebSocket frame: ${error.message}`, {
      cause: error,
      address: this.remoteAddress,
      ...(tooLarge ? { limit: 'maxPayload', max: this.maxPayload } : {}),
    });
  }

  private stopTimers(): void {
    if (this.pinger !== undefined) clearInterval(this.pinger);
    if (this.yielding !== undefined) clearImmediate(this.yielding);
    this.yielding = undefined;
  }

  private slice(length: number): void {
    if (this.sliceStart === 0) this.sliceStart = performance.now();
    if ((this.sliceBytes += length) < READ_SLICE_BYTES) return;
    if (performance.now() - this.sliceStart < READ_SLICE_MS || this.yielding !== undefined) return;
    this.ws.pause();
    this.yielding = setImmediate(() => {
      this.yielding = undefined;
      this.sliceBytes = 0;
      this.sliceStart = 0;
      if (!this.paused) this.ws.resume();
    });
  }
}

/** The peer's `"host:port"` of a socket (`"?"` once it is gone). */
export function addressOf(socket: Duplex): string {
  const { remoteAddress, remotePort } = socket as { remoteAddress?: string; remotePort?: number };
  return remoteAddress !== undefined && remotePort !== undefined ? formatAddress(remoteAddress, remotePort) : '?';
}
