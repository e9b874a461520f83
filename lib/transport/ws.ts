/**
 * WebSocket (`ws://host:port/path`, `wss://host:port/path`) on Node.js, with
 * the `ws` package (an optional peer dependency, loaded when such an address
 * is first used). The stream is the same as on TCP: the messages are one
 * continuous byte stream, a value may span them.
 *
 * - Writing: one binary message per write, split at {@link WS_MESSAGE_BYTES}
 *   (256 KiB), so that no peer needs a large `maxPayload` for our batches.
 * - Reading: `maxPayload` is {@link wsMaxPayload}: `max(maxValueBytes,
 *   256 KiB) + 64 KiB`. A larger message, a frame header claiming more, any
 *   protocol error and any text message end that connection with a
 *   `READ_ERROR`.
 * - Ends: a close frame with 1000, 1001 or none (1005) is the end of stream;
 *   a close without a close frame (a reset, a FIN), or with
 *   {@link WS_ABORT_CODE} (a browser's abort), is `CONNECTION_ABORTED`;
 *   another code from the peer is `CONNECTION_ERROR`. `end()` sends a close
 *   frame after what is queued. WebSocket has no half-close: once the peer
 *   sees it, it answers with its own and writes no more.
 * - Backpressure: `queuedBytes` counts what `ws` has not yet handed to the
 *   socket's kernel buffer (each message until its write callback);
 *   `whenDrained` calls back when that reaches 0.
 * - Listening: an HTTP(S) server serves the URL's path (other paths: 404; a
 *   plain request: 426). From the TCP connect until the upgrade is done the
 *   connection counts against the node's `maxPendingHandshakes`, and it is
 *   cut at `handshakeTimeout` (a TLS handshake and a half-sent request
 *   alike), reported on `failures$`.
 * - Liveness: a listener pings each connection every {@link WS_PING_INTERVAL}
 *   (the peer's `ws` or browser answers by itself), which keeps proxies and
 *   NATs from dropping a quiet connection. Pings and pongs are not stream
 *   bytes: the node's `connectionTimeout` counts received messages only, so
 *   a one-way flow is kept open, as on TCP, by messages the other way (or a
 *   larger `connectionTimeout` on the side that only sends).
 */
