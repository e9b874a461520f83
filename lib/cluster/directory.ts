import type { Subscription } from 'rxjs';
import { describeValue } from '../errors.js';
import { nodeIdKey } from '../nodeId.js';
import type { DiscoveredMember } from './Discovery.js';
import type { Member } from './Cluster.js';

/** Most members taken from one list; the rest are reported and dropped (a source cannot make the directory unbounded). */
export const MAX_MEMBERS = 10_000;
/** Most addresses kept per member, and the longest address. */
const MAX_ADDRESSES = 16;
const MAX_ADDRESS_LENGTH = 2048;

/** One member in the cluster's directory, and its link. */
export interface Entry<N> {
  /** Its id key when listed with an id, else `@` and its first address. */
  readonly key: string;
  /** The id the source listed. */
  nodeId?: N;
  /** The id it answered with, once a link connected. */
  learned?: N;
  addresses: readonly string[];
  /** This node itself (its id or one of its advertised addresses): never dialled. */
  self: boolean;
  link?: Subscription;
  linkState?: 'connecting' | 'connected' | 'disconnected';
  /** A link to it has connected or failed at least once (so its id is known or it is down). */
  tried: boolean;
}

/** The directory's operations: pure functions over the entries map (the Cluster owns the links). */
export const directory = {
  /** Validated members of a list from a source, and what was wrong with the rest. */
  parse<N>(list: unknown, max: number): { members: DiscoveredMember<N>[]; garbage: string[] } {
    if (!Array.isArray(list)) return { members: [], garbage: [`the source listed ${describeValue(list)}, not a list of members`] };
    const members: DiscoveredMember<N>[] = [];
    const garbage: string[] = [];
    if (list.length > max) garbage.push(`the source listed ${list.length} members: the first ${max} are kept`);
    for (const item of list.slice(0, max) as unknown[]) {
      const record = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : undefined;
      const addresses = record?.['addresses'];
      const valid =
        Array.isArray(addresses) &&
        addresses.length > 0 &&
        addresses.every((address) => typeof address === 'string' && address !== '' && address.length <= MAX_ADDRESS_LENGTH);
      if (!valid) {
        garbage.push(`a member must be { addresses: string[], nodeId? }, got ${describeValue(item)}`);
        continue;
      }
      const nodeId = record!['nodeId'] as N | undefined;
      if (nodeId !== undefined && nodeId !== null && idKey(nodeId) === undefined) {
        garbage.push(`a member's nodeId must be a MessagePack value, got ${describeValue(nodeId)}`);
        continue;
      }
      const kept = (addresses as string[]).slice(0, MAX_ADDRESSES);
      members.push(nodeId === undefined || nodeId === null ? { addresses: kept } : { addresses: kept, nodeId });
    }
    return { members, garbage };
  },

  /**
   * Replaces the directory's members with `members`: duplicates merged (by
   * id, and by address), this node marked, entries kept where their key
   * stays (a learned id, a link). Returns the entries gone and the new ones.
   */
  merge<N>(
    entries: Map<string, Entry<N>>,
    members: readonly DiscoveredMember<N>[],
    own: { readonly ownKey: string; readonly advertised: readonly string[] },
  ): { removed: Entry<N>[]; added: Entry<N>[] } {
    const next = new Map<string, { nodeId?: N; addresses: string[] }>();
    const byAddress = new Map<string, string>();
    for (const member of members) {
      const known = member.addresses.map((address) => byAddress.get(address)).find((key) => key !== undefined);
      // by address, a member merges only with one listed without an id (two ids at one address stay two)
      const anonymous = known?.startsWith('@') ? known : undefined;
      const key = member.nodeId !== undefined ? nodeIdKey(member.nodeId) : (known ?? `@${member.addresses[0]!}`);
      const merged = next.get(key) ?? (anonymous !== undefined ? next.get(anonymous) : undefined) ?? { addresses: [] };
      if (anonymous !== undefined && anonymous !== key) next.delete(anonymous);
      if (member.nodeId !== undefined) merged.nodeId = member.nodeId;
      for (const address of member.addresses) if (!merged.addresses.includes(address)) merged.addresses.push(address);
      next.set(key, merged);
      for (const address of merged.addresses)
        if (!byAddress.has(address) || byAddress.get(address) === anonymous) byAddress.set(address, key);
    }
    const removed: Entry<N>[] = [];
    const added: Entry<N>[] = [];
    for (const [key, entry] of entries) {
      if (!next.has(key)) {
        entries.delete(key);
        removed.push(entry);
      }
    }
    for (const [key, member] of next) {
      const self =
        key === own.ownKey || member.addresses.some((address) => own.advertised.includes(address)) || entries.get(key)?.self === true;
      const entry = entries.get(key);
      if (entry) {
        if (entry.addresses[0] !== member.addresses[0]) {
          // dialled elsewhere now: the old link goes, a new one comes
          removed.push({ ...entry });
          entry.link = undefined;
          entry.linkState = undefined;
          entry.tried = false;
          added.push(entry);
        }
        entry.addresses = member.addresses;
        entry.self = self;
        if (member.nodeId !== undefined) entry.nodeId = member.nodeId;
      } else {
        const created: Entry<N> = { key, addresses: member.addresses, self, tried: false };
        if (member.nodeId !== undefined) created.nodeId = member.nodeId;
        entries.set(key, created);
        added.push(created);
      }
    }
    return { removed, added };
  },

  /** The entry of the node whose id key is `key`: listed with it, or learned. */
  find<N>(entries: Map<string, Entry<N>>, key: string): Entry<N> | undefined {
    const listed = entries.get(key);
    if (listed) return listed;
    for (const entry of entries.values()) if (entry.learned !== undefined && nodeIdKey(entry.learned) === key) return entry;
    return undefined;
  },

  /** The id of an entry, listed or learned. */
  id<N>(entry: Entry<N>): N | undefined {
    return entry.nodeId ?? entry.learned;
  },

  /** An entry as `members$` shows it. */
  member<N>(entry: Entry<N>, isConnected: (id: N) => boolean): Member<N> {
    const id = entry.nodeId ?? entry.learned;
    const state = id !== undefined && isConnected(id) ? 'up' : entry.link && entry.linkState === 'connecting' ? 'connecting' : 'down';
    return id === undefined ? { addresses: entry.addresses, state } : { nodeId: id, addresses: entry.addresses, state };
  },
};

/** The directory key of a listed id, or undefined when it cannot be one (it does not encode). */
function idKey(id: unknown): string | undefined {
  try {
    return nodeIdKey(id);
  } catch {
    return undefined;
  }
}
