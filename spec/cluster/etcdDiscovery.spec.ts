// etcdDiscovery against a real etcd on loopback (Debian's etcd-server, started by spec/helpers/etcdServer.ts),
// real Nodes on loopback TCP, each spec under a prefix of its own. Set ETCD_TIMINGS=1 to print the
// measured times (join seen, close seen, kill seen).
import { spawn, type ChildProcess } from 'node:child_process';
import { asyncScheduler } from 'rxjs';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { Cluster, type Member } from '../../lib/cluster/Cluster.js';
import { etcdDiscovery, type EtcdDiscovery } from '../../lib/cluster/etcdDiscovery.js';
import { loadEtcd3 } from '../../lib/cluster/etcd3Module.js';
import { NetError } from '../../lib/errors.js';
import { EtcdServer, ETCD_BINARY, haveEtcd } from '../helpers/etcdServer.js';
import { client as clientNode, listening, until } from '../helpers/nodes.js';
import { rejection } from '../helpers/errors.js';

const REFRESH = 300;
const SPEC_TIMEOUT = 25_000;
const MEMBER_SCRIPT = fileURLToPath(new URL('../helpers/etcdMember.js', import.meta.url));

let prefixes = 0;
const freshPrefix = (): string => `/msgpacknet-spec/${process.pid}-${++prefixes}/`;
const timing = (what: string, ms: number): void => {
  if (process.env['ETCD_TIMINGS']) process.stdout.write(`\n[etcd timing] ${what}: ${ms.toFixed(0)} ms\n`);
};

/** A node on loopback in a cluster on etcdDiscovery, what its members$ and errors$ showed. */
interface Joined {
  readonly cluster: Cluster<unknown, string>;
  readonly discovery: EtcdDiscovery<string>;
  readonly members: () => readonly Member<string>[];
  readonly errors: NetError[];
  readonly dropped: NetError[];
  readonly log: Awaited<ReturnType<typeof listening>>['log'];
}

