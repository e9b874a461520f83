import { lookup } from 'node:dns/promises';
import { connect as netConnect, createServer, isIP, type Server, type Socket } from 'node:net';
import { Observable, type Subscriber } from 'rxjs';
import { NetError, streamError, type NetErrorCode } from '../errors.js';
import { formatAddress } from './address.js';
import type { X509Certificate } from 'node:crypto';
import type { ByteStream, Listener, Transport } from './Transport.js';

/**
 * How long (ms) a stream may read in a row before it lets the event loop
 * turn, once it has read at least {@link READ_SLICE_BYTES} since it last did.
 * Once the kernel's receive buffer has grown under a flood, libuv hands a
 * socket up to 32 reads of 64 KiB in one turn: 2 MiB of small messages,
 * measured at 50-70 ms during which every timer and every other connection
 * waits. After a slice the stream pauses and resumes on the next turn
 * (`setImmediate`: this is event-loop fairness, not a timer, so it is not on
 * the node's scheduler). The byte floor keeps light traffic from pausing.
 * 5 ms rather than 10: a turn under a flood is the slice plus what else the
 * turn holds (a scavenge, the rest of the chunk), and the target is a
 * 10 ms stall; the extra pause and resume cost no measurable throughput.
 */
export const READ_SLICE_MS = 5;
/** The bytes a stream reads in a row before {@link READ_SLICE_MS} applies. */
export const READ_SLICE_BYTES = 64 * 1024;

/**
 * The accept queue asked of the kernel (capped by net.core.somaxconn): with
 * the default, a burst of connects overflowed it here and clients waited 1 s
 * for a SYN retransmit.
 */
const LISTEN_BACKLOG = 4096;

/** Plain TCP (`"host:port"`, `tcp://host:port`): the Rust crate's transport. `tls.ts` and `ws.ts` dial through `node:net` too; the browser build imports none of them. */
export const tcpTransport: Transport = {
  async connect(endpoint, signal) {
    const host = await resolveHost(endpoint.host, 'CONNECTION_ERROR');
    return new TcpStream(await openSocket(host, endpoint.port, signal));
  },
  async listen(endpoint, onStream) {
    const host = await resolveHost(endpoint.host, 'OPEN_ERROR');
    return bind(
      createServer({ noDelay: true }, (socket) => onStream(new TcpStream(socket))),
      host,
      endpoint.port,
    );
  },
};

/** Where a socket's listeners find its stream. */
const STREAM = Symbol('msgpacknet.stream');
type SocketWithStream = Socket & { [STREAM]: TcpStream };

function onData(this: Socket, chunk: Buffer): void {
  (this as SocketWithStream)[STREAM].onData(chunk);
}
function onEnd(this: Socket): void {
  (this as SocketWithStream)[STREAM].onEnd();
}
function onError(this: Socket, error: Error): void {
  (this as SocketWithStream)[STREAM].onError(error);
}
function onClose(this: Socket): void {
  (this as SocketWithStream)[STREAM].onClose();
}

/** A `net.Socket` as a {@link ByteStream}, reading in slices (see {@link READ_SLICE_MS}). */
export class TcpStream implements ByteStream {
  readonly remoteAddress: string;
  readonly chunks$: Observable<Uint8Array>;
  peerCertificate?: X509Certificate;
  openedAt?: number;
  /** The one reader (one listener per socket event, whoever reads: lighter than a listener set each). */
  private reader: Subscriber<Uint8Array> | undefined;
  private failure: NetError | undefined;
  private ended = false;
  private whenClosed: Promise<NetError | undefined> | undefined;
  private drainWaiter: (() => void) | undefined;
  private onClosed: ((error: NetError | undefined) => void) | undefined;
  /** Paused by the owner; a slice's resume must not undo it. */
  private paused = false;
  private yielding: ReturnType<typeof setImmediate> | undefined;
  private sliceBytes = 0;
  /** When the current slice began (0: no slice yet; a stream that never reads keeps no timestamp). */
  private sliceStart = 0;

