import { Observable, Subject, type Subscriber } from 'rxjs';
import { DEFAULT_ETCD_TIMEOUT, DEFAULT_ETCD_TTL } from '../defaults.js';
import { NetError } from '../errors.js';
import type { DiscoveredMember, Discovery, DiscoveryContext } from './Discovery.js';
import { loadEtcd3, type Etcd3Module } from './etcd3Module.js';
import { ETCD_MAX_MEMBERS, quoteKey, readMember, registration } from './etcdMembers.js';

type Etcd3 = InstanceType<Etcd3Module['Etcd3']>;
type Lease = ReturnType<Etcd3['lease']>;
type Watcher = ReturnType<ReturnType<Etcd3['watch']>['watcher']>;
type KeyValue = Awaited<ReturnType<ReturnType<Etcd3['getAll']>['exec']>>['kvs'][number];

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
  readonly auth?: { readonly username: string; readonly password: string };
  /** TLS to etcd (`https://` hosts): the CA that signs etcd's certificate, and a client certificate when etcd asks for one. @default none */
  readonly credentials?: { readonly rootCertificate: Buffer; readonly privateKey?: Buffer; readonly certChain?: Buffer };
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

/** The largest response read from etcd (bytes): gRPC refuses a longer one, and the listing fails with `DISCOVERY_ERROR`. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
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
 * without it leaves when its lease expires, `ttl` seconds later.
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
 * cluster.errors$.subscribe((error) => console.log(error.message)); // etcd unreachable, ...
 * discovery.errors$.subscribe((error) => console.log(error.message)); // garbage under the prefix
 * // await cluster.send('worker-3', { job: 1 }); // connects to worker-3 first
 * await node.close(); // closes the cluster: the registration is revoked
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
        const session = new Session<N>(resolved, context, subscriber, (error) => errors.next(error));
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

interface ResolvedOptions {
  readonly hosts: string[];
  readonly prefix: string;
  readonly ttl: number;
  readonly timeout: number;
  readonly auth: EtcdDiscoveryOptions['auth'];
  readonly credentials: EtcdDiscoveryOptions['credentials'];
}

/** One subscription: a client, this node's lease, the watch of the prefix. */
class Session<N> {
  private client: Etcd3 | undefined;
  private lease: Lease | undefined;
  private watcher: Watcher | undefined;
  private stopped = false;
  private readonly members = new Map<string, DiscoveredMember<N>>();
  private last: string | undefined;
  private step = 'loading etcd3';

  constructor(
    private readonly options: ResolvedOptions,
    private readonly context: DiscoveryContext<N>,
    private readonly subscriber: Subscriber<readonly DiscoveredMember<N>[]>,
    private readonly report: (error: NetError) => void,
  ) {}

  async start(): Promise<void> {
    const { prefix, ttl, timeout } = this.options;
    try {
      const own = this.context.addresses.length === 0 ? undefined : registration(prefix, this.context.nodeId, this.context.addresses);
      if (own && 'problem' in own) throw new Error(own.problem);
      const { Etcd3 } = await loadEtcd3();
      if (this.isStopped()) return;
      const client = (this.client = new Etcd3({
        hosts: this.options.hosts,
        ...(this.options.auth ? { auth: { ...this.options.auth } } : {}),
        ...(this.options.credentials ? { credentials: { ...this.options.credentials } } : {}),
        dialTimeout: timeout,
        defaultCallOptions: (call) => (call.isStream ? {} : { deadline: Date.now() + timeout }),
        grpcOptions: { 'grpc.max_receive_message_length': MAX_RESPONSE_BYTES },
      }));
      if (own) {
        this.step = 'registering this node';
        const lease = (this.lease = client.lease(ttl));
        lease.on('lost', (error) => this.fail('the lease of this node was lost', error));
        await lease.put(own.key).value(own.value);
        if (this.isStopped()) return;
      }
      this.step = 'listing the members';
      const listing = await client.getAll().prefix(prefix).limit(ETCD_MAX_MEMBERS).exec();
      if (this.isStopped()) return;
      for (const kv of listing.kvs) this.read(kv);
      if (listing.more) this.drop(`more than ${ETCD_MAX_MEMBERS} keys under the prefix: the first ${ETCD_MAX_MEMBERS} are read`);
      this.emit();
      this.step = 'watching the prefix';
      const watcher = (this.watcher = client
        .watch()
        .prefix(prefix)
        .startRevision(String(BigInt(listing.header.revision) + 1n))
        .watcher());
      watcher.on('data', (response) => {
        if (this.isStopped()) return;
        for (const event of response.events) {
          if (event.type === 'Delete') this.members.delete(event.kv.key.toString('utf8'));
          else this.read(event.kv);
        }
        this.emit();
      });
      watcher.on('disconnected', (error) => this.fail('the watch of the prefix broke', error));
      watcher.on('error', (error) => this.fail('etcd ended the watch of the prefix', error));
    } catch (error) {
      this.fail(`${this.step} failed`, error);
    }
  }

