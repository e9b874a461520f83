/**
 * Every default of msgpacknet in one table. Options that are left out take
 * these values; the README lists them with what breaking each limit does.
 */

/** ms of silence (nothing received) after which a connection is closed, as the crate's read timeout. */
export const DEFAULT_CONNECTION_TIMEOUT = 60_000;
/** ms, half-life of the decayed byte rates in `stats()`. */
export const DEFAULT_STATS_HALF_LIFE = 60_000;
/** ms from TCP connect to an accepted (or rejected) handshake: an absolute deadline. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** Largest encoded size of one value, in bytes (4 MiB, as gRPC's default), both directions. */
export const DEFAULT_MAX_VALUE_BYTES = 4 * 1024 * 1024;
/** Largest encoded size of the handshake value `[init, id]`, in bytes (64 KiB). */
export const DEFAULT_MAX_HANDSHAKE_BYTES = 64 * 1024;
/** Most items in one MessagePack array. */
export const DEFAULT_MAX_ARRAY_LENGTH = 1_000_000;
/** Most entries (key-value pairs) in one MessagePack map. */
export const DEFAULT_MAX_MAP_LENGTH = 1_000_000;
/** Deepest nesting of arrays and maps (a scalar has depth 0, `[1]` depth 1). */
export const DEFAULT_MAX_DEPTH = 1000;
/** Most arrays, maps, binaries and extension values in one value: with the size limit, this bounds the heap one value costs. */
export const DEFAULT_MAX_OBJECTS = 262_144;
/** Most messages kept from a peer between its handshake and the accept decision. */
export const DEFAULT_MAX_PENDING_MESSAGES = 1024;
/** Most events kept for the next subscriber of `events$` while nobody listens; beyond it, reading pauses. */
export const DEFAULT_EVENT_BUFFER_SIZE = 10_000;
/** Most estimated heap bytes of the events kept for the next subscriber of `events$`; beyond it, reading pauses. */
export const DEFAULT_EVENT_BUFFER_BYTES = 128 * 1024 * 1024;
/** Most estimated heap bytes read from a peer between its handshake and the accept decision; beyond it, reading pauses until then. */
export const DEFAULT_MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** Bytes queued on one connection above which it reports itself not writable (backpressure). */
export const DEFAULT_WRITE_HIGH_WATER_MARK = 1024 * 1024;
/** Bytes queued on one connection above which `send` throws `SEND_ERROR` instead of queueing (64 MiB). */
export const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/** ms a connection may stay above its high-water mark without progress before it is closed as a slow consumer. */
export const DEFAULT_WRITE_TIMEOUT = 60_000;
/** ms `close()` waits for queued bytes to flush and the peer to see the end of stream before destroying sockets. */
export const DEFAULT_LINGER = 5_000;
/** Most incoming connections whose handshake or accept decision is outstanding at one time. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 1024;
/** Most connections (registered and pending) a node holds at one time. */
export const DEFAULT_MAX_CONNECTIONS = 65_536;
/** ms between a `Cluster`'s lookups, and before a failed discovery source is subscribed again. */
export const DEFAULT_CLUSTER_REFRESH_INTERVAL = 5000;
/** Seconds an `etcdDiscovery` registration outlives its node (its lease's TTL). */
export const DEFAULT_ETCD_TTL = 10;
/** ms each request of an `etcdDiscovery` to etcd may take, and the longest its `close()` waits for the revoke. */
export const DEFAULT_ETCD_TIMEOUT = 5000;