  constructor(
    private readonly socket: Socket,
    /** The TCP socket under a TLS one (reset by an abortive destroy). @default the socket itself */
    private readonly tcp: Socket = socket,
  ) {
    this.remoteAddress = remoteAddressOf(socket);
    socket.setNoDelay(true);
    // One shared function per event, finding the stream on the socket: no closures per stream.
    (socket as SocketWithStream)[STREAM] = this;
    socket.on('data', onData);
    socket.on('end', onEnd);
    // Always listened to: an error with nobody reading must never be an uncaught 'error' event.
    socket.on('error', onError);
    socket.on('close', onClose);
    this.chunks$ = new Observable<Uint8Array>((subscriber) => {
      this.reader = subscriber;
      return () => {
        if (this.reader === subscriber) this.reader = undefined;
      };
    });
  }

  /** @internal */
  onData(chunk: Buffer): void {
    this.slice(chunk.length);
    this.reader?.next(chunk);
  }

  /** @internal */
  onEnd(): void {
    this.reader?.complete();
  }

  /** @internal */
  onError(error: Error): void {
    this.failure ??= streamError(error, this.remoteAddress);
    this.reader?.error(this.failure);
  }

  /** @internal */
  onClose(): void {
    this.ended = true;
    this.onEnd();
    this.onClosed?.(this.failure);
  }

  get closed(): Promise<NetError | undefined> {
    // Made when first asked for (at close): most streams never need it before they end.
    return (this.whenClosed ??= this.ended
      ? Promise.resolve(this.failure)
      : new Promise((resolve) => {
          this.onClosed = resolve;
        }));
  }

  whenDrained(callback: () => void): void {
    const listening = this.drainWaiter !== undefined;
    this.drainWaiter = callback;
    if (listening) return;
    this.socket.once('drain', () => {
      const waiter = this.drainWaiter;
      this.drainWaiter = undefined;
      waiter?.();
    });
  }

  get writable(): boolean {
    return !this.socket.destroyed && !this.socket.writableEnded;
  }

  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  write(bytes: Uint8Array): void {
    if (this.writable) this.socket.write(bytes);
  }

  end(): void {
    this.socket.end();
  }

  destroy(abort = false): void {
    if (this.yielding !== undefined) clearImmediate(this.yielding);
    if (abort && !this.tcp.destroyed) {
      // The TCP socket alone: destroying a TLS socket first would send a clean close_notify.
      this.tcp.resetAndDestroy();
      return;
    }
    this.socket.destroy();
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.yielding === undefined) this.socket.resume();
  }

  private slice(length: number): void {
    if (this.sliceStart === 0) this.sliceStart = performance.now();
    if ((this.sliceBytes += length) < READ_SLICE_BYTES) return;
    const now = performance.now();
    if (now - this.sliceStart < READ_SLICE_MS || this.yielding !== undefined) return;
    this.socket.pause();
    this.yielding = setImmediate(() => {
      this.yielding = undefined;
      this.sliceBytes = 0;
      this.sliceStart = 0;
      if (!this.paused) this.socket.resume();
    });
  }
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
    const onError = (error: Error): void => subscriber.error(streamError(error, remoteAddressOf(socket)));
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onEnd);
    return () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
    };
  });
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

/** The peer's address of a connected socket, formatted (`"?"` when the socket is already gone). */
function remoteAddressOf(socket: Socket): string {
  return socket.remoteAddress !== undefined && socket.remotePort !== undefined
    ? formatAddress(socket.remoteAddress, socket.remotePort)
    : '?';
}

function serverAddress(server: Server): string {
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new NetError('OPEN_ERROR', 'the server has no TCP address');
  return formatAddress(bound.address, bound.port);
}

/** Binds `server` (TCP or TLS) to `host:port` (an IP literal); rejects with `OPEN_ERROR`. */
export function bind(server: Server, host: string, port: number): Promise<Listener> {
  const address = formatAddress(host, port);
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(new NetError('OPEN_ERROR', `cannot listen on ${address}: ${error.message}`, { cause: error, address }));
    };
    server.once('error', onError);
    server.listen({ host, port, ipv6Only: host.includes(':'), backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      // Accept errors (EMFILE...) must not crash the process; the listener stays up.
      server.on('error', () => undefined);
      resolve({ address: serverAddress(server), close: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}

function openSocket(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  const address = formatAddress(host, port);
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const socket = netConnect({ host, port, noDelay: true });
    const onAbort = (): void => {
      socket.destroy();
      reject(signal.reason as Error);
    };
    const onError = (error: Error): void => {
      signal.removeEventListener('abort', onAbort);
      reject(new NetError('CONNECTION_ERROR', `cannot connect to ${address}: ${error.message}`, { cause: error, address }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
