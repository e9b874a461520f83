import { createServer } from 'node:net';
import type { Subscription } from 'rxjs';
import type { NetError } from '../../lib/errors.js';
import { backoffDelay, linkKey, type LinkEvent } from '../../lib/node/link.js';
import { EventLog, client, listening, makeNode, sleep, until } from '../helpers/nodes.js';

/** A free loopback port (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('link (resilient links)', () => {
  const subscriptions: Subscription[] = [];
  afterEach(() => {
    for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  });

  it('backoffDelay: d = min(initialDelay * factor^(n-1), maxDelay), drawn from [d * (1 - jitter), d]', () => {
    const options = { initialDelay: 100, maxDelay: 1000, factor: 2, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { ...options, random: () => 0 }))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, { ...options, random: () => 0.5 })).toBe(300);
    for (let n = 1; n < 8; n++) {
      const d = Math.min(100 * 2 ** (n - 1), 1000);
      const delay = backoffDelay(n, { ...options, random: Math.random });
      expect(delay).toBeGreaterThanOrEqual(d * 0.5);
      expect(delay).toBeLessThanOrEqual(d);
    }
  });

  it('a peer that stays down: attempts back off (the delays double), and after maxAttempts it errors with the last error', async () => {
    const port = await freePort();
    const { node } = client();
    const events: LinkEvent<unknown>[] = [];
    let failed: NetError | undefined;
    subscriptions.push(
      node.link(`127.0.0.1:${port}`, { initialDelay: 20, factor: 2, jitter: 0.5, random: () => 0, maxAttempts: 4 }).subscribe({
        next: (event) => events.push(event),
        error: (error: NetError) => (failed = error),
      }),
    );
    await until(() => failed !== undefined, 5000, 'the link to error');
    expect(failed!.code).toBe('CONNECTION_ERROR');
    expect(events.map((event) => (event.state === 'disconnected' ? event.retryIn : event.state))).toEqual([
      'connecting',
      20,
      'connecting',
      40,
      'connecting',
      80,
      'connecting',
    ]);
    expect(
      events.filter((event) => event.state === 'connecting').map((event) => (event.state === 'connecting' ? event.attempt : 0)),
    ).toEqual([1, 2, 3, 4]);
  });

  it('the peer restarts on the same port: the link comes back by itself, the count restarts, and messages flow', async () => {
    const first = await listening<string>({ id: 'peer' });
    const port = Number(first.address.split(':')[1]);
    const { node, log } = client<string>({ id: 'linker' });
    const events: LinkEvent<string>[] = [];
    subscriptions.push(node.link(first.address, { initialDelay: 20, random: () => 0 }).subscribe((event) => events.push(event)));
    await until(() => events.some((event) => event.state === 'connected'), 5000, 'connected');
    node.send('peer', 'one');
    expect(await first.log.messages(1)).toEqual(['one']);
    await first.node.close();
    await until(() => events.some((event) => event.state === 'disconnected'), 5000, 'the loss');
    expect(events.find((event) => event.state === 'disconnected')).toEqual(jasmine.objectContaining({ reason: 'remote-closed' }));
    expect(() => node.send('peer', 'lost')).toThrowMatching((error: NetError) => error.code === 'NOT_CONNECTED');
    await sleep(100); // a few failed attempts while it is down
    const second = makeNode<string>({ nodeId: 'peer' });
    const secondLog = new EventLog(second);
    second.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.accept();
    });
    await second.listen(`127.0.0.1:${port}`);
    await until(() => events.filter((event) => event.state === 'connected').length === 2, 10_000, 'connected again');
    const afterLoss = events.slice(events.findIndex((event) => event.state === 'disconnected'));
    const attempts = afterLoss
      .filter((event) => event.state === 'connecting')
      .map((event) => (event.state === 'connecting' ? event.attempt : 0));
    expect(attempts[0]).toBe(1);
    node.send('peer', 'two');
    expect(await secondLog.messages(1)).toEqual(['two']);
    expect(log.ofType('connected').length).toBe(2);
  });

  it("a duplicate connection that replaces the link's counts as connected: no disconnected, no reconnect", async () => {
    const peer = await listening({ id: 'peer' });
    const { node } = client({ id: 'linker' });
    const events: LinkEvent<unknown>[] = [];
    subscriptions.push(node.link(peer.address).subscribe((event) => events.push(event)));
    await until(() => events.some((event) => event.state === 'connected'), 5000, 'connected');
    await node.connect(peer.address); // a newer connection from the same side wins
    await sleep(200);
    expect(node.isConnected('peer')).toBeTrue();
    expect(events.map((event) => event.state)).toEqual(['connecting', 'connected']);
  });

  it('unsubscribing from inside its own connected handler closes the connection gracefully, once', async () => {
    const peer = await listening({ id: 'peer' });
    const { node } = client({ id: 'linker' });
    const subscription: Subscription = node.link(peer.address).subscribe((event) => {
      if (event.state === 'connected') subscription.unsubscribe();
    });
    subscriptions.push(subscription);
    expect((await peer.log.next('disconnected')).reason).toBe('remote-closed');
    await sleep(200);
    expect(peer.log.ofType('connected').length).toBe(1);
    expect(node.isConnected('peer')).toBeFalse();
  });

  it('unsubscribing closes the connection gracefully; the node closing completes the link; one link per address', async () => {
    const peer = await listening({ id: 'peer' });
    const { node } = client({ id: 'linker' });
    const events: LinkEvent<unknown>[] = [];
    const subscription = node.link(peer.address).subscribe((event) => events.push(event));
    subscriptions.push(subscription);
    await until(() => events.some((event) => event.state === 'connected'), 5000, 'connected');
    let refused: NetError | undefined;
    node.link(peer.address).subscribe({ error: (error: NetError) => (refused = error) });
    expect(refused?.code).toBe('CONNECTION_ERROR');
    subscription.unsubscribe();
    expect((await peer.log.next('disconnected')).reason).toBe('remote-closed');

    let completed = false;
    subscriptions.push(node.link(peer.address).subscribe({ complete: () => (completed = true) }));
    await peer.log.next('connected');
    await node.close();
    expect(completed).toBeTrue();
  });

  it('compares addresses in a normal form: scheme, host case, IPv6 spelling', () => {
    expect(linkKey('127.0.0.1:80')).toBe('tcp://127.0.0.1:80/');
    expect(linkKey('TCP://127.0.0.1:80')).toBe(linkKey('127.0.0.1:80'));
    expect(linkKey('LocalHost:80')).toBe(linkKey('tcp://localhost:80'));
    expect(linkKey('[0:0:0:0:0:0:0:1]:80')).toBe(linkKey('tcp://[::1]:80'));
    expect(linkKey('ws://h:80')).toBe(linkKey('WS://H:80/'));
    expect(linkKey('ws://h:80/a')).not.toBe(linkKey('ws://h:80/b'));
    expect(linkKey('tls://h:80')).not.toBe(linkKey('h:80'));
    expect(linkKey('not an address')).toBe('not an address');
  });

  it('refuses a second link to one address however it is spelled', async () => {
    const peer = await listening({ id: 'peer' });
    const { node } = client({ id: 'linker' });
    const port = peer.address.split(':')[1]!;
    subscriptions.push(node.link(`127.0.0.1:${port}`).subscribe());
    for (const spelling of [`tcp://127.0.0.1:${port}`, `TCP://127.0.0.1:${port}/`]) {
      let refused: NetError | undefined;
      node.link(spelling).subscribe({ error: (error: NetError) => (refused = error) });
      expect(refused?.code).withContext(spelling).toBe('CONNECTION_ERROR');
      expect(refused?.message).withContext(spelling).toContain('already linked');
    }
  });

  it('two links that reach one peer through two addresses share it: unsubscribing one leaves the other connected', async () => {
    const peer = makeNode({ nodeId: 'peer' });
    peer.events$.subscribe((event) => event.type === 'connectionRequest' && event.request.accept());
    const v4 = await peer.listen('127.0.0.1:0');
    const v6 = await peer.listen('[::1]:0');
    const peerLog = new EventLog(peer);
    const { node } = client({ id: 'linker' });
    const first: LinkEvent<unknown>[] = [];
    const second: LinkEvent<unknown>[] = [];
    const one = node.link(v4).subscribe((event) => first.push(event));
    subscriptions.push(
      one,
      node.link(v6).subscribe((event) => second.push(event)),
    );
    await until(() => first.some((e) => e.state === 'connected') && second.some((e) => e.state === 'connected'), 5000, 'both connected');
    one.unsubscribe();
    await sleep(300);
    expect(node.isConnected('peer')).toBeTrue();
    expect(second.map((event) => event.state)).toEqual(['connecting', 'connected']);
    node.send('peer', 'still here');
    expect(await peerLog.next('message')).toEqual(jasmine.objectContaining({ from: 'linker', message: 'still here' }));
  });

  it('on a closed node completes at once, with no attempt', async () => {
    const peer = await listening({ id: 'peer' });
    const { node } = client({ id: 'linker' });
    await node.close();
    const events: LinkEvent<unknown>[] = [];
    let completed = false;
    node.link(peer.address).subscribe({ next: (event) => events.push(event), complete: () => (completed = true) });
    expect(completed).toBeTrue();
    expect(events).toEqual([]);
    await sleep(100);
    expect(peer.node.connectionCount).toBe(0);
  });

  it('unsubscribed while its attempt is in flight: the connection that attempt makes is closed, not kept', async () => {
    const peer = await listening({ id: 'peer' });
    const { node } = client({ id: 'linker' });
    const events: LinkEvent<unknown>[] = [];
    node
      .link(peer.address)
      .subscribe((event) => events.push(event))
      .unsubscribe();
    expect(events.map((event) => event.state)).toEqual(['connecting']);
    // The attempt goes on to a registered connection, which the link then closes gracefully.
    expect((await peer.log.next('disconnected')).reason).toBe('remote-closed');
    await until(() => node.connectionCount === 0, 5000, 'no connection left');
    expect(events.length).toBe(1);
  });

  it('a peer that rejects is retried with backoff, not in a tight loop', async () => {
    const peer = await listening({ id: 'peer', accept: false });
    peer.node.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.reject();
    });
    const { node } = client({ id: 'linker' });
    const events: LinkEvent<unknown>[] = [];
    subscriptions.push(node.link(peer.address, { initialDelay: 50, jitter: 0 }).subscribe((event) => events.push(event)));
    await sleep(700);
    const attempts = events.filter((event) => event.state === 'connecting').length;
    // Delays 50, 100, 200, 400: at most 4-5 attempts in 700 ms (a tight loop would make hundreds).
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(5);
    expect(events.filter((event) => event.state === 'connected').length).toBe(0);
    expect(events.flatMap((event) => (event.state === 'disconnected' ? [event.retryIn] : [])).slice(0, 3)).toEqual([50, 100, 200]);
  });
});
