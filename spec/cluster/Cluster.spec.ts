import { Observable, Subject, firstValueFrom, filter } from 'rxjs';
import { Cluster, type Member } from '../../lib/cluster/Cluster.js';
import { staticDiscovery, type DiscoveredMember, type Discovery } from '../../lib/cluster/Discovery.js';
import { NetError } from '../../lib/errors.js';
import type { Node } from '../../lib/node/Node.js';
import { Rpc } from '../../lib/rpc/Rpc.js';
import { listening, sleep, until, type EventLog } from '../helpers/nodes.js';

/** Members' ids and states, sorted, for comparing. */
function states(members: readonly Member<string>[]): string[] {
  return members.map((member) => `${member.nodeId ?? '?'}:${member.state}`).sort();
}

/** Waits until `cluster.members$` shows `expected` (from {@link states}); fails after 10 s. */
async function membersBecome(cluster: Cluster<unknown, string>, expected: string[]): Promise<void> {
  let last: string[] = [];
  const seen = firstValueFrom(
    cluster.members$.pipe(
      filter((members) => {
        last = states(members);
        return JSON.stringify(last) === JSON.stringify([...expected].sort());
      }),
    ),
  );
  const timeout = sleep(10_000).then(() => {
    throw new Error(`members$ never became ${expected.join(', ')}; last ${last.join(', ')}`);
  });
  await Promise.race([seen, timeout]);
}

interface Started {
  node: Node<unknown, string>;
  address: string;
  log: EventLog;
}

async function nodes(count: number): Promise<Started[]> {
  const made: Started[] = [];
  for (let i = 0; i < count; i++) made.push(await listening({ id: `n${i}` }));
  return made;
}

const fast = { link: { initialDelay: 20, maxDelay: 200, settleTime: 50 }, refreshInterval: 100 };

