// What etcdDiscovery writes under its prefix and how it reads it back: one key per node, its value
// JSON `{ nodeId, addresses }`, every value read bounded and checked (anyone who can write to the
// prefix can put anything there).
import { describeValue } from '../errors.js';
import { nodeIdKey } from '../nodeId.js';
import type { DiscoveredMember } from './Discovery.js';

/** Most members kept from the prefix: further keys are dropped and reported. */
export const ETCD_MAX_MEMBERS = 10_000;
/** The longest value read (bytes): a longer one is dropped unparsed and reported. */
export const ETCD_MAX_VALUE_BYTES = 64 * 1024;
/** The longest key read (bytes, prefix included): a longer one is dropped and reported. */
export const ETCD_MAX_KEY_BYTES = 4 * 1024;
const MAX_ADDRESS_LENGTH = 2048;
/** How much of a dropped key a report quotes. */
const QUOTED = 200;

// JSON.stringify's real type: undefined for undefined, a function, a symbol.
const stringify: (value: unknown) => string | undefined = JSON.stringify;

/** This node's key and value, or why it cannot register. */
export function registration(
  prefix: string,
  nodeId: unknown,
  addresses: readonly string[],
): { readonly key: string; readonly value: string } | { readonly problem: string } {
  let json: string | undefined;
  let faithful: boolean;
  try {
    json = stringify(nodeId);
    faithful = json !== undefined && nodeIdKey(JSON.parse(json)) === nodeIdKey(nodeId);
  } catch {
    faithful = false;
  }
  if (!faithful || json === undefined) {
    return {
      problem: `etcdDiscovery stores node ids as JSON, and the node id ${describeValue(nodeId)} does not survive JSON: use a string, a number, or arrays and objects of them`,
    };
  }
  const key = `${prefix}${encodeURIComponent(json)}`;
  if (Buffer.byteLength(key) > ETCD_MAX_KEY_BYTES) {
    return { problem: `etcdDiscovery: the key of node ${describeValue(nodeId)} is longer than ${ETCD_MAX_KEY_BYTES} bytes` };
  }
  return { key, value: JSON.stringify({ nodeId, addresses }) };
}

/** The member a key lists, or what is wrong with it. */
export function readMember<N>(key: Buffer, value: Buffer): DiscoveredMember<N> | string {
  if (key.length > ETCD_MAX_KEY_BYTES) return `a key of ${key.length} bytes (more than ${ETCD_MAX_KEY_BYTES})`;
  if (value.length > ETCD_MAX_VALUE_BYTES) return `a value of ${value.length} bytes (more than ${ETCD_MAX_VALUE_BYTES})`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return `a value that is not JSON: ${quote(value.toString('utf8'))}`;
  }
  const record = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  const addresses = record?.['addresses'];
  const nodeId = record?.['nodeId'];
  if (
    record === undefined ||
    nodeId === undefined ||
    nodeId === null ||
    !Array.isArray(addresses) ||
    addresses.length === 0 ||
    !addresses.every((address) => typeof address === 'string' && address !== '' && address.length <= MAX_ADDRESS_LENGTH)
  ) {
    return `a value that is not { nodeId, addresses: string[] }: ${quote(value.toString('utf8'))}`;
  }
  return { nodeId: nodeId as N, addresses: addresses as string[] };
}

/** A key for a report: as text, cut short. */
export function quoteKey(key: Buffer): string {
  return quote(key.subarray(0, QUOTED * 4).toString('utf8'));
}

function quote(text: string): string {
  return JSON.stringify(text.length > QUOTED ? `${text.slice(0, QUOTED)}...` : text);
}
