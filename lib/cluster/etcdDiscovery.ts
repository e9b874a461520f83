import { Observable, Subject } from 'rxjs';
import { DEFAULT_ETCD_TIMEOUT, DEFAULT_ETCD_TTL } from '../defaults.js';
import { NetError } from '../errors.js';
import type { DiscoveredMember, Discovery } from './Discovery.js';
import { EtcdSession, type ResolvedOptions } from './etcdSession.js';

/** Options of {@link etcdDiscovery}. */
export interface EtcdDiscoveryOptions {
  /** The etcd endpoints, with their scheme, as etcd3 takes them: `'http://10.0.0.5:2379'`, or a list. */
  readonly hosts: string | readonly string[];
  /**
   * The key prefix the cluster's nodes register under, e.g. `'/msgpacknet/workers/'`:
   * every key under it is read as a member (end it with `/`, so that
   * `'/a'` does not also read `'/ab...'`).
   */
  readonly prefix: string;
  /**
   * Seconds the registration outlives its node: the lease's TTL, kept alive
   * while the node runs. A node that dies without `close()` leaves the
   * others' lists about this long after. etcd raises a TTL below its own
   * minimum (2 s with its default heartbeat and election timeout).
   * @default 10
   */
  readonly ttl?: number;
  /**
   * ms each request to etcd may take (registering, listing, revoking), and
   * the longest {@link EtcdDiscovery.close} waits for a revoke.
   * @default 5000
   */
  readonly timeout?: number;
  /** etcd password authentication. @default none */
  readonly auth?: {
    /** The etcd user. */
    readonly username: string;
    /** Its password. */
    readonly password: string;
  };
  /** TLS to etcd (`https://` hosts). @default none: plain HTTP/2 */
  readonly credentials?: {
    /** The CA certificate (PEM) that signs etcd's certificate. */
    readonly rootCertificate: Buffer;
    /** This client's private key (PEM), when etcd asks for a client certificate. */
    readonly privateKey?: Buffer;
    /** This client's certificate chain (PEM), with `privateKey`. */
    readonly certChain?: Buffer;
  };
}

/** A {@link Discovery} backed by etcd (see {@link etcdDiscovery}). */
export interface EtcdDiscovery<N> extends Discovery<N> {
  /** etcd lists node ids: a cluster on it connects on demand by default. */
  readonly knowsIds: true;
  /**
   * `DISCOVERY_ERROR`s that do not stop the source: a key under the prefix
   * dropped (not JSON, the wrong shape, too large, one too many), and a
   * registration that could not be revoked (it stays until its `ttl` ends).
   * Hot: each is reported once, to the subscribers of the moment.
   */
  readonly errors$: Observable<NetError>;
  /** Resolves once every registration this source made is revoked, or the revoke failed or took longer than `timeout`. */
  close(): Promise<void>;
}

const MAX_TTL = 1_000_000;

