import type { NetError } from './errors.js';
import type { ConnectionRequest } from './node/ConnectionRequest.js';

/**
 * Why a connection ended, in `disconnected` events:
 *
 * - `'closed'`: this node closed it (`close()`).
 * - `'remote-closed'`: the peer ended the stream in order (FIN).
 * - `'idle'`: nothing was received for `connectionTimeout` ms.
 * - `'error'`: it failed; `error` says how (`READ_ERROR` for a bad value,
 *   `CONNECTION_ABORTED` for a reset, `CONNECTION_ERROR` otherwise).
 * - `'replaced'`: another connection to the same node won (see the README's
 *   duplicate-connection rule); the node stays connected through the winner.
 * - `'slow-consumer'`: its write queue stayed over the high-water mark for
 *   `writeTimeout` ms.
 */
export type DisconnectReason = 'closed' | 'remote-closed' | 'idle' | 'error' | 'replaced' | 'slow-consumer';

/** A message from `from` (the node's own id for a message sent to itself). */
export interface MessageEvent<M, N> {
  /** Discriminant: `'message'`. */
  readonly type: 'message';
  /** The sender's node id. */
  readonly from: N;
  /** The message, decoded (and validated when `validateMessage` is set). */
  readonly message: M;
}

/** An incoming connection finished its handshake and waits for `accept()` or `reject()`. */
export interface ConnectionRequestEvent<M, N, I> {
  /** Discriminant: `'connectionRequest'`. */
  readonly type: 'connectionRequest';
  /** The request: the peer's id, init message and address, and `accept()`/`reject()`. */
  readonly request: ConnectionRequest<M, N, I>;
}

/** A connection was accepted and registered: `send(nodeId, ...)` works from now on. */
export interface ConnectedEvent<N> {
  /** Discriminant: `'connected'`. */
  readonly type: 'connected';
  /** The peer's node id. */
  readonly nodeId: N;
}

/** A registered connection ended. */
export interface DisconnectedEvent<N> {
  /** Discriminant: `'disconnected'`. */
  readonly type: 'disconnected';
  /** The peer's node id. */
  readonly nodeId: N;
  /** Why it ended; see {@link DisconnectReason}. */
  readonly reason: DisconnectReason;
  /** The failure behind it, for `'error'`, `'idle'` and `'slow-consumer'`. */
  readonly error?: NetError;
}

/** `close()` began; connections still work, so a subscriber may send final messages synchronously. */
export interface ClosingEvent {
  /** Discriminant: `'closing'`. */
  readonly type: 'closing';
}

/** `close()` finished: no connection, no listener; `events$` completes after this. */
export interface ClosedEvent {
  /** Discriminant: `'closed'`. */
  readonly type: 'closed';
}

/** Everything a node reports, discriminated by `type`. */
export type NodeEvent<M = unknown, N = unknown, I = unknown> =
  MessageEvent<M, N> | ConnectionRequestEvent<M, N, I> | ConnectedEvent<N> | DisconnectedEvent<N> | ClosingEvent | ClosedEvent;
