import { lookup } from 'node:dns/promises';
import { connect as netConnect, createServer, isIP, type Server, type Socket } from 'node:net';
import { Observable, type SchedulerLike } from 'rxjs';
import { NetError, type NetErrorCode } from '../errors.js';

/** An address: `"host:port"`, `"[v6]:port"`, or `{ host, port }`. Port 0 takes a free port. */
export type Address = string | { readonly host: string; readonly port: number };

/** A parsed {@link Address}. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses an {@link Address}; throws a `NetError` with `code` (`OPEN_ERROR`
 * for `listen`, `CONNECTION_ERROR` for `connect`) when it is malformed.
 */
export function parseAddress(address: Address, code: NetErrorCode): HostPort {
  let host: string;
  let port: number;
  if (typeof address === 'string') {
    const match = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:[\]]+):(\d+)$/.exec(address);
    if (!match) throw new NetError(code, `invalid address ${JSON.stringify(address)}: expected "host:port" or "[v6]:port"`, { address });
    host = match[1]!;
    port = Number(match[2]);
  } else if (typeof address === 'object' && (address as unknown) !== null && typeof address.host === 'string') {
    host = address.host.startsWith('[') && address.host.endsWith(']') ? address.host.slice(1, -1) : address.host;
    port = address.port;
  } else {
    throw new NetError(code, `invalid address ${describeValue(address)}: expected "host:port" or { host, port }`);
  }
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535) || host === '') {
    throw new NetError(code, `invalid address ${formatAddress(host, port)}: port must be 0-65535`, { address: formatAddress(host, port) });
  }
  return { host, port };
}

/** `"host:port"`, with IPv6 in brackets and IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as plain IPv4. */
export function formatAddress(host: string, port: number): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return `${mapped[1]}:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Resolves a host name to one IP literal (`localhost` -> `127.0.0.1` or `::1`). */
export async function resolveHost(host: string, code: NetErrorCode): Promise<string> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host)).address;
  } catch (error) {
    throw new NetError(code, `cannot resolve host ${host}`, { cause: error, address: host });
  }
}

/** The address a server is bound to, formatted. */
export function serverAddress(server: Server): string {
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new NetError('OPEN_ERROR', 'the server has no TCP address');
  return formatAddress(bound.address, bound.port);
}

/** The peer's address of a connected socket, formatted (`"?"` when the socket is already gone). */
export function remoteAddressOf(socket: Socket): string {
  return socket.remoteAddress !== undefined && socket.remotePort !== undefined
    ? formatAddress(socket.remoteAddress, socket.remotePort)
    : '?';
}

/** Maps a socket error to its `NetError`: resets are `CONNECTION_ABORTED`, the rest `CONNECTION_ERROR`. */
export function socketError(error: unknown, address: string): NetError {
  if (error instanceof NetError) return error;
  const code = (error as { code?: unknown }).code;
  const aborted = code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED' || code === 'ETIMEDOUT';
  const detail = error instanceof Error ? error.message : String(error);
  return new NetError(aborted ? 'CONNECTION_ABORTED' : 'CONNECTION_ERROR', `connection to ${address} failed: ${detail}`, {
    cause: error,
    address,
  });
}

/**
 * A `net.Socket` as an Observable of the byte chunks it receives (Node only).
 *
 * Emits each `data` chunk; completes on the peer's orderly end of stream
 * (`end`) or when the socket closes without an error; errors with a
 * `NetError` (`CONNECTION_ABORTED` for a reset, else `CONNECTION_ERROR`).
 * Unsubscribing removes its listeners and leaves the socket to its owner.
 *
 * @example
 * ```ts
 * import { connect, createServer } from 'node:net';
 * import { fromSocket, decodeFrames } from 'msgpacknet';
 * // a server that writes two MessagePack values and ends
 * const server = createServer((peer) => peer.end(Uint8Array.of(0x92, 0x07, 0x01, 0x2a)));
 * server.listen(0, '127.0.0.1', () => {
 *   const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
 *   fromSocket(socket)
 *     .pipe(decodeFrames())
 *     .subscribe({ next: (value) => console.log(value), complete: () => server.close() }); // [ 7, 1 ], then 42
 * });
 * ```
 */
export function fromSocket(socket: Socket): Observable<Uint8Array> {
  return new Observable<Uint8Array>((subscriber) => {
    const onData = (chunk: Buffer | string): void => {
      subscriber.next(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    };
    const onEnd = (): void => subscriber.complete();
    const onError = (error: Error): void => subscriber.error(socketError(error, remoteAddressOf(socket)));
    const onClose = (): void => subscriber.complete();
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    return () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
  });
}

/**
 * The accept queue asked of the kernel (capped by net.core.somaxconn): with
 * the default, a burst of connects overflowed it here and clients waited 1 s
 * for a SYN retransmit.
 */
const LISTEN_BACKLOG = 4096;

/**
 * Binds a TCP server (Node only). Resolves once it listens; rejects with
 * `OPEN_ERROR` (port in use, address not available...).
 */
export function listenOn(target: HostPort, onConnection: (socket: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true }, onConnection);
    const onError = (error: Error): void => {
      reject(
        new NetError('OPEN_ERROR', `cannot listen on ${formatAddress(target.host, target.port)}: ${error.message}`, {
          cause: error,
          address: formatAddress(target.host, target.port),
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: target.host, port: target.port, ipv6Only: target.host.includes(':'), backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      // Accept errors (EMFILE...) must not crash the process; the listener stays up.
      server.on('error', () => undefined);
      resolve(server);
    });
  });
}

/**
 * Opens a TCP connection (Node only). Rejects with `CONNECTION_ERROR`
 * (refused, unreachable) or `TIMEOUT` after `timeout` ms.
 */
export function openSocket(target: HostPort, timeout: number, scheduler: SchedulerLike): Promise<Socket> {
  const address = formatAddress(target.host, target.port);
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: target.host, port: target.port, noDelay: true });
    const timer = scheduler.schedule(() => {
      socket.destroy();
      reject(
        new NetError('TIMEOUT', `connecting to ${address} took longer than ${timeout} ms`, {
          address,
          limit: 'handshakeTimeout',
          max: timeout,
        }),
      );
    }, timeout);
    const onError = (error: Error): void => {
      timer.unsubscribe();
      reject(new NetError('CONNECTION_ERROR', `cannot connect to ${address}: ${error.message}`, { cause: error, address }));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      timer.unsubscribe();
      socket.off('error', onError);
      // Until its connection listens, an error must not be an uncaught 'error' event.
      socket.on('error', ignore);
      resolve(socket);
    });
  });
}

/** A socket error listener that keeps an error from crashing the process; the real handling is elsewhere. */
export function ignore(): void {}

/** A short description of a value for an error message (JSON where possible). */
export function describeValue(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? `${item}n` : item)) as string | undefined;
    return text ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