/**
 * The members registered in etcd under a prefix. On subscribe this node
 * registers: the key `prefix` + `encodeURIComponent(JSON.stringify(nodeId))`
 * with the value `{"nodeId":...,"addresses":[...]}` (its advertised
 * addresses), under a lease of `ttl` seconds kept alive while it runs (a
 * node that advertises no address does not register: it only reads). Then
 * it lists the prefix and watches it from that revision, and emits the
 * whole member list (this node included, sorted by key) on every change:
 * a join or a leave is seen as soon as etcd tells the watch. Unsubscribing
 * revokes the lease (others see the node leave at once) and closes the
 * client; {@link EtcdDiscovery.close} waits for that. A node that dies
 * without it leaves when its lease expires, `ttl` seconds later. A node
 * whose key is deleted or overwritten with garbage puts it back; one whose
 * key another node with its id takes reports that on `errors$`.
 *
 * Node ids are stored as JSON, so they must survive it (strings, numbers,
 * arrays and objects of them); another id fails the source with
 * `DISCOVERY_ERROR`. A key under the prefix whose value is not a member
 * (not JSON, not `{ nodeId, addresses }`, longer than 64 KiB) is dropped
 * and reported on {@link EtcdDiscovery.errors$}; so is every key past the
 * 10,000th. A listing larger than 4 MiB fails (gRPC's limit). Anyone who
 * can write to the prefix can forge or delete members: protect it with
 * etcd's auth; the bounds only keep such a writer from exhausting memory.
 *
 * When etcd cannot be reached (the watch breaks, a request fails or times
 * out, the lease is lost), the Observable errors with `DISCOVERY_ERROR`:
 * a cluster reports it on its `errors$`, keeps the last list, and
 * subscribes again after `refreshInterval`, which registers anew (with a
 * new lease) once etcd answers. Uses the `etcd3` package, an optional peer
 * dependency loaded on first use (`npm install etcd3`): without it the
 * source fails with `DISCOVERY_ERROR` saying so. Node.js only.
 *
 * @throws TypeError when `hosts` is empty, `prefix` is empty, `ttl` is not
 *   an integer in 1..1000000, or `timeout` is not a positive integer.
 *
 * @example
 * ```ts
 * import { Cluster, Node, etcdDiscovery } from 'msgpacknet';
 * const node = new Node({ nodeId: 'worker-7' });
 * await node.listen('127.0.0.1:0');
 * const discovery = etcdDiscovery({ hosts: 'http://127.0.0.1:2379', prefix: '/msgpacknet/workers/', ttl: 10 });
 * const cluster = new Cluster(node, { discovery }); // registers worker-7, watches the others
 * cluster.errors$.subscribe((error) => console.log(error.message)); // etcd unreachable, garbage under the prefix, ...
 * // await cluster.send('worker-3', { job: 1 }); // connects to worker-3 first
 * await cluster.close(); // resolves once the registration is revoked (node.close() closes it too, without waiting)
 * await node.close();
 * ```
 */
export function etcdDiscovery<N = unknown>(options: EtcdDiscoveryOptions): EtcdDiscovery<N> {
  const resolved = resolveOptions(options);
  const errors = new Subject<NetError>();
  const stopping = new Set<Promise<void>>();
  return {
    knowsIds: true,
    errors$: errors.asObservable(),
    members: (context) =>
      new Observable<readonly DiscoveredMember<N>[]>((subscriber) => {
        const session = new EtcdSession<N>(resolved, context, subscriber, (error) => errors.next(error));
        void session.start();
        return () => {
          const stopped = session.stop();
          stopping.add(stopped);
          void stopped.finally(() => stopping.delete(stopped));
        };
      }),
    close: async () => {
      await Promise.all([...stopping]);
    },
  };
}

/** The options checked, with their defaults, in a new frozen object. */
function resolveOptions(options: EtcdDiscoveryOptions): ResolvedOptions {
  const given = options as Partial<EtcdDiscoveryOptions> | null | undefined;
  if (typeof given !== 'object' || given === null) throw new TypeError('etcdDiscovery needs options: { hosts, prefix, ttl? }');
  const hosts: unknown[] = Array.isArray(given.hosts) ? [...(given.hosts as unknown[])] : [given.hosts];
  if (hosts.length === 0 || !hosts.every((host) => typeof host === 'string' && host !== '')) {
    throw new TypeError(`etcdDiscovery needs hosts (e.g. 'http://127.0.0.1:2379'), got ${String(given.hosts)}`);
  }
  if (typeof given.prefix !== 'string' || given.prefix === '') {
    throw new TypeError(`etcdDiscovery needs a key prefix (e.g. '/msgpacknet/workers/'), got ${String(given.prefix)}`);
  }
  const ttl = given.ttl ?? DEFAULT_ETCD_TTL;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) {
    throw new TypeError(`etcdDiscovery: ttl must be an integer number of seconds in 1..${MAX_TTL}, got ${String(ttl)}`);
  }
  const timeout = given.timeout ?? DEFAULT_ETCD_TIMEOUT;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 2 ** 31 - 1) {
    throw new TypeError(`etcdDiscovery: timeout must be a positive integer (ms), got ${String(timeout)}`);
  }
  return Object.freeze({
    hosts: hosts as string[],
    prefix: given.prefix,
    ttl,
    timeout,
    auth: given.auth,
    credentials: given.credentials,
  });
}
