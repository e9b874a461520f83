import { duration } from '../options.js';
import {
  BehaviorSubject,
  Observable,
  Subject,
  NEVER,
  Subscription,
  asyncScheduler,
  defer,
  distinctUntilChanged,
  firstValueFrom,
  map,
  merge,
  of,
  retry,
  timer,
  type SchedulerLike,
} from 'rxjs';
import { NetError, describeValue } from '../errors.js';
import type { NodeEvent } from '../events.js';
import type { LinkEvent, LinkOptions } from '../node/link.js';
import { nodeIdKey } from '../nodeId.js';
import { DEFAULT_CLUSTER_REFRESH_INTERVAL } from '../defaults.js';
import { MAX_MEMBERS, directory, type Entry } from './directory.js';
import type { Discovery } from './Discovery.js';

/** What a {@link Cluster} needs of its node: `Node` has it all (Node.js and browser builds). */
export interface ClusterNode<M, N> {
  /** This node's id. */
  readonly nodeId: N;
  /** The default of the cluster's `timeout`. */
  readonly handshakeTimeout: number;
  /** The listen addresses: the default of `advertise`. */
  addresses(): string[];
  /** See `Node.isConnected`. */
  isConnected(id: N): boolean;
  /** See `Node.send`. */
  send(to: N, message: M): void;
  /** See `Node.link`. */
  link(address: string, options?: LinkOptions): Observable<LinkEvent<N>>;
  /** See `Node.intercept`. */
  intercept(interceptor: (event: NodeEvent<M, N>) => boolean): Subscription;
}

/** How a {@link Cluster} connects: a link to every member, or on the first send to an id. */
export type ClusterConnect = 'all' | 'on-demand';

/** Options of {@link Cluster}. */
export interface ClusterOptions<N> {
  /** Where the members are learned (see {@link Discovery}). */
  readonly discovery: Discovery<N>;
  /** The addresses other nodes should dial. @default the node's listen addresses, but none on `0.0.0.0` or `[::]` */
  readonly advertise?: readonly string[];
  /** ms between lookups of polling sources, and before a failed source is subscribed again. @default 5000 */
  readonly refreshInterval?: number;
  /** `'all'` (a full mesh) or `'on-demand'`. @default `'on-demand'` when the source knows ids, else `'all'` */
  readonly connect?: ClusterConnect;
  /** ms `send` and `whenReachable` wait for a connection. @default the node's `handshakeTimeout` */
  readonly timeout?: number;
  /** The backoff of the links to members (see `Node.link`). @default the link defaults */
  readonly link?: LinkOptions;
  /** The scheduler of the cluster's timers and its source's. @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

/** A member as the cluster sees it now. */
export interface Member<N> {
  /** Its id: listed by the source, or learned once connected; absent before that. */
  readonly nodeId?: N;
  /** Where it is dialled (the first address). */
  readonly addresses: readonly string[];
  /** `'up'`: connected (the node itself always); `'connecting'`: a link dials it; `'down'`: no connection. */
  readonly state: 'up' | 'connecting' | 'down';
}

/** Options of {@link Cluster.whenReachable}. */
export interface ReachOptions {
  /** ms to wait. @default the cluster's `timeout` */
  readonly timeout?: number;
  /** Aborting it stops the wait at once: the Promise rejects with its reason. */
  readonly signal?: AbortSignal;
}

/**
 * Reaches nodes by id alone: learns where they are from a {@link Discovery}
 * source, keeps links to them (`node.link`, so they heal with its backoff)
 * or makes them on the first send, and `send(to, message)` connects when
 * it must. `new Rpc(cluster)` calls the same way. One per node; it closes
 * with its node.
 *
 * @example
 * ```ts
 * import { Cluster, Node, staticDiscovery } from 'msgpacknet';
 * const node = Node.createDefault();
 * // a Kubernetes headless service instead: dnsDiscovery({ name: 'workers.default.svc.cluster.local', port: 4000 })
 * const cluster = new Cluster(node, { discovery: staticDiscovery(['127.0.0.1:4000', '127.0.0.1:4001']) });
 * cluster.members$.subscribe((members) => console.log(members.filter((m) => m.state === 'up').length, 'up'));
 * // await cluster.send('worker-7', { job: 1 }); // connects to worker-7 first, when it must
 * await node.close(); // closes the cluster too
 * ```
 */
export class Cluster<M = unknown, N = unknown> {
  /** The members known now (this node included), replayed to each subscriber, emitted again on every change. */
  readonly members$: Observable<readonly Member<N>[]>;
  /** `DISCOVERY_ERROR`s: the source failed (it is subscribed again after `refreshInterval`) or listed garbage, and what the source's own `errors$` reports. Hot. */
  readonly errors$: Observable<NetError>;
  private readonly members = new BehaviorSubject<readonly Member<N>[]>([]);
  private readonly errors = new Subject<NetError>();
  private readonly changes = new Subject<void>();
  private readonly entries: Map<string, Entry<N>>;
  private readonly ownKey: string;
  private readonly advertised: readonly string[];
  private readonly mode: ClusterConnect;
  private readonly timeoutMs: number;
  private readonly refreshInterval: number;
  private readonly scheduler: SchedulerLike;
  private readonly subscriptions = new Subscription();
  /** Lists received from the source so far. */
  private refreshes = 0;
  private closing: Promise<void> | undefined;