describe('Cluster', () => {
  it("'all': a static list of addresses (itself included) makes a full mesh; sends by id alone", async () => {
    const members = await nodes(3);
    const addresses = members.map((member) => member.address);
    const clusters = members.map(({ node }) => new Cluster(node, { discovery: staticDiscovery(addresses), ...fast }));
    for (const cluster of clusters) await membersBecome(cluster, ['n0:up', 'n1:up', 'n2:up']);
    // one connection per pair (the duplicate rule), the node's own address never dialled
    for (const { node } of members) expect(node.connectionCount).toBe(2);
    for (const { log } of members) expect(log.ofType('message')).toEqual([]);
    await clusters[0]!.send('n2', 'from n0');
    await clusters[2]!.send('n1', 'from n2');
    await clusters[1]!.send('n1', 'to itself');
    expect((await members[2]!.log.next('message')).message).toBe('from n0');
    // (two senders: no order between them)
    expect((await members[1]!.log.messages(2)).sort()).toEqual(['from n2', 'to itself']);
  });

  it("'on-demand' (a source with ids): no connection until the first send, which connects and delivers", async () => {
    const [a, b] = await nodes(2);
    const list = [
      { nodeId: 'n0', addresses: [a!.address] },
      { nodeId: 'n1', addresses: [b!.address] },
    ];
    const cluster = new Cluster(a!.node, { discovery: staticDiscovery(list), ...fast });
    await membersBecome(cluster, ['n0:up', 'n1:down']);
    await sleep(100);
    expect(a!.node.connectionCount).toBe(0);
    await cluster.send('n1', 'hello');
    expect((await b!.log.next('message')).message).toBe('hello');
    await membersBecome(cluster, ['n0:up', 'n1:up']);
    await cluster.whenReachable('n1');
  });

  it('NOT_CONNECTED for an id no member has after a refresh; TIMEOUT for a member that does not answer', async () => {
    const [a, b] = await nodes(2);
    const closedPort = await listening({ id: 'gone' });
    const deadAddress = closedPort.address;
    await closedPort.node.close();
    const list = [
      { nodeId: 'n1', addresses: [b!.address] },
      { nodeId: 'dead', addresses: [deadAddress] },
    ];
    const cluster = new Cluster(a!.node, { discovery: staticDiscovery(list), ...fast, timeout: 500 });
    const missing: unknown = await cluster.send('nobody', 'x').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(NetError);
    expect((missing as NetError).code).toBe('NOT_CONNECTED');
    expect((missing as NetError).message).toContain('"nobody"');
    const dead: unknown = await cluster.whenReachable('dead').catch((error: unknown) => error);
    expect((dead as NetError).code).toBe('TIMEOUT');
    await membersBecome(cluster, ['n0:up', 'n1:down', 'dead:down']);
    // the healthy member is still reached
    await cluster.send('n1', 'still');
    expect((await b!.log.next('message')).message).toBe('still');
  });

  it('a member that leaves the list loses its link; one that joins is linked', async () => {
    const [a, b, c] = await nodes(3);
    const lists = new Subject<readonly DiscoveredMember<string>[]>();
    const discovery: Discovery<string> = { members: () => lists };
    const cluster = new Cluster(a!.node, { discovery, ...fast });
    lists.next([{ addresses: [b!.address] }]);
    await membersBecome(cluster, ['n0:up', 'n1:up']);
    lists.next([{ addresses: [c!.address] }]);
    await membersBecome(cluster, ['n0:up', 'n2:up']);
    await until(() => !a!.node.isConnected('n1'), 5000, 'the link to n1 closed');
    expect(b!.log.ofType('disconnected').length).toBe(1);
  });

  it('a send waiting for the first list (a source without ids) links each member once, learns their ids and delivers', async () => {
    const [a, b, c] = await nodes(3);
    const lists = new Subject<readonly DiscoveredMember<string>[]>();
    const cluster = new Cluster(a!.node, { discovery: { members: () => lists }, ...fast });
    const errors: NetError[] = [];
    cluster.errors$.subscribe((error) => errors.push(error));
    // Waiting before any list: the links the list starts must not start again from inside their first event.
    const sent = cluster.send('n2', 'early');
    lists.next([{ addresses: [a!.address] }, { addresses: [b!.address] }, { addresses: [c!.address] }]);
    await sent;
    expect((await c!.log.next('message')).message).toBe('early');
    await membersBecome(cluster, ['n0:up', 'n1:up', 'n2:up']);
    expect(errors).toEqual([]);
  });

  it('garbage from the source: each reported DISCOVERY_ERROR on errors$, the good entries kept; a failing source is retried', async () => {
    const [a, b] = await nodes(2);
    let subscriptions = 0;
    let lists = new Subject<unknown>();
    const discovery: Discovery<string> = {
      members: () => {
        subscriptions++;
        lists = new Subject<unknown>();
        return lists as Observable<readonly DiscoveredMember<string>[]>;
      },
    };
    const cluster = new Cluster(a!.node, { discovery, ...fast });
    const errors: NetError[] = [];
    cluster.errors$.subscribe((error) => errors.push(error));
    lists.next('not a list');
    lists.next([
      null,
      { addresses: [] },
      { addresses: 'x' },
      { addresses: [42] },
      { nodeId: () => 1, addresses: ['127.0.0.1:1'] },
      { addresses: [b!.address] },
      { addresses: [b!.address] },
      { addresses: [a!.address] },
    ]);
    await membersBecome(cluster, ['n0:up', 'n1:up']);
    expect(errors.map((error) => error.code)).toEqual(Array(6).fill('DISCOVERY_ERROR'));
    expect(errors[0]!.message).toContain('not a list');

    lists.error(new Error('the registry is down'));
    expect(errors.at(-1)!.message).toContain('the registry is down');
    expect(subscriptions).toBe(1);
    await until(() => subscriptions === 2, 5000, 'the source subscribed again');
    // the last list stands meanwhile
    expect(a!.node.isConnected('n1')).toBeTrue();
    lists.next([]);
    await membersBecome(cluster, ['n0:up']);
  });

  it("a source's own errors$ is passed on on the cluster's errors$ while the cluster is open", async () => {
    const [a] = await nodes(1);
    const reported = new Subject<NetError>();
    const discovery: Discovery<string> = { members: () => new Subject<readonly DiscoveredMember<string>[]>(), errors$: reported };
    const cluster = new Cluster(a!.node, { discovery, ...fast });
    const errors: NetError[] = [];
    cluster.errors$.subscribe((error) => errors.push(error));
    const dropped = new NetError('DISCOVERY_ERROR', 'the key /x is not a member');
    reported.next(dropped);
    expect(errors).toEqual([dropped]);
    await cluster.close();
    reported.next(new NetError('DISCOVERY_ERROR', 'after the close'));
    expect(errors).toEqual([dropped]);
    expect(reported.observed).toBeFalse(); // unsubscribed on close
  });

  it("a source's errors$ that errors is reported, not a crash; a source whose deregistration fails does not fail node.close()", async () => {
    const [a] = await nodes(1);
    const reported = new Subject<NetError>();
    const discovery: Discovery<string> = {
      members: () => new Subject<readonly DiscoveredMember<string>[]>(),
      errors$: reported,
      close: () => Promise.reject(new Error('deregistration failed')),
    };
    const cluster = new Cluster(a!.node, { discovery, ...fast });
    const errors: NetError[] = [];
    cluster.errors$.subscribe((error) => errors.push(error));
    reported.error(new Error('the source broke'));
    expect(errors.map((error) => [error.code, error.message])).toEqual([
      ['DISCOVERY_ERROR', "the discovery source's errors$ failed: the source broke"],
    ]);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await a!.node.close();
      await sleep(50);
      expect(unhandled).toEqual([]);
      await expectAsync(cluster.close()).toBeRejectedWithError('deregistration failed'); // the caller of cluster.close() hears it
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a node that goes away is down, and up again when it comes back on the same address; sends resume', async () => {
    const [a, b] = await nodes(2);
    const address = b!.address;
    const cluster = new Cluster(a!.node, { discovery: staticDiscovery([address]), ...fast });
    await membersBecome(cluster, ['n0:up', 'n1:up']);
    await b!.node.close();
    await membersBecome(cluster, ['n0:up', 'n1:down']);
    const back = await listening({ id: 'n1' });
    await back.node.listen(address);
    await membersBecome(cluster, ['n0:up', 'n1:up']);
    await cluster.send('n1', 'again');
    expect((await back.log.next('message')).message).toBe('again');
  });

  it('new Rpc(cluster) calls connect on demand', async () => {
    const [a, b] = await nodes(2);
    const server = new Rpc<string>(b!.node);
    server.handle('add', ([x, y]: [number, number]) => x + y);
    const cluster = new Cluster(a!.node, { discovery: staticDiscovery([{ nodeId: 'n1', addresses: [b!.address] }]), ...fast });
    const rpc = new Rpc(cluster);
    expect(a!.node.isConnected('n1')).toBeFalse();
    expect(await rpc.call('n1', 'add', [2, 3])).toBe(5);
    await expectAsync(rpc.call('nobody', 'add', [1, 1])).toBeRejectedWith(jasmine.objectContaining({ code: 'NOT_CONNECTED' }));
  });

  it('an Rpc call through a cluster still connecting: its signal aborts it at once, and its end stops the wait for the connection', async () => {
    const [a] = await nodes(1);
    // A member with an id whose address answers nothing: the cluster keeps trying, for ever (timeout Infinity).
    const discovery = staticDiscovery([{ nodeId: 'ghost', addresses: ['127.0.0.1:1'] }]);
    const cluster = new Cluster(a!.node, { discovery, ...fast, timeout: Number.POSITIVE_INFINITY });
    const rpc = new Rpc(cluster);
    const controller = new AbortController();
    const call = rpc.call('ghost', 'x', [], { timeout: Number.POSITIVE_INFINITY, signal: controller.signal });
    await sleep(30);
    const reason = new Error('user gave up');
    const started = performance.now();
    controller.abort(reason);
    await expectAsync(call).toBeRejectedWith(reason);
    expect(performance.now() - started).toBeLessThan(1000);
    await expectAsync(cluster.whenReachable('ghost', { signal: AbortSignal.abort(reason) })).toBeRejectedWith(reason);
    // Calls that time out or are aborted while waiting leave no waiter behind (white box: only waiters
    // subscribe to the cluster's change subject).
    const changes = (cluster as unknown as { changes: Subject<void> }).changes;
    expect(changes.observed).toBeFalse();
    const calls = Array.from({ length: 50 }, () => rpc.call('ghost', 'x', [], { timeout: 5 }));
    expect(changes.observed).toBeTrue();
    await Promise.allSettled(calls);
    expect(changes.observed).toBeFalse();
  });

  it('closes with its node: lookups stop, members$ completes, sends reject ALREADY_CLOSED', async () => {
    const [a] = await nodes(1);
    let unsubscribed = 0;
    const discovery: Discovery<string> = {
      members: () => new Observable<readonly DiscoveredMember<string>[]>(() => () => unsubscribed++),
    };
    const cluster = new Cluster(a!.node, { discovery, ...fast });
    let completed = false;
    cluster.members$.subscribe({ complete: () => (completed = true) });
    await a!.node.close();
    await until(() => completed, 5000, 'members$ completed');
    expect(unsubscribed).toBe(1);
    await expectAsync(cluster.whenReachable('n9')).toBeRejectedWith(jasmine.objectContaining({ code: 'ALREADY_CLOSED' }));
  });

  it('a member that answers with another id than listed is reported and not linked', async () => {
    const [a, b] = await nodes(2);
    const cluster = new Cluster(a!.node, { discovery: staticDiscovery([{ nodeId: 'billing', addresses: [b!.address] }]), ...fast });
    const errors: NetError[] = [];
    cluster.errors$.subscribe((error) => errors.push(error));
    const reach: unknown = await cluster.whenReachable('billing', { timeout: 1000 }).catch((error: unknown) => error);
    expect((reach as NetError).code).toBe('TIMEOUT');
    expect(errors.map((error) => error.message)).toEqual([jasmine.stringContaining('is listed as node "billing" but is node "n1"')]);
    await until(() => !a!.node.isConnected('n1'), 5000, 'the impostor disconnected');
  });

  it('checks its options', async () => {
    const [a] = await nodes(1);
    expect(() => new Cluster(a!.node, {} as never)).toThrowError(TypeError, /discovery/);
    const discovery = staticDiscovery([]);
    expect(() => new Cluster(a!.node, { discovery, refreshInterval: 0 })).toThrowError(TypeError, /refreshInterval/);
    expect(() => new Cluster(a!.node, { discovery, connect: 'some' as never })).toThrowError(TypeError, /connect/);
    expect(() => new Cluster(a!.node, { discovery, advertise: [''] })).toThrowError(TypeError, /advertise/);
  });
});
