/**
 * WebSocket (`ws://host:port/path`, `wss://host:port/path`) on Node.js, with
 * the `ws` package (an optional peer dependency, loaded when such an address
 * is first used). The stream is the same as on TCP: the messages are one
 * continuous byte stream, a value may span them.
 *
 * - Writing: one binary message per write, split at {@link WS_MESSAGE_BYTES}
 *   (256 KiB), so that no peer needs a large `maxPayload` for our batches.
 * - Reading: `maxPayload` is {@link WS_MAX_PAYLOAD}, 256 KiB + 64 KiB,
 *   whatever `maxValueBytes` is: writers split at 256 KiB (a larger value
 *   spans messages), and `ws` gathers a whole message before we see it, so a
 *   larger bound would let each connection, pending ones too, hold that much
 *   before the decode limits apply. A larger message, a frame header
 *   claiming more, any protocol error and any text message end that
 *   connection with a `READ_ERROR`.
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
 *   alike), reported on `failures$`. A failed TLS handshake is reported with
 *   its reason on one line (a refused certificate: the check's verdict); with
 *   key-bound ids a client without a certificate is cut before its upgrade is
 *   answered, so that its `connect` rejects, as over `tls://`.
 * - Liveness: a listener pings each connection every {@link WS_PING_INTERVAL}
 *   (the peer's `ws` or browser answers by itself), which keeps proxies and
 *   NATs from dropping a quiet connection. Pings and pongs are not stream
 *   bytes: the node's `connectionTimeout` counts received messages only, so
 *   a one-way flow is kept open, as on TCP, by messages the other way (or a
 *   larger `connectionTimeout` on the side that only sends). A peer's pings
 *   are answered; one that pings faster than it reads the pongs is cut past
 *   {@link WS_MAX_PENDING_PONGS} unsent pongs, with a `READ_ERROR` whose
 *   `limit` is `'maxPendingPongs'`.
 */