import { constants, type X509Certificate } from 'node:crypto';
import { createServer as httpServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as httpsServer } from 'node:https';
import { connect as netConnect, isIP, Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { Observable, type Subscriber } from 'rxjs';
import type { RawData, WebSocket } from 'ws';
import { NetError, deadlineError, streamError, type NetErrorCode } from '../errors.js';
import { formatAddress, type Endpoint } from './address.js';
import { bind, resolveHost } from './tcp.js';
import type { Admission, ByteStream, Listener, Transport, TransportSettings } from './Transport.js';

/** Largest WebSocket message written (256 KiB): a longer write goes as several messages. */
export const WS_MESSAGE_BYTES = 256 * 1024;
/** Room over `max(maxValueBytes, WS_MESSAGE_BYTES)` in the `maxPayload` read (64 KiB): for a writer that batches small values around a largest one. */
export const WS_PAYLOAD_SLACK = 64 * 1024;
/** ms between the pings a listener sends on each connection. */
export const WS_PING_INTERVAL = 30_000;
/** The largest `maxPayload`: `ws` reads it as a 32-bit integer. */
const MAX_PAYLOAD_CAP = 2 ** 31 - 1;
/** ms `destroy()` lets its close frame leave before it cuts the socket anyway. */
const CLOSE_GRACE_MS = 1000;
/** As in tcp.ts: after 64 KiB and 10 ms of reading in a row, a stream lets the event loop turn. */
const READ_SLICE_MS = 10;
const READ_SLICE_BYTES = 64 * 1024;
/**
 * The close code a WebSocket API client (a browser, which has no reset) sends
 * for an abortive close; read, like a close without a close frame, as
 * `CONNECTION_ABORTED`. The same as `WEB_SOCKET_ABORT_CODE` of webSocket.ts.
 */
export const WS_ABORT_CODE = 4000;
/** Close codes that end the stream in order: normal, going away, no status. */
const CLEAN_CLOSE = new Set([1000, 1001, 1005]);
const OPEN = 1;
const SEND = { binary: true, compress: false, fin: true } as const;
const ignore = (): void => undefined;

type WsModule = typeof import('ws');
const defaultLoader = (): Promise<unknown> => import('ws');
let loader = defaultLoader;
let loaded: Promise<WsModule> | undefined;

/**
 * Replaces how the `ws` package is loaded (specs prove the message for a
 * missing package with it); returns a function that restores the default.
 * @internal
 */
export function setWsLoader(load: () => Promise<unknown>): () => void {
  loader = load;
  loaded = undefined;
  return () => {
    loader = defaultLoader;
    loaded = undefined;
  };
}

/** The `ws` package, or a `NetError` with `code` that says how to install it. */
async function loadWs(code: NetErrorCode, url: string): Promise<WsModule> {
  try {
    const module = await (loaded ??= loader().then((value) => {
      const candidate = value as Partial<WsModule> | null;
      if (typeof candidate?.WebSocket !== 'function' || typeof candidate.WebSocketServer !== 'function') {
        throw new TypeError('the "ws" package found has no WebSocket and WebSocketServer (ws 8 is needed)');
      }
      return candidate as WsModule;
    }));
    return module;
  } catch (error) {
    loaded = undefined;
    const detail = error instanceof Error ? error.message : String(error);
    throw new NetError(code, `${url} needs the optional "ws" package (${detail}): npm install ws`, { cause: error, address: url });
  }
}

/** The `maxPayload` a WebSocket reads with: `min(max(maxValueBytes, WS_MESSAGE_BYTES) + WS_PAYLOAD_SLACK, 2^31 - 1)`. */
export function wsMaxPayload(maxValueBytes: number): number {
  return Math.min(Math.max(maxValueBytes, WS_MESSAGE_BYTES) + WS_PAYLOAD_SLACK, MAX_PAYLOAD_CAP);
}

/** What a WebSocket transport is made with: the node's settings, and which scheme. */
export interface WsSettings extends TransportSettings {
  /** `wss://` (TLS with the node's `tls` option) rather than `ws://`. */
  readonly secure: boolean;
  /** ms between the pings a listener sends on each connection; 0 for none. @default WS_PING_INTERVAL */
  readonly pingInterval?: number;
}

/** A `ws://` or `wss://` transport (see the module's comment). */
export function wsTransport(settings: WsSettings): Transport {
  const scheme = settings.secure ? 'wss' : 'ws';
  const maxPayload = wsMaxPayload(settings.maxValueBytes);
  const tls = settings.secure ? tlsOptions(settings) : undefined;
  const urlOf = (endpoint: Endpoint): string => `${scheme}://${formatAddress(endpoint.host, endpoint.port)}${endpoint.path}`;
  return {
    async connect(endpoint, signal) {
      const url = urlOf(endpoint);
      const { WebSocket } = await loadWs('CONNECTION_ERROR', url);
      const host = await resolveHost(endpoint.host, 'CONNECTION_ERROR');
      if (signal.aborted) throw signal.reason as Error;
      const raw = netConnect({ host, port: endpoint.port, noDelay: true });
      const secure = tls
        ? tlsConnect({
            ...tls,
            socket: raw,
            ...(isIP(endpoint.host) === 0 ? { servername: endpoint.host } : {}),
            // Key-bound ids replace the name check: the handshake's id must match the certificate.
            ...(settings.authenticateIds ? { checkServerIdentity: () => undefined } : {}),
          })
        : undefined;
      const socket = secure ?? raw;
      return new Promise((resolve, reject) => {
        const fail = (error: Error): void => {
          settle();
          ws?.terminate();
          raw.destroy();
          reject(new NetError('CONNECTION_ERROR', `cannot connect to ${url}: ${error.message}`, { cause: error, address: url }));
        };
        const onAbort = (): void => {
          settle();
          ws?.terminate();
          raw.destroy();
          reject(signal.reason as Error);
        };
        const settle = (): void => {
          signal.removeEventListener('abort', onAbort);
          ws?.off('error', fail);
          raw.off('error', fail);
        };
        let ws: WebSocket | undefined;
        try {
          ws = new WebSocket(url, { perMessageDeflate: false, maxPayload, followRedirects: false, createConnection: () => socket });
        } catch (error) {
          return fail(error instanceof Error ? error : new Error(String(error)));
        }
        const opened = ws;
        // Errors after the promise settled (an abort's own) are nobody's: never an uncaught 'error'.
        ws.on('error', ignore);
        raw.on('error', ignore);
        ws.once('error', fail);
        raw.once('error', fail);
        signal.addEventListener('abort', onAbort, { once: true });
        ws.once('open', () => {
          settle();
          resolve(new WsStream(opened, socket, raw, maxPayload, 0, secure?.getPeerX509Certificate()));
        });
      });
    },
    async listen(endpoint, onStream, admission) {
      const url = urlOf(endpoint);
      if (settings.secure && (settings.tls.key === undefined || settings.tls.cert === undefined)) {
        throw new NetError('OPEN_ERROR', `cannot listen on ${url}: the node has no tls key and cert`, { address: url });
      }
      const { WebSocketServer } = await loadWs('OPEN_ERROR', url);
      const host = await resolveHost(endpoint.host, 'OPEN_ERROR');
      const upgrader = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload });
      const server = tls ? httpsServer({ ...tls, requestCert: true }) : httpServer();
      const gate = new UpgradeGate(settings.handshakeTimeout, admission);
      const pingInterval = settings.pingInterval ?? WS_PING_INTERVAL;
      server.on('connection', (raw: Socket) => gate.enter(raw));
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        const raw = rawOf(socket);
        // Always so on node:http(s); the check is for the types.
        if (!(socket instanceof Socket) || !(raw instanceof Socket)) return socket.destroy();
        if (pathOf(request.url) !== endpoint.path) {
          gate.refuse(raw, `asked for ${pathOf(request.url)}; ${url} serves ${endpoint.path}`);
          respond(socket, 404);
          return;
        }
        upgrader.handleUpgrade(request, socket, head, (ws) => {
          const at = gate.done(raw);
          if (at === undefined) return ws.terminate();
          const certificate = socket instanceof TLSSocket ? socket.getPeerX509Certificate() : undefined;
          const stream = new WsStream(ws, socket, raw, maxPayload, pingInterval, certificate);
          stream.openedAt = at;
          onStream(stream);
        });
      });
      upgrader.on('wsClientError', (error, socket) => {
        gate.refuse(rawOf(socket), `sent an invalid WebSocket upgrade: ${error.message}`);
        respond(socket, 400);
      });
      server.on('request', (request: IncomingMessage, response: ServerResponse) => {
        const served = pathOf(request.url) === endpoint.path;
        gate.refuse(rawOf(request.socket), `sent an HTTP request without a WebSocket upgrade for ${pathOf(request.url)}`);
        response.writeHead(served ? 426 : 404, { Connection: 'close', 'Content-Length': 0 }).end();
      });
      // Not HTTP, a reset mid-request, a failed TLS handshake: that connection alone is cut.
      server.on('clientError', (error: Error, socket: Duplex) => gate.cut(rawOf(socket), `sent no valid HTTP upgrade: ${error.message}`));
      server.on('tlsClientError', (error: Error, socket: Duplex) => gate.cut(rawOf(socket), `failed the TLS handshake: ${error.message}`));
      const listener: Listener = await bind(server, host, endpoint.port);
      return {
        address: listener.address,
        close: () => {
          // Connections still before their upgrade are cut: close() never waits for them.
          gate.close();
          return listener.close();
        },
      };
    },
  };
}

