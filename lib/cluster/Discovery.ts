import { Observable, of } from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import type { NetError } from '../errors.js';

/** A node as a discovery source lists it: where to dial it, and its id when the source knows it. */
export interface DiscoveredMember<N> {
  /** Addresses to dial (`host:port`, `tls://`, `ws://`, ...): the first is dialled. */
  readonly addresses: readonly string[];
  /** Its node id, when the source knows it (etcd does; DNS and static lists do not). */
  readonly nodeId?: N;
}

/** What a {@link Cluster} tells its discovery source when it subscribes. */
export interface DiscoveryContext<N> {
  /** This node's id (a source that registers, as etcd's, registers it). */
  readonly nodeId: N;
  /** The addresses this node advertises (what other nodes should dial). */
  readonly addresses: readonly string[];
  /** ms between lookups, for sources that poll (DNS). */
  readonly refreshInterval: number;
  /** The scheduler of every timer the source runs (a `TestScheduler` in tests). */
  readonly scheduler: SchedulerLike;
}

/**
 * Where a {@link Cluster} learns the members: one method, so any source
 * plugs in (Consul, the Kubernetes API, a config file).
 *
 * `members(context)` returns an Observable of the whole member list, each
 * emission replacing the last (a member no longer listed has left). The
 * cluster subscribes once, when it is made, and unsubscribes on `close()`:
 * a source that registers this node does so on subscribe and deregisters
 * in the teardown. An error is reported on the cluster's `errors$` as
 * `DISCOVERY_ERROR` and the cluster subscribes again after
 * `refreshInterval`, keeping the last list meanwhile. Listing this node
 * itself is fine (it is recognised and never dialled); garbage entries are
 * dropped, each reported on `errors$`.
 *
 * @example A source that reads a JSON file every refresh
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { map, switchMap, timer } from 'rxjs';
 * import type { DiscoveredMember, Discovery } from 'msgpacknet';
 *
 * export const fileDiscovery = (path: string): Discovery<string> => ({
 *   knowsIds: true,
 *   members: ({ refreshInterval, scheduler }) =>
 *     timer(0, refreshInterval, scheduler).pipe(
 *       switchMap(() => readFile(path, 'utf8')),
 *       map((text) => JSON.parse(text) as DiscoveredMember<string>[]),
 *     ),
 * });
 * ```
 */
export interface Discovery<N> {
  /** The member lists, each emission the whole list. */
  members(context: DiscoveryContext<N>): Observable<readonly DiscoveredMember<N>[]>;
  /**
   * Whether the source lists node ids: then a cluster connects on demand
   * by default, else it keeps a link to every member (to learn their ids).
   * @default false
   */
  readonly knowsIds?: boolean;
  /** Resolves once what the last unsubscribe began is done (etcd: the lease revoked); `Cluster.close()` waits for it. */
  close?(): Promise<void>;
  /**
   * Problems the source saw without failing (an entry dropped as garbage, say):
   * a cluster passes them on on its `errors$` while it is open.
   */
  readonly errors$?: Observable<NetError>;
}

/**
 * A fixed list (seed nodes): addresses, or members with ids.
 *
 * @example
 * ```ts
 * import { Cluster, Node, staticDiscovery } from 'msgpacknet';
 * const node = Node.createDefault();
 * new Cluster(node, { discovery: staticDiscovery(['127.0.0.1:4000', { nodeId: 'db', addresses: ['127.0.0.1:4001'] }]) });
 * await node.close();
 * ```
 */
export function staticDiscovery<N = unknown>(members: readonly (string | DiscoveredMember<N>)[]): Discovery<N> {
  const list = members.map((member): DiscoveredMember<N> => (typeof member === 'string' ? { addresses: [member] } : member));
  return {
    knowsIds: list.length > 0 && list.every((member) => member.nodeId !== undefined),
    members: () => of(list),
  };
}