import { createServer as httpServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as httpsServer } from 'node:https';
import { connect as netConnect, isIP, Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { NetError, deadlineError, errorText, noCertificate, refusedAfterTls, type NetErrorCode } from '../errors.js';
import { formatAddress, type Endpoint } from './address.js';
import { bind, resolveHost } from './tcp.js';
import { tlsOptions } from './tls.js';
import { tlsClientFailure } from './tlsErrors.js';
import type { Admission, Listener, Transport, TransportSettings } from './Transport.js';
import { addressOf, CLOSE_GRACE_MS, ignore, WS_ABORT_CODE, WS_MAX_PENDING_PONGS, WS_MESSAGE_BYTES, WsStream } from './wsStream.js';

export { WS_ABORT_CODE, WS_MAX_PENDING_PONGS, WS_MESSAGE_BYTES };

/** Room over `WS_MESSAGE_BYTES` in the `maxPayload` read (64 KiB): for a writer that splits its batches a little later than ours. */
export const WS_PAYLOAD_SLACK = 64 * 1024;
/** ms between the pings a listener sends on each connection. */
export const WS_PING_INTERVAL = 30_000;
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

/** The `maxPayload` a WebSocket reads with: `WS_MESSAGE_BYTES + WS_PAYLOAD_SLACK` (320 KiB). */
export const WS_MAX_PAYLOAD = WS_MESSAGE_BYTES + WS_PAYLOAD_SLACK;

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
  const maxPayload = WS_MAX_PAYLOAD;
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
      // The TLS handshake is done: a listener that hangs up now, before answering the upgrade, refused our certificate.
      let secured = false;
      secure?.once('secureConnect', () => (secured = true));
      return new Promise((resolve, reject) => {
        const fail = (error: Error & { code?: unknown }): void => {
          settle();
          ws?.terminate();
          raw.destroy();
          reject(
            secured && error.code === 'ECONNRESET'
              ? refusedAfterTls(url, settings.tls.cert !== undefined, error)
              : new NetError('CONNECTION_ERROR', `cannot connect to ${url}: ${errorText(error)}`, { cause: error, address: url }),
          );
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
          ws = new WebSocket(url, {
            perMessageDeflate: false,
            maxPayload,
            followRedirects: false,
            autoPong: false,
            createConnection: () => socket,
          });
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
      const upgrader = new WebSocketServer({
        noServer: true,
        clientTracking: false,
        perMessageDeflate: false,
        maxPayload,
        autoPong: false,
      });
      // Browsers (Chromium) abort a WebSocket TLS handshake that asks for a client certificate: a wss://
      // listener that admits clients without one (rejectUnauthorized false, no key-bound ids) does not ask.
      const requestCert = settings.authenticateIds || settings.tls.rejectUnauthorized !== false;
      const server = tls ? httpsServer({ ...tls, requestCert }) : httpServer();
      const gate = new UpgradeGate(settings.handshakeTimeout, admission);
      const pingInterval = settings.pingInterval ?? WS_PING_INTERVAL;
      server.on('connection', (raw: Socket) => gate.enter(raw));
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        const raw = rawOf(socket);
        // Always so on node:http(s); the check is for the types.
        if (!(socket instanceof Socket) || !(raw instanceof Socket)) return socket.destroy();
        if (pathOf(request.url) !== endpoint.path) {
          // The bound port (the URL may say 0).
          const served = urlOf({ ...endpoint, port: (server.address() as { port: number } | null)?.port ?? endpoint.port });
          gate.refuse(raw, `asked for ${pathOf(request.url)}; ${served} serves ${endpoint.path}`);
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
      // Not HTTP, a reset mid-request, a failed TLS handshake: that connection alone is cut, and why reported.
      const tlsFailed = (error: Error, socket: TLSSocket): void => {
        const raw = rawOf(socket);
        const address = addressOf(raw);
        gate.cut(raw, new NetError('CONNECTION_ERROR', `${address} ${tlsClientFailure(error, socket)}`, { address, cause: error }));
      };
      server.on('clientError', (error: Error & { library?: unknown }, socket: Duplex) => {
        // Under TLS 1.3 a failed client certificate shows only once the socket is HTTP's: a clientError.
        if (socket instanceof TLSSocket && (typeof error.library === 'string' || Boolean(socket.authorizationError as unknown)))
          tlsFailed(error, socket);
        else gate.cut(rawOf(socket), `sent no valid HTTP upgrade: ${errorText(error)}`);
      });
      server.on('tlsClientError', tlsFailed);
      if (settings.authenticateIds) {
        // Cut before the upgrade is answered, as a TLS-level refusal: the client's connect fails (as over tls://).
        server.on('secureConnection', (socket: TLSSocket) => {
          const raw = rawOf(socket);
          if (socket.getPeerX509Certificate() === undefined) gate.cut(raw, noCertificate(addressOf(raw)));
        });
      }
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
  /**
   * Closed while pending, not yet reported: node:tls tells why (a refused
   * certificate) only after the socket under it has closed.
   */
  private readonly closedEarly = new WeakSet<Duplex>();

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
    raw.once('close', () => {
      if (this.done(raw) !== undefined) this.closedEarly.add(raw);
    });
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

  /** Reports a refused upgrade (the caller answers it over HTTP): `why` after its address, or the error itself. */
  refuse(raw: Duplex, why: string | NetError): void {
    if (this.done(raw) === undefined && !this.closedEarly.delete(raw)) return;
    const address = addressOf(raw);
    this.admission?.fail?.(typeof why === 'string' ? new NetError('CONNECTION_ERROR', `${address} ${why}`, { address }) : why);
  }

  /** Cuts a connection that failed before its upgrade, and reports it. */
  cut(raw: Duplex, why: string | NetError): void {
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

/** The TCP socket under a socket (a TLS socket's parent, else itself). */
function rawOf(socket: Duplex): Duplex {
  const parent = (socket as { _parent?: unknown })._parent;
  return parent instanceof Socket ? parent : socket;
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