/** A listener's connections from the TCP connect until their upgrade: admitted, timed, cut. */
class UpgradeGate {
  private readonly pending = new Map<Duplex, { at: number; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly timeout: number,
    private readonly admission: Admission | undefined,
  ) {}

  enter(raw: Socket): void {
    raw.on('error', ignore);
    if (this.admission && !this.admission.enter(addressOf(raw))) {
      raw.destroy();
      return;
    }
    const timer = setTimeout(() => {
      if (this.done(raw) === undefined) return;
      raw.destroy();
      this.admission?.fail?.(deadlineError(this.timeout, 'the WebSocket upgrade did not finish', addressOf(raw)));
    }, this.timeout);
    timer.unref();
    this.pending.set(raw, { at: performance.now(), timer });
    raw.once('close', () => this.done(raw));
  }

  /** Its upgrade ended (done, refused or cut): when it began, or undefined when it was no longer pending. */
  done(raw: Duplex): number | undefined {
    const entry = this.pending.get(raw);
    if (!entry) return undefined;
    this.pending.delete(raw);
    clearTimeout(entry.timer);
    this.admission?.leave();
    return entry.at;
  }

  /** Reports a refused upgrade (the caller answers it over HTTP). */
  refuse(raw: Duplex, why: string): void {
    if (this.done(raw) === undefined) return;
    this.admission?.fail?.(new NetError('CONNECTION_ERROR', `${addressOf(raw)} ${why}`, { address: addressOf(raw) }));
  }

