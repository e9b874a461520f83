import type { NetError } from '../errors.js';
import type { PeerCertificate } from '../peerCertificate.js';

/** Type-level only: ties a request to its node's message type `M`. */
declare const messageType: unique symbol;

/**
 * An incoming connection whose peer has sent its handshake, waiting for a
 * decision. Take it from a `connectionRequest` event (or from
 * `node.connectRequest()` for an outgoing one) and call {@link accept} or
 * {@link reject}; one neither accepted nor rejected within the node's
 * `handshakeTimeout` (counted from the TCP connect) is rejected.
 *
 * Messages the peer sends before the decision are kept and delivered in
 * order after `connected`; on reject they are discarded. Until the decision
 * the node reads on, up to `maxPendingBytes` (estimated heap) or half of
 * `maxPendingMessages`, so a peer that resets is noticed at once; a FIN is a
 * half-close and keeps the request (accept() then delivers, followed by
 * `disconnected`, `'remote-closed'`).
 *
 * @example
 * ```ts
 * import { Node } from 'msgpacknet';
 * const node = Node.createDefault();
 * await node.listen('127.0.0.1:0');
 * node.events$.subscribe((event) => {
 *   if (event.type === 'connectionRequest') {
 *     if (event.request.initMessage === 'let me in') event.request.accept();
 *     else event.request.reject();
 *   }
 * });
 * await node.close();
 * ```
 */
export class ConnectionRequest<M = unknown, N = unknown, I = unknown> {
  /** Never present at run time; carries `M` for type inference. */
  declare readonly [messageType]?: M;

  /** @internal Made by the node when a peer's handshake arrives. */
  constructor(
    private readonly connection: {
      readonly isPending: boolean;
      readonly failure?: NetError | undefined;
      accept(): boolean;
      reject(): boolean;
    },
    /** The peer's node id, from its handshake. */
    readonly nodeId: N,
    /** The peer's init message, from its handshake. */
    readonly initMessage: I,
    /** The peer's socket address, `"host:port"`. */
    readonly remoteAddress: string,
    /** The peer's certificate on a TLS connection (look at it before `accept()`), `undefined` otherwise. */
    readonly peerCertificate: PeerCertificate | undefined,
  ) {}

  /** Is the decision still open (not accepted, rejected, timed out, nor reset by the peer)? */
  get isPending(): boolean {
    return this.connection.isPending;
  }

  /** @internal The failure the connection ended with, if any (what `connect` rejects with when `accept()` came too late). */
  get failure(): NetError | undefined {
    return this.connection.failure;
  }

  /**
   * Registers the connection and emits `connected`; `send(nodeId, ...)`
   * works from then on (also in `connected` handlers). Returns false, and
   * does nothing, when the request is no longer pending (decided, timed out,
   * or the peer reset the connection) or the node is closing.
   */
  accept(): boolean {
    return this.connection.accept();
  }

  /** Closes the connection; emits nothing on this side. Returns false when the request is no longer pending. */
  reject(): boolean {
    return this.connection.reject();
  }
}
