import { constants } from 'node:crypto';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, createServer, type ConnectionOptions, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { NetError, deadlineError, errorText, noCertificate } from '../errors.js';
import type { NodeTlsOptions } from '../options.js';
import { formatAddress, type Endpoint } from './address.js';
import { bind, resolveHost, TcpStream } from './tcp.js';
import { tlsClientFailure } from './tlsErrors.js';
import type { Admission, ByteStream, Transport } from './Transport.js';

// Declared in lib/options.ts, which imports nothing from Node.js (the browser types reach it).
export type { NodeTlsOptions };

/** How the transport checks certificates, from the node's options. */
export interface TlsSettings {
  readonly tls: NodeTlsOptions;
  /** Key-bound ids: the chain is checked only when a `ca` is given (the node checks the id against the certificate). */
  readonly authenticateIds: boolean;
  /** ms a listener allows for the TLS handshake (the node's `handshakeTimeout`). */
  readonly handshakeTimeout: number;
}

/**
 * TLS over TCP (`tls://host:port`): TLS 1.3 preferred, 1.2 at least, no
 * renegotiation, carrying the same stream as TCP. The peer's certificate is
 * on the stream (`peerCertificate`). Any TLS failure on connect is a
 * `CONNECTION_ERROR`; a listener's TLS handshakes count against the node's
 * `maxPendingHandshakes` from the TCP connect, and are cut at its
 * `handshakeTimeout`. A listener reports a client it cut on `failures$`
 * with the reason: the certificate check's verdict (`CERT_HAS_EXPIRED`...)
 * or the TLS failure, on one line; with key-bound ids it cuts a client
 * without a certificate right after the TLS handshake, before writing a byte.
 */
export function tlsTransport(settings: TlsSettings): Transport {
  const { tls, authenticateIds } = settings;
  const common = tlsOptions(settings);
  return {
    async connect(endpoint, signal) {
      const host = await resolveHost(endpoint.host, 'CONNECTION_ERROR');
      const options: ConnectionOptions = {
        ...common,
        host,
        port: endpoint.port,
        ...(isIP(endpoint.host) === 0 ? { servername: endpoint.host } : {}),
        // Key-bound ids replace the name check: the handshake's id must match the certificate.
        ...(authenticateIds ? { checkServerIdentity: () => undefined } : {}),
      };
      // Our own TCP socket under the TLS one, so that an abortive destroy can reset it.
      const tcp = netConnect({ host, port: endpoint.port, noDelay: true });
      return secureStream(tlsConnect({ ...options, socket: tcp }), tcp, endpoint, signal);
    },
    async listen(endpoint, onStream, admission) {
      if (tls.key === undefined || tls.cert === undefined) {
        throw new NetError(
          'OPEN_ERROR',
          `cannot listen on tls://${formatAddress(endpoint.host, endpoint.port)}: the node has no tls key and cert`,
        );
      }
      const host = await resolveHost(endpoint.host, 'OPEN_ERROR');
      // Raw sockets still in their TLS handshake: when each began, and how to give its slot back.
      const handshaking = new Map<Socket, { at: number; leave: () => void }>();
      const done = (raw: Socket | undefined): { at: number } | undefined => {
        if (raw === undefined) return undefined;
        const entry = handshaking.get(raw);
        if (!entry) return undefined;
        handshaking.delete(raw);
        entry.leave();
        return entry;
      };
      const server = createServer({ ...common, requestCert: true, handshakeTimeout: settings.handshakeTimeout }, (socket) => {
        const raw = (socket as unknown as { _parent?: Socket })._parent;
        const entry = done(raw);
        if (authenticateIds && socket.getPeerX509Certificate() === undefined) {
          // Cut before a byte of ours (our handshake names us), as a TLS-level refusal: the client's connect fails.
          const address = raw?.remoteAddress === undefined ? '?' : formatAddress(raw.remoteAddress, raw.remotePort ?? 0);
          socket.destroy();
          raw?.destroy();
          admission?.fail?.(noCertificate(address));
          return;
        }
        const stream = withCertificate(new TcpStream(socket, raw), socket);
        if (entry) stream.openedAt = entry.at;
        onStream(stream);
      });
      server.on('connection', (raw: Socket) => {
        const leave = admit(raw, admission);
        if (raw.destroyed) return;
        handshaking.set(raw, { at: performance.now(), leave });
        raw.once('close', () => done(raw));
      });
      // A failed or late TLS handshake (node:tls leaves a timed-out socket open): cut it, and say why.
      server.on('tlsClientError', (error: Error & { code?: string }, socket: TLSSocket) => {
        const raw = (socket as unknown as { _parent?: Socket })._parent;
        const address = raw?.remoteAddress === undefined ? '?' : formatAddress(raw.remoteAddress, raw.remotePort ?? 0);
        socket.destroy();
        raw?.destroy();
        done(raw);
        admission?.fail?.(
          error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT'
            ? deadlineError(settings.handshakeTimeout, 'the TLS handshake did not finish', address)
            : new NetError('CONNECTION_ERROR', `${address} ${tlsClientFailure(error, socket)}`, { cause: error, address }),
        );
      });
      const listener = await bind(server, host, endpoint.port);
      return {
        address: listener.address,
        close: () => {
          // node:tls waits for sockets still in their handshake: they are cut, as close() never hangs.
          for (const raw of handshaking.keys()) raw.destroy();
          return listener.close();
        },
      };
    },
  };
}

/** Counts a raw connection against the node's limit until its TLS handshake ends; returns how to stop counting it. */
function admit(raw: Socket, admission: Admission | undefined): () => void {
  if (!admission) return () => undefined;
  if (!admission.enter(raw.remoteAddress === undefined ? '?' : formatAddress(raw.remoteAddress, raw.remotePort ?? 0))) {
    raw.destroy();
    return () => undefined;
  }
  let counted = true;
  const leave = (): void => {
    if (!counted) return;
    counted = false;
    admission.leave();
  };
  raw.once('close', leave);
  return leave;
}

function withCertificate(stream: TcpStream, socket: TLSSocket): TcpStream {
  const certificate = socket.getPeerX509Certificate();
  if (certificate !== undefined) stream.peerCertificate = certificate;
  return stream;
}

function secureStream(socket: TLSSocket, tcp: Socket, endpoint: Endpoint, signal: AbortSignal): Promise<ByteStream> {
  const address = formatAddress(endpoint.host, endpoint.port);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      socket.destroy();
      tcp.destroy();
      reject(signal.reason as Error);
    };
    if (signal.aborted) return onAbort();
    const onError = (error: Error): void => {
      signal.removeEventListener('abort', onAbort);
      reject(new NetError('CONNECTION_ERROR', `cannot connect to tls://${address}: ${errorText(error)}`, { cause: error, address }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    // The TCP socket's own failures (refused, reset) must reach the caller and never be uncaught.
    tcp.on('error', () => undefined);
    tcp.once('error', onError);
    socket.once('secureConnect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      tcp.off('error', onError);
      resolve(withCertificate(new TcpStream(socket, tcp), socket));
    });
  });
}

/** node:tls options from the node's `tls` option (TLS 1.2 at least, no renegotiation), for every transport that carries TLS. */
export function tlsOptions(settings: Pick<TlsSettings, 'tls' | 'authenticateIds'>): SecureContextOptions & {
  minVersion: 'TLSv1.2';
  rejectUnauthorized: boolean;
} {
  const { tls, authenticateIds } = settings;
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

function pem(value: string | Uint8Array): string | Buffer {
  return typeof value === 'string' ? value : Buffer.from(value);
}
