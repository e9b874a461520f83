import { defer, distinctUntilChanged, exhaustMap, finalize, map, timer } from 'rxjs';
import type { Resolver } from 'node:dns/promises';
import { NetError } from '../errors.js';
import type { DiscoveredMember, Discovery } from './Discovery.js';

/** The record types {@link dnsDiscovery} looks up: `'A+AAAA'` looks up both and merges them. */
export type DnsRecordType = 'A' | 'AAAA' | 'A+AAAA' | 'SRV';

/** Options of {@link dnsDiscovery}. */
export interface DnsDiscoveryOptions {
  /** The DNS name to look up, e.g. a Kubernetes headless service (`workers.default.svc.cluster.local`). */
  readonly name: string;
  /**
   * The port of every member, for `A` and `AAAA` records (which carry only
   * addresses); `SRV` records carry their own ports, so it is refused with `'SRV'`.
   * @default none: then `type` defaults to `'SRV'`
   */
  readonly port?: number;
  /**
   * The records to look up: `'A'` (IPv4), `'AAAA'` (IPv6), `'A+AAAA'` (both,
   * merged) or `'SRV'` (targets with ports). `A` and `AAAA` need `port`.
   * @default `'A+AAAA'` when `port` is given, else `'SRV'`
   */
  readonly type?: DnsRecordType;
  /**
   * The DNS servers to ask, as `Resolver.setServers` takes them: `'10.0.0.2'`,
   * `'10.0.0.2:5353'`, `'fd00::2'`, `'[fd00::2]:5353'`.
   * @default the system's servers (`/etc/resolv.conf`)
   */
  readonly servers?: readonly string[];
  /**
   * ms to wait for a server's answer before the lookup gives up on it. Each
   * server is asked once, in turn (a lookup is one datagram per server: a
   * lost one fails that refresh, and a cluster tries again after
   * `refreshInterval`). c-ares treats it as a guide, not a deadline: it
   * adapts the wait per server from the latencies it measured, and short
   * waits come out longer (200 ms waited about 400 ms on Node.js 20).
   * @default 1000
   */
  readonly timeout?: number;
}

/** ms a lookup waits for each server's answer: the default of {@link DnsDiscoveryOptions.timeout}. */
const DEFAULT_DNS_TIMEOUT = 1000;
/** Attempts per server: one, so that `timeout` is about how long a silent server holds a lookup up. */
const DNS_TRIES = 1;
/** node:dns codes that mean "the name has no such records": an empty member list, not a failure. */
const NO_RECORDS = new Set(['ENOTFOUND', 'ENODATA']);
const TYPES: readonly DnsRecordType[] = ['A', 'AAAA', 'A+AAAA', 'SRV'];
// Not a literal, so that bundlers leave it alone: the browser build must not reach node: modules
// (scripts/build-browser.mjs); there the import fails and each lookup errors with DISCOVERY_ERROR.
const DNS_MODULE: string = 'node:dns/promises';

type DnsModule = typeof import('node:dns/promises');
let loaded: Promise<DnsModule> | undefined;

/** node:dns/promises, loaded once (tried again after a failure). */
function loadDns(): Promise<DnsModule> {
  return (loaded ??= (import(/* webpackIgnore: true */ /* @vite-ignore */ DNS_MODULE) as Promise<DnsModule>).catch((error: unknown) => {
    loaded = undefined;
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`dnsDiscovery needs node:dns (Node.js, Bun or Deno): ${detail}`, { cause: error });
  }));
}

/**
 * The members behind a DNS name, looked up with a `node:dns` `Resolver`
 * (on `servers` when given) on subscribe and then every
 * `refreshInterval` ms: a Kubernetes headless service (A/AAAA records and a
 * port), a Consul service (SRV records). A lookup never overlaps the next:
 * a slow one delays it.
 *
 * Each address is a member: `host:port` for A, `[host]:port` for AAAA,
 * `target:port` for SRV (the target as the record gives it, without its
 * trailing dot), without duplicates, in a stable order: SRV members by
 * priority, then by weight (heaviest first), then by name; the others
 * sorted. The source knows no node ids
 * (`knowsIds: false`: a cluster keeps a link to every member to learn
 * them). A list is emitted only when it differs from the last one. A name
 * that does not exist or has no such records (NXDOMAIN, no data) lists no
 * members; any other failure (a timeout, SERVFAIL, a refused query, an
 * answer that is not DNS) errors the Observable with `DISCOVERY_ERROR`
 * (the `cause` is node:dns's error), and a cluster subscribes again after
 * `refreshInterval`. Unsubscribing stops the lookups and cancels the one
 * in flight. Every lookup asks the servers (node:dns caches nothing). Node.js,
 * Bun and Deno only: in the browser build every lookup errors.
 *
 * @throws TypeError when `name` is empty, `port` is not in 1..65535, `type`
 *   is unknown (or `A`/`AAAA` without `port`, `SRV` with one), a server is
 *   not a string or names a port outside 1..65535, or `timeout` is not a
 *   positive integer.
 *
 * @example
 * ```ts
 * import { Cluster, Node, dnsDiscovery } from 'msgpacknet';
 * const node = Node.createDefault();
 * // A Kubernetes headless service: an A record per ready pod, each listening on port 4000
 * const discovery = dnsDiscovery({ name: 'workers.default.svc.cluster.local', port: 4000 });
 * const cluster = new Cluster(node, { discovery, advertise: ['10.0.1.7:4000'] });
 * cluster.members$.subscribe((members) => console.log(members.map((member) => member.addresses[0])));
 * cluster.errors$.subscribe((error) => console.log(error.code, error.message)); // DISCOVERY_ERROR: a lookup failed
 * await cluster.close(); // stops the lookups (here before the first one)
 * await node.close();
 * ```
 */
