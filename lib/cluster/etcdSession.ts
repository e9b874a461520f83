// One subscription of an etcdDiscovery: its etcd client, this node's lease and registration, the watch
// of the prefix, and the member list they make.
import type { Subscriber } from 'rxjs';
import { NetError } from '../errors.js';
import type { DiscoveredMember, DiscoveryContext } from './Discovery.js';
import type { EtcdDiscoveryOptions } from './etcdDiscovery.js';
import { loadEtcd3, type Etcd3Module } from './etcd3Module.js';
import { ETCD_MAX_MEMBERS, quoteKey, readMember, registration } from './etcdMembers.js';

type Etcd3 = InstanceType<Etcd3Module['Etcd3']>;
type Lease = ReturnType<Etcd3['lease']>;
type Watcher = ReturnType<ReturnType<Etcd3['watch']>['watcher']>;
type KeyValue = Awaited<ReturnType<ReturnType<Etcd3['getAll']>['exec']>>['kvs'][number];

/** The largest response read from etcd (bytes): gRPC refuses a longer one, and the listing fails with `DISCOVERY_ERROR`. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** An etcdDiscovery's options, checked. */
export interface ResolvedOptions {
  readonly hosts: string[];
  readonly prefix: string;
  readonly ttl: number;
  readonly timeout: number;
  readonly auth: EtcdDiscoveryOptions['auth'];
  readonly credentials: EtcdDiscoveryOptions['credentials'];
}

/** One subscription: a client, this node's lease, the watch of the prefix. */
export class EtcdSession<N> {
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
        try {
          for (const event of response.events) {
            const key = event.kv.key.toString('utf8');
            if (event.type === 'Delete') this.members.delete(key);
            else this.read(event.kv);
            if (own && key === own.key) this.guard(own, event.type === 'Delete' ? undefined : event.kv.value);
          }
          this.emit();
        } catch (error) {
          this.fail('reading a change under the prefix failed', error); // (etcd3 would rethrow it out of band)
        }
      });
      watcher.on('disconnected', (error) => this.fail('the watch of the prefix broke', error));
      watcher.on('error', (error) => this.fail('etcd ended the watch of the prefix', error));
    } catch (error) {
      this.fail(`${this.step} failed`, error);
    }
  }

  /**
   * This node's key changed under it: deleted (`value` undefined) or
   * overwritten with garbage, it is put back; overwritten by a node with the
   * same id elsewhere, that is reported (two nodes must not share an id).
   */
  private guard(own: { readonly key: string; readonly value: string }, value: Buffer | undefined): void {
    if (value !== undefined && value.toString('utf8') === own.value) return;
    const member = value === undefined ? undefined : readMember<N>(Buffer.from(own.key), value);
    if (member === undefined || typeof member === 'string') {
      this.lease
        ?.put(own.key)
        .value(own.value)
        .exec()
        .catch((error: unknown) => this.fail('registering this node again failed', error));
    } else {
      this.drop(`another node registers the id of this node, at ${member.addresses.join(', ')}: two nodes share one id`);
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
