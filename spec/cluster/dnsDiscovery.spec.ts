// dnsDiscovery against a real DNS server on loopback that each spec controls (spec/helpers/dnsServer.ts):
// real node:dns lookups, always through `servers`, so nothing but 127.0.0.1 is ever asked.
import { asyncScheduler, Subscription, type Observable } from 'rxjs';
import { dnsDiscovery, type DnsDiscoveryOptions } from '../../lib/cluster/dnsDiscovery.js';
import type { DiscoveredMember } from '../../lib/cluster/Discovery.js';
import { NetError } from '../../lib/errors.js';
import { DnsServer } from '../helpers/dnsServer.js';

const REFRESH = 100;
const WAIT = 5000;

/** What a subscription to a member list saw: each emission as its addresses, and its error. */
class Recorder {
  readonly lists: string[][] = [];
  error: unknown;
  private readonly subscription: Subscription;

  constructor(members$: Observable<readonly DiscoveredMember<unknown>[]>) {
    this.subscription = members$.subscribe({
      next: (members) => {
        this.lists.push(members.map((member) => member.addresses.join(' ')));
      },
      error: (error: unknown) => {
        this.error = error;
      },
    });
  }

  /** Resolves once `done()` holds (checked every 10 ms); fails the spec after `ms` instead of hanging. */
  until(done: () => boolean, what: string, ms = WAIT): Promise<void> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const check = (): void => {
        if (done()) resolve();
        else if (performance.now() - started > ms)
          reject(new Error(`no ${what} within ${ms} ms: saw ${JSON.stringify(this.lists)}, error ${String(this.error)}`));
        else setTimeout(check, 10);
      };
      check();
    });
  }

  /** Resolves with the emission number `count` (1-based). */
  async list(count: number): Promise<string[]> {
    await this.until(() => this.lists.length >= count || this.error !== undefined, `emission #${count}`);
    if (this.lists.length < count) throw new Error(`errored before emission #${count}: ${String(this.error)}`);
    return this.lists[count - 1]!;
  }

  /** Resolves with the error. */
  async failure(ms = WAIT): Promise<unknown> {
    await this.until(() => this.error !== undefined, 'error', ms);
    return this.error;
  }

  unsubscribe(): void {
    this.subscription.unsubscribe();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('dnsDiscovery (against a DNS server on loopback)', () => {
  let server: DnsServer;
  const recorders: Recorder[] = [];

  beforeEach(async () => {
    server = await DnsServer.start();
  });

  afterEach(async () => {
    for (const recorder of recorders.splice(0)) recorder.unsubscribe();
    await server.close();
  });

  /** Subscribes to the members of `options` (on the spec's server), every REFRESH ms. */
  function watch(options: Omit<DnsDiscoveryOptions, 'servers'>): Recorder {
    const discovery = dnsDiscovery<string>({ timeout: 200, ...options, servers: [server.address] });
    expect(discovery.knowsIds).toBeFalse();
    const recorder = new Recorder(
      discovery.members({ nodeId: 'self', addresses: [], refreshInterval: REFRESH, scheduler: asyncScheduler }),
    );
    recorders.push(recorder);
    return recorder;
  }

  it('lists the A records of a name with the port, sorted, one member per address', async () => {
    server.set('workers.test', [
      { type: 'A', data: '10.0.0.2' },
      { type: 'A', data: '10.0.0.1' },
    ]);
    const recorder = watch({ name: 'workers.test', port: 4000, type: 'A' });
    expect(await recorder.list(1)).toEqual(['10.0.0.1:4000', '10.0.0.2:4000']);
    expect(server.queries[0]).toEqual(jasmine.objectContaining({ name: 'workers.test', type: 'A' }));
  });

  it('merges A and AAAA records by default when a port is given, IPv6 in brackets', async () => {
    server.set('dual.test', [
      { type: 'AAAA', data: 'fd00::1' },
      { type: 'A', data: '10.0.0.1' },
    ]);
    server.set('v4only.test', [{ type: 'A', data: '10.0.0.1' }]);
    expect(await watch({ name: 'dual.test', port: 4000 }).list(1)).toEqual(['10.0.0.1:4000', '[fd00::1]:4000']);
    expect(await watch({ name: 'v4only.test', port: 4000 }).list(1)).toEqual(['10.0.0.1:4000']); // no AAAA: ENODATA, no failure
    expect(await watch({ name: 'dual.test', port: 4000, type: 'AAAA' }).list(1)).toEqual(['[fd00::1]:4000']);
  });

  it('lists SRV targets with their ports by default when no port is given: by priority, then weight, trailing dot stripped', async () => {
    server.set('_msgpacknet._tcp.workers.test', [
      { type: 'SRV', data: { target: 'c.workers.test.', port: 4002, priority: 20, weight: 0 } },
      { type: 'SRV', data: { target: 'a.workers.test.', port: 4000, priority: 10, weight: 1 } },
      { type: 'SRV', data: { target: 'b.workers.test', port: 4001, priority: 10, weight: 5 } },
      { type: 'SRV', data: { target: 'a.workers.test.', port: 4000, priority: 30, weight: 0 } },
    ]);
    const recorder = watch({ name: '_msgpacknet._tcp.workers.test' });
    expect(await recorder.list(1)).toEqual(['b.workers.test:4001', 'a.workers.test:4000', 'c.workers.test:4002']);

    // Equal priority and weight: in name order, whichever order the server gives (it may rotate them).
    server.set('_msgpacknet._tcp.workers.test', [
      { type: 'SRV', data: { target: 'y.workers.test', port: 4000, priority: 1, weight: 1 } },
      { type: 'SRV', data: { target: 'x.workers.test', port: 4000, priority: 1, weight: 1 } },
    ]);
    expect(await recorder.list(2)).toEqual(['x.workers.test:4000', 'y.workers.test:4000']);
    server.set('_msgpacknet._tcp.workers.test', [
      { type: 'SRV', data: { target: 'x.workers.test', port: 4000, priority: 1, weight: 1 } },
      { type: 'SRV', data: { target: 'y.workers.test', port: 4000, priority: 1, weight: 1 } },
    ]);
    const asked = server.queries.length;
    await recorder.until(() => server.queries.length >= asked + 3, 'three more refreshes');
    expect(recorder.lists.length).toBe(2);
    expect(server.queries[0]).toEqual(jasmine.objectContaining({ name: '_msgpacknet._tcp.workers.test', type: 'SRV' }));
  });

  it('shows records added and removed between refreshes, and emits an unchanged list only once', async () => {
    server.set('workers.test', [{ type: 'A', data: '10.0.0.1' }]);
    const recorder = watch({ name: 'workers.test', port: 4000 });
    expect(await recorder.list(1)).toEqual(['10.0.0.1:4000']);
    server.set('workers.test', [
      { type: 'A', data: '10.0.0.1' },
      { type: 'A', data: '10.0.0.3' },
    ]);
    expect(await recorder.list(2)).toEqual(['10.0.0.1:4000', '10.0.0.3:4000']);
    server.set('workers.test', [{ type: 'A', data: '10.0.0.3' }]);
    expect(await recorder.list(3)).toEqual(['10.0.0.3:4000']);

    // Several refreshes of the same answer, in another order (A and AAAA queries each): no new emission.
    server.set('workers.test', [
      { type: 'A', data: '10.0.0.3' },
      { type: 'A', data: '10.0.0.1' },
    ]);
    expect(await recorder.list(4)).toEqual(['10.0.0.1:4000', '10.0.0.3:4000']);
    server.set('workers.test', [
      { type: 'A', data: '10.0.0.1' },
      { type: 'A', data: '10.0.0.3' },
    ]);
    const asked = server.queries.length;
    await recorder.until(() => server.queries.length >= asked + 8, 'four more refreshes');
    expect(recorder.lists.length).toBe(4);
    expect(recorder.error).toBeUndefined();

    server.delete('workers.test');
    expect(await recorder.list(5)).toEqual([]);
  });

  it('lists no members for a name that does not exist (NXDOMAIN), or has no such records, and goes on looking', async () => {
    const recorder = watch({ name: 'nobody.test', port: 4000 });
    expect(await recorder.list(1)).toEqual([]);
    server.set('nobody.test', [{ type: 'A', data: '10.0.0.9' }]);
    expect(await recorder.list(2)).toEqual(['10.0.0.9:4000']);

    server.set('nosrv.test', [{ type: 'A', data: '10.0.0.1' }]);
    expect(await watch({ name: 'nosrv.test' }).list(1)).toEqual([]);
  });

  it('errors with DISCOVERY_ERROR after the timeout when the server is silent', async () => {
    server.mode = 'silent';
    const started = performance.now();
    const recorder = watch({ name: 'workers.test', port: 4000, type: 'A', timeout: 200 });
    const error = await recorder.failure();
    expect(performance.now() - started).toBeGreaterThanOrEqual(150); // c-ares waits about the timeout, often longer
    expect(server.queries.length).toBe(1); // asked once
    expect(error).toBeInstanceOf(NetError);
    expect((error as NetError).code).toBe('DISCOVERY_ERROR');
    expect((error as NetError).message).toContain('workers.test');
    expect((error as NetError).message).toContain(server.address);
    expect(((error as NetError).cause as { code?: unknown }).code).toBe('ETIMEOUT');
    expect(recorder.lists).toEqual([]);
  });

  it('errors with DISCOVERY_ERROR when the server answers SERVFAIL, or garbage, after a good answer', async () => {
    server.set('workers.test', [{ type: 'A', data: '10.0.0.1' }]);
    const recorder = watch({ name: 'workers.test', port: 4000, type: 'A' });
    expect(await recorder.list(1)).toEqual(['10.0.0.1:4000']);
    server.mode = 'servfail';
    const error = await recorder.failure();
    expect(error).toBeInstanceOf(NetError);
    expect((error as NetError).code).toBe('DISCOVERY_ERROR');
    expect(((error as NetError).cause as { code?: unknown }).code).toBe('ESERVFAIL');

    server.mode = 'garbage';
    const srv = await watch({ name: '_x._tcp.workers.test' }).failure();
    expect(srv).toBeInstanceOf(NetError);
    expect((srv as NetError).code).toBe('DISCOVERY_ERROR');
    expect((srv as NetError).message).toContain('SRV');
  });

  it('throws a TypeError for garbage options, before any lookup', () => {
    const bad: unknown[] = [
      undefined,
      null,
      'workers.test',
      {},
      { name: '' },
      { name: '   ' },
      { name: 42 },
      { name: 'w.test', port: 0 },
      { name: 'w.test', port: 65536 },
      { name: 'w.test', port: 4000.5 },
      { name: 'w.test', port: '4000' },
      { name: 'w.test', port: 4000, type: 'MX' },
      { name: 'w.test', type: 'A' }, // A records carry no port
      { name: 'w.test', port: 4000, type: 'SRV' }, // SRV records carry theirs
      { name: 'w.test', servers: '127.0.0.1' },
      { name: 'w.test', servers: [] },
      { name: 'w.test', servers: [53] },
      { name: 'w.test', servers: ['127.0.0.1:99999'] },
      { name: 'w.test', servers: ['[::1]:0'] },
      { name: 'w.test', timeout: 0 },
      { name: 'w.test', timeout: 1.5 },
      { name: 'w.test', timeout: Infinity },
    ];
    for (const options of bad) {
      expect(() => dnsDiscovery(options as DnsDiscoveryOptions))
        .withContext(JSON.stringify(options) ?? String(options))
        .toThrowError(TypeError);
    }
    expect(server.queries).toEqual([]);
    expect(() => dnsDiscovery({ name: 'w.test', servers: ['127.0.0.1', '127.0.0.1:5353', '::1', '[::1]:5353'] })).not.toThrow();
  });

  it('stops looking up on unsubscribe', async () => {
    server.set('workers.test', [{ type: 'A', data: '10.0.0.1' }]);
    const recorder = watch({ name: 'workers.test', port: 4000, type: 'A' });
    await recorder.until(() => server.queries.length >= 3, 'three lookups');
    recorder.unsubscribe();
    await sleep(50); // a query sent just before may still be on its way
    const asked = server.queries.length;
    await sleep(REFRESH * 5);
    expect(server.queries.length).toBe(asked);
  });

  it('never overlaps lookups: a slow answer delays the next refresh', async () => {
    server.set('workers.test', [{ type: 'A', data: '10.0.0.1' }]);
    server.delay = 300; // three refresh intervals
    const recorder = watch({ name: 'workers.test', port: 4000, type: 'A', timeout: 1000 });
    await recorder.until(() => server.queries.length >= 4, 'four slow lookups');
    const gaps = server.queries.slice(1).map((query, i) => query.at - server.queries[i]!.at);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(280);
    expect(recorder.lists).toEqual([['10.0.0.1:4000']]);

    recorder.unsubscribe(); // while a lookup waits for its answer
    await sleep(50);
    const asked = server.queries.length;
    await sleep(800);
    expect(server.queries.length).toBe(asked);
    expect(recorder.error).toBeUndefined();
  });
});