  /** Cuts a connection that failed before its upgrade, and reports it. */
  cut(raw: Duplex, why: string): void {
    raw.destroy();
    this.refuse(raw, why);
  }

  close(): void {
    for (const raw of [...this.pending.keys()]) {
      this.done(raw);
      raw.destroy();
    }
  }
}

/** A WebSocket as a {@link ByteStream} (see the module's comment). */
class WsStream implements ByteStream {
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
    ws.on('error', (error: Error & { code?: string }) => this.fail(this.protocolError(error)));
    const onSocketError = (error: Error): void => {
      this.socketFailure ??= streamError(error, this.remoteAddress);
    };
    socket.on('error', onSocketError);
    if (raw !== socket) raw.on('error', onSocketError);
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    if (pingInterval > 0) {
      this.pinger = setInterval(() => ws.readyState === OPEN && ws.ping(), pingInterval);
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
    return !this.ending && this.ws.readyState === OPEN;
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
    if (this.ws.readyState === OPEN) this.ws.close(1000);
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
      if (this.ws.readyState === OPEN) this.ws.close(1000);
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

  private onClose(code: number, reason: string): void {
    this.socketClosed = true;
    this.stopTimers();
    if (!this.failure && !this.destroyed) {
      if (code === 1006 || code === WS_ABORT_CODE) {
        this.failure =
          this.socketFailure ??
          new NetError('CONNECTION_ABORTED', `the WebSocket connection to ${this.remoteAddress} was cut (close code ${code})`, {
            address: this.remoteAddress,
          });
      } else if (!CLEAN_CLOSE.has(code)) {
        const why = `${this.remoteAddress} closed the WebSocket with code ${code}${reason === '' ? '' : ` (${reason})`}`;
        this.failure = new NetError('CONNECTION_ERROR', why, { address: this.remoteAddress });
      }
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

/** node:tls options from the node's `tls` option, as tls.ts makes them (TLS 1.2 at least, no renegotiation). */
function tlsOptions(settings: TransportSettings) {
  const { tls, authenticateIds } = settings;
  const pem = (value: string | Uint8Array): string | Buffer => (typeof value === 'string' ? value : Buffer.from(value));
  const ca = tls.ca === undefined ? undefined : Array.isArray(tls.ca) ? tls.ca.map(pem) : pem(tls.ca as string | Uint8Array);
  return {
    ...(tls.key === undefined ? {} : { key: pem(tls.key) }),
    ...(tls.cert === undefined ? {} : { cert: pem(tls.cert) }),
    ...(ca === undefined ? {} : { ca }),
    ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }),
    minVersion: 'TLSv1.2' as const,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    // With key-bound ids the id is the trust anchor: the chain is checked only against a given ca.
    rejectUnauthorized: authenticateIds ? ca !== undefined : (tls.rejectUnauthorized ?? true),
  };
}

/** The TCP socket under a socket (a TLS socket's parent, else itself). */
function rawOf(socket: Duplex): Duplex {
  const parent = (socket as { _parent?: unknown })._parent;
  return parent instanceof Socket ? parent : socket;
}

/** The peer's `"host:port"` of a socket (`"?"` once it is gone). */
function addressOf(socket: Duplex): string {
  const { remoteAddress, remotePort } = socket as { remoteAddress?: string; remotePort?: number };
  return remoteAddress !== undefined && remotePort !== undefined ? formatAddress(remoteAddress, remotePort) : '?';
}

/** The path of a request URL, without its query. */
function pathOf(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  return path === '' ? '/' : path;
}

/** Answers an upgrade with an HTTP error and closes the socket. */
function respond(socket: Duplex, status: number): void {
  socket.on('error', ignore);
  socket.once('finish', () => socket.destroy());
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