export function dnsDiscovery<N = unknown>(options: DnsDiscoveryOptions): Discovery<N> {
  const { name, port, type, servers, timeout } = resolveOptions(options);
  const where = servers === undefined ? "the system's DNS servers" : servers.join(', ');
  return {
    knowsIds: false,
    members: ({ refreshInterval, scheduler }) =>
      defer(() => {
        let resolver: Resolver | undefined;
        let stopped = false;
        const lookup = async (): Promise<string[]> => {
          try {
            const dns = await loadDns();
            if (stopped) return [];
            if (resolver === undefined) {
              resolver = new dns.Resolver({ timeout, tries: DNS_TRIES });
              if (servers !== undefined) resolver.setServers(servers);
            }
            return await lookUp(resolver, name, type, port);
          } catch (error) {
            const code = (error as { code?: unknown } | null)?.code;
            const detail = typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
            throw new NetError('DISCOVERY_ERROR', `the DNS lookup of the ${type} records of "${name}" on ${where} failed: ${detail}`, {
              cause: error,
            });
          }
        };
        return timer(0, refreshInterval, scheduler).pipe(
          exhaustMap(lookup),
          distinctUntilChanged((previous, next) => previous.join('\n') === next.join('\n')),
          map((addresses) => addresses.map((address): DiscoveredMember<N> => ({ addresses: [address] }))),
          finalize(() => {
            stopped = true;
            resolver?.cancel();
          }),
        );
      }),
  };
}

/** The addresses `name` has now (sorted, de-duplicated), `[]` when it has no such records. */
async function lookUp(resolver: Resolver, name: string, type: DnsRecordType, port: number | undefined): Promise<string[]> {
  if (type === 'SRV') {
    const records = await orNone(resolver.resolveSrv(name));
    // Ties in name order: servers rotate records, and the same list must give the same emission.
    records.sort((a, b) => a.priority - b.priority || b.weight - a.weight || compare(a.name, b.name) || a.port - b.port);
    const addresses = records
      .map((record) => ({ target: record.name.replace(/\.$/, ''), port: record.port }))
      // A target of "." means the service is decidedly not available there (RFC 2782).
      .filter((record) => record.target !== '')
      .map((record) => `${record.target.includes(':') ? `[${record.target}]` : record.target}:${record.port}`);
    return [...new Set(addresses)];
  }
  const [v4, v6] = await Promise.all([
    type === 'AAAA' ? [] : orNone(resolver.resolve4(name)),
    type === 'A' ? [] : orNone(resolver.resolve6(name)),
  ]);
  const addresses = [...v4.map((address) => `${address}:${port}`), ...v6.map((address) => `[${address}]:${port}`)];
  return [...new Set(addresses)].sort();
}

/** The records, or none when node:dns says the name or its records do not exist. */
async function orNone<T>(lookup: Promise<T[]>): Promise<T[]> {
  try {
    return await lookup;
  } catch (error) {
    if (NO_RECORDS.has(String((error as { code?: unknown } | null)?.code))) return [];
    throw error;
  }
}

interface ResolvedOptions {
  readonly name: string;
  readonly port: number | undefined;
  readonly type: DnsRecordType;
  readonly servers: readonly string[] | undefined;
  readonly timeout: number;
}

/** The options checked, with their defaults, in a new frozen object. */
function resolveOptions(options: DnsDiscoveryOptions): ResolvedOptions {
  const given = options as Partial<DnsDiscoveryOptions> | null | undefined;
  if (typeof given !== 'object' || given === null) throw new TypeError('dnsDiscovery needs options: { name, port?, type?, servers? }');
  const { name, port, servers } = given;
  if (typeof name !== 'string' || name.trim() === '') throw new TypeError(`dnsDiscovery needs a name to look up, got ${String(name)}`);
  if (port !== undefined && !isPort(port)) throw new TypeError(`dnsDiscovery: port must be an integer in 1..65535, got ${String(port)}`);
  const type: unknown = given.type ?? (port === undefined ? 'SRV' : 'A+AAAA');
  if (!TYPES.includes(type as DnsRecordType)) {
    throw new TypeError(`dnsDiscovery: type must be one of ${TYPES.join(', ')}, got ${String(type)}`);
  }
  if (type === 'SRV' && port !== undefined) throw new TypeError('dnsDiscovery: SRV records carry their own ports: give no port');
  if (type !== 'SRV' && port === undefined) throw new TypeError(`dnsDiscovery: ${String(type)} records carry no port: give one`);
  if (servers !== undefined) {
    if (!Array.isArray(servers) || servers.length === 0)
      throw new TypeError('dnsDiscovery: servers must be a non-empty array of addresses');
    for (const server of servers as readonly unknown[]) {
      if (typeof server !== 'string' || server === '')
        throw new TypeError(`dnsDiscovery: a server must be an address, got ${String(server)}`);
      // setServers takes "1.2.3.4:99999" and wraps the port (to 34463): refuse it here.
      const serverPort = /^(?:\[[^\]]*\]|[^:]*):(\d+)$/.exec(server)?.[1];
      if (serverPort !== undefined && !isPort(Number(serverPort))) {
        throw new TypeError(`dnsDiscovery: the server ${server} names a port outside 1..65535`);
      }
    }
  }
  const timeout = given.timeout ?? DEFAULT_DNS_TIMEOUT;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 2 ** 31 - 1) {
    throw new TypeError(`dnsDiscovery: timeout must be a positive integer (ms), got ${String(timeout)}`);
  }
  return Object.freeze({
    name,
    port,
    type: type as DnsRecordType,
    servers: servers === undefined ? undefined : Object.freeze([...(servers as readonly string[])]),
    timeout,
  });
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const isPort = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535;