  /** Whether `stop()` was called (a method: an `await` may have changed it). */
  private isStopped(): boolean {
    return this.stopped;
  }

  /** Revokes the lease (bounded by `timeout`), stops the watch and closes the client. */
  async stop(): Promise<void> {
    if (this.isStopped()) return;
    this.stopped = true;
    const { client, lease, watcher } = this;
    if (!client) return;
    const { timeout } = this.options;
    const revoked = lease?.revoke({ deadline: Date.now() + timeout }).then(
      () => undefined,
      (error: unknown) => error,
    );
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeout)));
    const outcome = await Promise.race([
      Promise.all([revoked, watcher?.cancel().catch(() => undefined)]).then(([error]) => error),
      expired,
    ]);
    clearTimeout(timer);
    client.close();
    if (outcome !== undefined) {
      const why = outcome === 'timeout' ? `no answer within ${timeout} ms` : detail(outcome);
      this.report(
        new NetError(
          'DISCOVERY_ERROR',
          `etcdDiscovery could not revoke the registration of this node (it stays until its ttl ends): ${why}`,
          {
            ...(outcome === 'timeout' ? {} : { cause: outcome }),
          },
        ),
      );
    }
  }

  /** A key put under the prefix: a member, or dropped and reported. */
  private read(kv: KeyValue): void {
    const key = kv.key.toString('utf8');
    const member = readMember<N>(kv.key, kv.value);
    if (typeof member === 'string') {
      this.members.delete(key);
      this.drop(`dropped the key ${quoteKey(kv.key)}: ${member}`);
    } else if (!this.members.has(key) && this.members.size >= ETCD_MAX_MEMBERS) {
      this.drop(`dropped the key ${quoteKey(kv.key)}: ${ETCD_MAX_MEMBERS} members are listed already`);
    } else {
      this.members.set(key, member);
    }
  }

  private drop(what: string): void {
    this.report(new NetError('DISCOVERY_ERROR', `etcdDiscovery under ${JSON.stringify(this.options.prefix)}: ${what}`));
  }

  /** The whole list, sorted by key, when it differs from the last one. */
  private emit(): void {
    const keys = [...this.members.keys()].sort();
    const signature = keys.map((key) => `${key}\n${this.members.get(key)!.addresses.join('\n')}`).join('\n\n');
    if (signature === this.last) return;
    this.last = signature;
    this.subscriber.next(keys.map((key) => this.members.get(key)!));
  }

  private fail(what: string, error: unknown): void {
    if (this.stopped || this.subscriber.closed) return;
    const hosts = this.options.hosts.join(', ');
    this.subscriber.error(new NetError('DISCOVERY_ERROR', `etcdDiscovery on ${hosts}: ${what}: ${detail(error)}`, { cause: error }));
  }
}

function detail(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
