import type { Observable } from 'rxjs';
import type { NetError } from '../errors.js';
import type { Endpoint } from './address.js';
import type { NodeTlsOptions } from '../options.js';
import type { PeerCertificate } from '../peerCertificate.js';

/**
 * What a connection needs from a byte pipe: the seam every transport (TCP,
 * TLS, the `ws` package's WebSocket, the browser's WebSocket) implements.
 * The node sees nothing else of the socket under it. Browser-safe (types only).
 */
export interface ByteStream {
  /** The peer's address, `"host:port"` (`"?"` when the transport cannot tell). */
  readonly remoteAddress: string;
  /**
   * The bytes received, in chunks; subscribe once. Completes on the peer's
   * orderly end of stream (FIN); errors with a `NetError`
   * (`CONNECTION_ABORTED` for a reset, else `CONNECTION_ERROR`).
   * Unsubscribing stops listening; the stream stays open.
   */
  readonly chunks$: Observable<Uint8Array>;
  /** Queues `bytes` after what is queued; a no-op once {@link writable} is false. */
  write(bytes: Uint8Array): void;
  /** Whether {@link write} still sends (false once ended or destroyed). */
  readonly writable: boolean;
  /** Bytes written and not yet handed to the operating system. */
  readonly queuedBytes: number;
  /**
   * Calls `callback` once, when the queue next drains (one waiter: a new
   * call replaces the previous one). Only asked for while bytes are queued,
   * so an idle stream holds no listener for it.
   */
  whenDrained(callback: () => void): void;
  /** Ends our side in order after what is queued (FIN); the peer's side is still read. */
  end(): void;
  /**
   * Closes both directions at once, dropping what is queued. With `abort`,
   * as an abortive close where the transport has one (a TCP reset: the peer
   * sees `CONNECTION_ABORTED`); without, the peer sees an end of stream.
   */
  destroy(abort?: boolean): void;
  /** Stops reading, so that backpressure reaches the peer. */
  pause(): void;
  /** Reads again. */
  resume(): void;
  /** Settles once both directions are closed: with the error met on the way (writing the last bytes), if any. Never rejects. */
  readonly closed: Promise<NetError | undefined>;
  /** The certificate the peer presented (TLS), if any. */
  readonly peerCertificate?: PeerCertificate;
  /**
   * When the underlying connection began (`performance.now()` ms), for a
   * stream handed over after a transport handshake (TLS): the node's
   * handshake deadline counts from then.
   */
  readonly openedAt?: number;
}

/**
 * The node's admission control, asked by a transport whose own handshake is
 * costly (TLS) from the TCP connect on, so that `maxPendingHandshakes` bounds
 * those too.
 */
export interface Admission {
  /** May a connection from `address` begin its transport handshake now? false: it is closed at once. */
  enter(address: string): boolean;
  /** Its transport handshake ended: done, failed or cut. */
  leave(): void;
  /** Its transport handshake failed (a bad certificate, not TLS, late): the node reports it on `failures$`. */
  fail?(error: NetError): void;
}

/** A bound listening socket of a transport. */
export interface Listener {
  /** The bound address, `"host:port"` with the actual port. */
  readonly address: string;
  /** Stops accepting; resolves once closed. Open streams are left to their owners. */
  close(): Promise<void>;
}

/** Opens streams to an endpoint, and listens for them. */
export interface Transport {
  /**
   * Opens a stream. Rejects with `CONNECTION_ERROR` (refused, unreachable,
   * a failed TLS or WebSocket handshake...), or with the signal's reason once
   * it is aborted (the node aborts at its handshake deadline).
   */
  connect(endpoint: Endpoint, signal: AbortSignal): Promise<ByteStream>;
  /** Binds a listener; rejects with `OPEN_ERROR`. Each accepted stream goes to `onStream`. */
  listen(endpoint: Endpoint, onStream: (stream: ByteStream) => void, admission?: Admission): Promise<Listener>;
}

export type { Endpoint };

/** What a node tells its platform's transports: its TLS settings and limits. */
export interface TransportSettings {
  /** The node's `tls` option. */
  readonly tls: NodeTlsOptions;
  /** Key-bound ids (only TLS-carrying transports then). */
  readonly authenticateIds: boolean;
  /** ms from the TCP connect to an accepted handshake: a listener cuts transport handshakes (TLS, HTTP upgrade) at it. */
  readonly handshakeTimeout: number;
  /** Largest encoded value a peer may send. (A WebSocket's `maxPayload` does not follow it: it is `WS_MAX_PAYLOAD`, 320 KiB, since values are split across messages.) */
  readonly maxValueBytes: number;
}

/**
 * What differs between Node.js and browsers, chosen at build time
 * (`lib/platform.ts` on Node.js, `lib/platform.browser.ts` in the browser build).
 */
export interface Platform {
  /** For messages: `'Node.js'` or `'browsers'`. */
  readonly name: string;
  /** The transports by URL scheme. */
  transports(settings: TransportSettings): Readonly<Record<string, Transport>>;
  /** Key-bound ids: the id bound to a certificate; absent where peers' certificates cannot be seen (browsers). */
  readonly certificateId?: (certificate: string | Uint8Array | PeerCertificate) => string;
}