describe('etcdDiscovery', () => {
  let etcd: EtcdServer;
  let client: Etcd3;
  const clusters: Cluster<unknown, string>[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (!haveEtcd) throw new Error(`${ETCD_BINARY} is missing: install etcd-server (scripts/ensure-system.mjs does)`);
    etcd = await EtcdServer.start();
    client = new Etcd3({ hosts: etcd.url });
  }, 20_000);

  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await Promise.all(clusters.splice(0).map((cluster) => cluster.close()));
  });

  afterAll(async () => {
    client?.close();
    await etcd?.dispose();
  });

  async function join(id: string, prefix: string, ttl = 10): Promise<Joined> {
    const { node, log } = await listening({ id });
    const discovery = etcdDiscovery<string>({ hosts: etcd.url, prefix, ttl, timeout: 2000 });
    const cluster = new Cluster<unknown, string>(node, { discovery, refreshInterval: REFRESH });
    clusters.push(cluster);
    let members: readonly Member<string>[] = [];
    const errors: NetError[] = [];
    const dropped: NetError[] = [];
    cluster.members$.subscribe((list) => (members = list));
    cluster.errors$.subscribe((error) => errors.push(error));
    discovery.errors$.subscribe((error) => dropped.push(error));
    return { cluster, discovery, members: () => members, errors, dropped, log };
  }

  /** Resolves once `holds()` (polling etcd); rejects after 5 s. */
  async function eventually(holds: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = performance.now() + 5000;
    while (!(await holds())) {
      if (performance.now() > deadline) throw new Error(`not within 5000 ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Resolves once the keys under `prefix` are those of `nodeIds`. */
  const registered = (prefix: string, nodeIds: readonly unknown[]): Promise<void> => {
    const expected = nodeIds.map((id) => `${prefix}${encodeURIComponent(JSON.stringify(id))}`).sort();
    return eventually(
      async () => (await client.getAll().prefix(prefix).keys()).sort().join() === expected.join(),
      `${expected.join()} registered`,
    );
  };

  const ids = (joined: Joined): string[] =>
    joined
      .members()
      .map((member) => member.nodeId ?? '?')
      .sort();

  it(
    'nodes reach each other by id alone, connecting on demand; members$ shows each join',
    async () => {
      const prefix = freshPrefix();
      const a = await join('a', prefix);
      await registered(prefix, ['a']);
      const started = performance.now();
      const b = await join('b', prefix);
      await until(() => ids(a).join() === 'a,b', 5000, 'a sees b join');
      timing('a join seen by another node (from new Cluster)', performance.now() - started);
      const c = await join('c', prefix);
      await until(() => [a, b, c].every((joined) => ids(joined).join() === 'a,b,c'), 5000, 'everyone sees a, b, c');
      expect(a.members().find((member) => member.nodeId === 'c')?.state).toBe('down'); // on demand: no link yet

      await a.cluster.send('c', 'hello c');
      expect((await c.log.next('message')).message).toBe('hello c');
      await c.cluster.send('b', 'hello b');
      const received = await b.log.next('message');
      expect([received.from, received.message]).toEqual(['c', 'hello b']);
      expect([...a.errors, ...b.errors, ...c.errors, ...a.dropped]).toEqual([]);
    },
    SPEC_TIMEOUT,
  );

  it(
    "a node's close revokes its registration: the others see it leave at once, long before its ttl",
    async () => {
      const prefix = freshPrefix();
      const a = await join('a', prefix);
      const b = await join('b', prefix, 30);
      await until(() => ids(a).join() === 'a,b', 5000, 'a sees b');
      const started = performance.now();
      await b.cluster.close(); // resolves once the lease is revoked
      await until(() => ids(a).join() === 'a', 2000, 'a sees b leave');
      const seen = performance.now() - started;
      timing('a close seen as a leave (ttl 30 s)', seen);
      expect(seen).toBeLessThan(2000);
      expect((await client.getAll().prefix(prefix).keys()).sort()).toEqual([`${prefix}%22a%22`]);
      expect(b.errors).toEqual([]);
    },
    SPEC_TIMEOUT,
  );

  it(
    'a killed node (no close, no revoke) is reached by id while it runs, and leaves when its ttl ends',
    async () => {
      const prefix = freshPrefix();
      const ttl = 2; // etcd's minimum with its default timings
      const a = await join('a', prefix);
      const child = spawn(process.execPath, [MEMBER_SCRIPT, etcd.url, prefix, 'doomed', String(ttl)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      await until(() => ids(a).join() === 'a,doomed', 8000, `a sees the child join (its stderr: ${stderr})`);
      await a.cluster.send('doomed', 'echo me');
      const echo = await a.log.next('message');
      expect([echo.from, echo.message]).toEqual(['doomed', 'echo me']);

      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
      const killed = performance.now();
      await until(() => ids(a).join() === 'a', (ttl + 4) * 1000, 'a sees the killed node leave');
      const seen = performance.now() - killed;
      timing(`a killed node's leave seen (ttl ${ttl} s)`, seen);
      expect(seen).toBeGreaterThan(500); // not at once: only its lease's expiry tells
      expect(seen).toBeLessThan((ttl + 3) * 1000);
    },
    SPEC_TIMEOUT,
  );

  it(
    'garbage under the prefix is dropped and reported on errors$, the members are kept, nothing crashes',
    async () => {
      const prefix = freshPrefix();
      await client.put(`${prefix}early`).value('not json at all');
      const a = await join('a', prefix);
      const b = await join('b', prefix);
      await until(() => ids(a).join() === 'a,b', 5000, 'a sees b');
      await client.put(`${prefix}shape`).value(JSON.stringify({ nodeId: 'x', addresses: 'not a list' }));
      await client.put(`${prefix}noid`).value(JSON.stringify({ addresses: ['127.0.0.1:1'] }));
      await client.put(`${prefix}huge`).value('x'.repeat(100 * 1024));
      await client.put(`${prefix}array`).value('[1,2,3]');
      await client.put(`${prefix}%22b%22`).value('b overwritten with garbage');
      await client.put(`${prefix}late`).value(JSON.stringify({ nodeId: 'late', addresses: ['127.0.0.1:9'] }));
      await until(() => a.dropped.length >= 6, 5000, 'each garbage key reported');
      const reports = a.dropped.map((error) => error.message).join('\n');
      expect(a.dropped.every((error) => error.code === 'DISCOVERY_ERROR')).toBeTrue();
      for (const key of ['early', 'shape', 'noid', 'huge', 'array', '%22b%22']) expect(reports).toContain(`${prefix}${key}`);
      expect(reports).toContain('not JSON');
      expect(reports).toContain('102400 bytes');
      // b puts its registration back, overwritten with garbage as deleted
      await until(() => ids(a).join() === 'a,b,late', 5000, 'a lists the good entries, b put back by b');
      const deleted = await client.delete().key(`${prefix}%22b%22`);
      await eventually(async () => {
        const [kv] = (await client.get(`${prefix}%22b%22`).exec()).kvs;
        return kv !== undefined && BigInt(kv.mod_revision) > BigInt(deleted.header.revision);
      }, 'b puts its deleted registration back');
      await until(() => ids(a).join() === 'a,b,late', 5000, 'a lists b again');
      // The source did not fail (a bad key is not an outage): the cluster passes on what it dropped, and nothing else.
      expect(a.errors).toEqual(a.dropped);
      expect(b.errors).toEqual(b.dropped);
      await a.cluster.send('b', 'still works');
      expect((await b.log.next('message')).message).toBe('still works');
    },
    SPEC_TIMEOUT,
  );

  it(
    'two nodes with one id: the one overwritten reports it, and neither overwrites the other again',
    async () => {
      const prefix = freshPrefix();
      const first = await join('twin', prefix);
      await registered(prefix, ['twin']);
      const second = await join('twin', prefix);
      await until(() => first.dropped.length > 0, 5000, 'the first twin reports the second');
      expect(first.dropped[0]!.message).toContain('two nodes share one id');
      const value = async (): Promise<string | null> => client.get(`${prefix}%22twin%22`).string();
      const kept = await value();
      expect(kept).toContain(second.cluster.node.addresses()[0]!);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await value()).toBe(kept); // no tug of war
      expect(first.dropped.length).toBe(1);
    },
    SPEC_TIMEOUT,
  );

  it(
    'etcd stopped and started again: DISCOVERY_ERROR on errors$, the last list kept, then registration and watch come back',
    async () => {
      const prefix = freshPrefix();
      const a = await join('a', prefix);
      const b = await join('b', prefix);
      await until(() => ids(a).join() === 'a,b' && ids(b).join() === 'a,b', 5000, 'a and b see each other');

      const revisionOfA = async (): Promise<bigint> => BigInt((await client.get(`${prefix}%22a%22`).exec()).kvs[0]?.mod_revision ?? -1);
      const before = await revisionOfA();
      await etcd.stop();
      await until(() => a.errors.length > 0 && b.errors.length > 0, 5000, 'DISCOVERY_ERROR on errors$');
      expect(a.errors[0]!.code).toBe('DISCOVERY_ERROR');
      expect(a.errors[0]!.message).toContain(etcd.url);
      expect(ids(a).join()).toBe('a,b'); // the last list, kept while etcd is away
      await a.cluster.send('b', 'during the outage');
      expect((await b.log.next('message')).message).toBe('during the outage');

      await etcd.resume();
      const resumed = performance.now();
      await eventually(async () => (await revisionOfA()) > before, 'a registers anew');
      timing(`registration back after etcd restarted (refreshInterval ${REFRESH} ms)`, performance.now() - resumed);
      const c = await join('c', prefix);
      await until(() => ids(a).join() === 'a,b,c', 8000, 'a sees c join after the restart');
      timing('watch back after etcd restarted (a sees a new node)', performance.now() - resumed);
      const keys = (await client.getAll().prefix(prefix).keys()).sort();
      expect(keys).toEqual([`${prefix}%22a%22`, `${prefix}%22b%22`, `${prefix}%22c%22`]);
      await b.cluster.close();
      await until(() => ids(a).join() === 'a,c' && ids(c).join() === 'a,c', 5000, 'b leaves');
      await c.cluster.send('a', 'after');
      expect((await a.log.next('message')).message).toBe('after');
    },
    SPEC_TIMEOUT,
  );

  it(
    'close() is bounded when etcd is gone: it resolves within timeout and reports the registration left behind',
    async () => {
      const prefix = freshPrefix();
      const a = await join('a', prefix);
      await registered(prefix, ['a']);
      await etcd.stop('SIGKILL');
      try {
        const started = performance.now();
        await a.cluster.close();
        expect(performance.now() - started).toBeLessThan(3000); // timeout: 2000
        expect(a.dropped.map((error) => error.message).join('\n')).toContain('could not revoke the registration of this node');
      } finally {
        await etcd.resume();
      }
    },
    SPEC_TIMEOUT,
  );

  it(
    'a node that listens nowhere only reads (no key), and reaches the others by id',
    async () => {
      const prefix = freshPrefix();
      const a = await join('a', prefix);
      const { node, log } = clientNode({ id: 'reader' });
      const discovery = etcdDiscovery<string>({ hosts: etcd.url, prefix });
      const cluster = new Cluster<unknown, string>(node, { discovery, refreshInterval: REFRESH });
      clusters.push(cluster);
      let members: readonly Member<string>[] = [];
      cluster.members$.subscribe((list) => (members = list));
      await until(() => members.some((member) => member.nodeId === 'a'), 5000, 'the reader lists a');
      await registered(prefix, ['a']);
      await cluster.send('a', 'from a reader');
      const received = await a.log.next('message');
      expect([received.from, received.message]).toEqual(['reader', 'from a reader']);
      expect(log.ofType('connected').length).toBe(1);
    },
    SPEC_TIMEOUT,
  );

  it(
    'ids other than strings: the key is the JSON of the id, URI-encoded, and the id read back is equal',
    async () => {
      const prefix = freshPrefix();
      const discovery = etcdDiscovery({ hosts: etcd.url, prefix });
      const lists: (readonly { nodeId?: unknown }[])[] = [];
      const context = (nodeId: unknown) => ({ nodeId, addresses: ['127.0.0.1:1'], refreshInterval: REFRESH, scheduler: asyncScheduler });
      const numbered = discovery.members(context(7)).subscribe((list) => lists.push(list));
      const composite = discovery.members(context(['eu', { rack: 3 }])).subscribe();
      await registered(prefix, [7, ['eu', { rack: 3 }]]);
      await until(() => lists.at(-1)?.length === 2, 5000, 'both listed');
      expect(lists.at(-1)!.map((member) => member.nodeId)).toEqual([['eu', { rack: 3 }], 7]); // by key: %5B... before 7
      numbered.unsubscribe();
      composite.unsubscribe();
      await discovery.close();
      await registered(prefix, []); // both revoked by the time close() resolves
    },
    SPEC_TIMEOUT,
  );

  it('a node id that does not survive JSON fails the source with a clear DISCOVERY_ERROR', async () => {
    const discovery = etcdDiscovery({ hosts: etcd.url, prefix: freshPrefix() });
    const error = await new Promise<unknown>((resolve) => {
      discovery
        .members({ nodeId: 10n ** 30n, addresses: ['127.0.0.1:1'], refreshInterval: REFRESH, scheduler: asyncScheduler })
        .subscribe({ error: resolve });
    });
    expect(error).toBeInstanceOf(NetError);
    expect((error as NetError).code).toBe('DISCOVERY_ERROR');
    expect((error as NetError).message).toContain('does not survive JSON');
    await discovery.close();
  });

  it('without the etcd3 package: an error that says how to install it', async () => {
    const missing = Object.assign(new Error("Cannot find package 'etcd3'"), { code: 'ERR_MODULE_NOT_FOUND' });
    const error = await rejection(loadEtcd3(() => Promise.reject(missing)));
    expect(String(error)).toContain('npm install etcd3');
    expect((error as Error).cause).toBe(missing);
    expect(String(await rejection(loadEtcd3(() => Promise.resolve({}))))).toContain('no Etcd3 class');
    expect(typeof (await loadEtcd3()).Etcd3).toBe('function');
  });

  it('checks its options', () => {
    const make = (options: unknown) => () => etcdDiscovery(options as Parameters<typeof etcdDiscovery>[0]);
    expect(make(undefined)).toThrowError(TypeError, /needs options/);
    expect(make({ hosts: [], prefix: '/p/' })).toThrowError(TypeError, /needs hosts/);
    expect(make({ hosts: 'http://127.0.0.1:2379', prefix: '' })).toThrowError(TypeError, /prefix/);
    expect(make({ hosts: 'http://127.0.0.1:2379', prefix: '/p/', ttl: 0.5 })).toThrowError(TypeError, /ttl/);
    expect(make({ hosts: 'http://127.0.0.1:2379', prefix: '/p/', timeout: -1 })).toThrowError(TypeError, /timeout/);
    expect(etcdDiscovery({ hosts: ['http://127.0.0.1:2379'], prefix: '/p/' }).knowsIds).toBeTrue();
  });
});