  constructor(
    /** The node this cluster sends through and links from. */
    readonly node: ClusterNode<M, N>,
    private readonly options: ClusterOptions<N>,
  ) {
    // (callers without types pass anything)
    const given = options as Partial<ClusterOptions<N>> | undefined;
    if (typeof given?.discovery?.members !== 'function') throw new TypeError('a Cluster needs a discovery source: { discovery }');
    this.refreshInterval = duration('refreshInterval', options.refreshInterval ?? DEFAULT_CLUSTER_REFRESH_INTERVAL, true);
    this.timeoutMs = duration('timeout', options.timeout ?? node.handshakeTimeout, true);
    const mode: unknown = options.connect ?? (options.discovery.knowsIds ? 'on-demand' : 'all');
    if (mode !== 'all' && mode !== 'on-demand') throw new TypeError(`connect must be 'all' or 'on-demand', got ${describeValue(mode)}`);
    this.mode = mode;
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.advertised = options.advertise ? [...options.advertise] : node.addresses().filter((address) => !isWildcard(address));
    if (!this.advertised.every((address) => typeof address === 'string' && address !== '')) {
      throw new TypeError('advertise must be a list of addresses');
    }
    this.ownKey = nodeIdKey(node.nodeId);
    this.entries = new Map();
    this.members$ = this.members.pipe(distinctUntilChanged((a, b) => signature(a) === signature(b)));
    this.errors$ = this.errors.asObservable();

    this.subscriptions.add(
      node.intercept((event) => {
        if (event.type === 'connected' || event.type === 'disconnected') this.changed();
        // A source whose deregistration fails rejects cluster.close(); here, on node.close(), nobody awaits it.
        else if (event.type === 'closed') this.close().catch(() => undefined);
        return false;
      }),
    );
    if (options.discovery.errors$) {
      this.subscriptions.add(
        options.discovery.errors$.subscribe({
          next: (error) => {
            if (!this.closing) this.errors.next(error);
          },
          // A source's errors$ that fails is one more thing to report, not a crash.
          error: (error: unknown) => this.report(error, "the discovery source's errors$ failed"),
        }),
      );
    }
    const context = { nodeId: node.nodeId, addresses: this.advertised, refreshInterval: this.refreshInterval, scheduler: this.scheduler };
    this.subscriptions.add(
      defer(() => options.discovery.members(context))
        .pipe(
          retry({
            delay: (error: unknown) => {
              this.report(error, 'the discovery source failed');
              return timer(this.refreshInterval, this.scheduler);
            },
          }),
        )
        .subscribe((list) => this.update(list)),
    );
    this.changed();
  }

  /**
   * Queues `message` for `to`, connecting first when there is no connection
   * and a member has that id. Rejects with `NOT_CONNECTED` when no member
   * has that id after one refresh, `TIMEOUT` after `timeout`, or as
   * `Node.send` throws.
   */
  async send(to: N, message: M): Promise<void> {
    if (nodeIdKey(to) !== this.ownKey && !this.node.isConnected(to)) await this.whenReachable(to);
    this.node.send(to, message);
  }

  /** Resolves when a connection to `to` is up, connecting on demand; rejects as {@link send} does. */
  whenReachable(to: N, options: ReachOptions = {}): Promise<void> {
    if (this.closing) return Promise.reject(new NetError('ALREADY_CLOSED', 'the cluster is closed'));
    const key = nodeIdKey(to);
    if (key === this.ownKey || this.node.isConnected(to)) return Promise.resolve();
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const ms = duration('timeout', options.timeout ?? this.timeoutMs, true);
    const since = this.refreshes;
    let waited = false;
    const verdict = (): 'up' | NetError | undefined => {
      if (this.closing) return new NetError('ALREADY_CLOSED', 'the cluster is closed');
      if (this.node.isConnected(to)) return 'up';
      const entry = directory.find(this.entries, key);
      if (entry) {
        if (!entry.link) this.startLink(entry);
        return undefined;
      }
      const refreshed = this.refreshes > since || (waited && this.refreshes > 0);
      const unknown = [...this.entries.values()].filter((candidate) => !candidate.self && directory.id(candidate) === undefined);
      for (const candidate of unknown) if (!candidate.link) this.startLink(candidate); // only a dial tells their ids
      if (refreshed && unknown.every((candidate) => candidate.tried)) {
        return new NetError('NOT_CONNECTED', `no member of the cluster is node ${describeValue(to)}`, { nodeId: to });
      }
      return undefined;
    };
    const timedOut = new NetError('TIMEOUT', `node ${describeValue(to)} not reachable within ${ms} ms`, { nodeId: to });
    const checks = merge(
      of(undefined),
      this.changes,
      timer(this.refreshInterval, this.scheduler).pipe(map(() => (waited = true))),
      ms === Number.POSITIVE_INFINITY ? NEVER : timer(ms, this.scheduler).pipe(map(() => timedOut)),
    ).pipe(map((tick) => (tick === timedOut ? timedOut : verdict())));
    return firstValueFrom(
      new Observable<void>((subscriber) => {
        const onAbort = (): void => subscriber.error(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        const subscription = checks.subscribe((outcome) => {
          if (outcome === 'up') subscriber.next();
          else if (outcome) subscriber.error(outcome);
        });
        return () => {
          signal?.removeEventListener('abort', onAbort);
          subscription.unsubscribe();
        };
      }),
    );
  }

  /** Stops lookups and links (closing their connections) and deregisters from the source. Also on `node.close()`. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.subscriptions.unsubscribe();
      for (const entry of this.entries.values()) entry.link?.unsubscribe();
      this.entries.clear();
      this.changed();
      this.changes.complete();
      this.members.complete();
      this.errors.complete();
      await this.options.discovery.close?.();
    })();
    return this.closing;
  }

  /** A list from the source: merged into the directory; members gone lose their links. */
  private update(list: unknown): void {
    if (this.closing) return;
    this.refreshes++;
    const { members, garbage } = directory.parse<N>(list, MAX_MEMBERS);
    for (const problem of garbage) this.report(undefined, problem);
    const { removed, added } = directory.merge(this.entries, members, { ownKey: this.ownKey, advertised: this.advertised });
    for (const entry of removed) entry.link?.unsubscribe();
    for (const entry of this.entries.values()) {
      if (entry.self && entry.link) {
        entry.link.unsubscribe(); // now known to be this node's own address
        entry.link = undefined;
      }
    }
    if (this.mode === 'all') for (const entry of added) if (!entry.self) this.startLink(entry);
    this.changed();
  }

  private startLink(entry: Entry<N>): void {
    if (entry.link) return;
    const address = entry.addresses[0]!;
    // Set before the link's first event, which it emits inside subscribe: that event's change runs
    // waiting sends' checks, which start the links of members that have none (this one must have one).
    entry.link = new Subscription();
    entry.link.add(
      this.node.link(address, this.options.link).subscribe({
        next: (event) => {
          entry.tried ||= event.state !== 'connecting';
          entry.linkState = event.state;
          if (event.state === 'connected') {
            entry.learned = event.nodeId;
            if (entry.nodeId !== undefined && nodeIdKey(entry.nodeId) !== nodeIdKey(event.nodeId)) {
              this.report(
                undefined,
                `${address} is listed as node ${describeValue(entry.nodeId)} but is node ${describeValue(event.nodeId)}: not linked`,
              );
              entry.learned = undefined;
              entry.link?.unsubscribe(); // closes that connection; relinked only when the source lists it again
            }
          } else if (event.state === 'disconnected' && event.error?.nodeId !== undefined && nodeIdKey(event.error.nodeId) === this.ownKey) {
            entry.self = true; // it was this node's own address: never dialled again
            entry.link?.unsubscribe();
          }
          this.changed();
        },
        error: (error: unknown) => {
          entry.tried = true;
          entry.linkState = 'disconnected';
          this.report(error, `the link to ${address} ended`);
          this.changed();
        },
      }),
    );
    if (entry.self) entry.link.unsubscribe();
  }

  private report(error: unknown, what: string): void {
    if (this.closing) return;
    const message = error instanceof Error ? `${what}: ${error.message}` : what;
    this.errors.next(new NetError('DISCOVERY_ERROR', message, error === undefined ? {} : { cause: error }));
  }

  private changed(): void {
    if (this.members.closed) return;
    const self: Member<N> = { nodeId: this.node.nodeId, addresses: this.advertised, state: 'up' };
    const others = [...this.entries.values()]
      .filter((entry) => !entry.self)
      .map((entry) => directory.member(entry, (id) => this.node.isConnected(id)));
    this.members.next([self, ...others]);
    this.changes.next();
  }
}

function isWildcard(address: string): boolean {
  return /(^|\/\/)(0\.0\.0\.0|\[::\])(:|$)/.test(address);
}

/** What members$ compares: a change in any member's id, addresses or state. */
function signature(members: readonly Member<unknown>[]): string {
  return members
    .map((member) => `${member.nodeId === undefined ? '' : nodeIdKey(member.nodeId)}|${member.state}|${member.addresses.join(',')}`)
    .join('\n');
}
