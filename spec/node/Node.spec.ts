import type { StandardSchemaV1 } from '../../lib/validate.js';
import { connect as netConnect, createServer, type Server } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { VirtualTimeScheduler, firstValueFrom } from 'rxjs';
import { Node } from '../../lib/node/Node.js';
import { NetError } from '../../lib/errors.js';
import { client, listening, makeNode, sleep, until } from '../helpers/nodes.js';
import { rejection } from '../helpers/errors.js';

function expectCode(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(NetError);
  expect((error as NetError).code).toBe(code);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** The Rust crate's own test suite, ported (src/tests.rs), over real loopback sockets. */
describe('Node (the crate suite)', () => {
  it('node_create: a default node has a random 32-hex-digit id and a null init message', async () => {
    const node = Node.createDefault();
    expect(node.nodeId).toMatch(/^[0-9a-f]{32}$/);
    expect(node.initMessage).toBeNull();
    expect(node.connectionCount).toBe(0);
    expect(Node.createDefault().nodeId).not.toBe(node.nodeId);
    const withInit = Node.withRandomId({ role: 'worker' });
    expect(withInit.initMessage).toEqual({ role: 'worker' });
    await node.close();
    await withInit.close();
  });

  it('node_open: listenDefaults binds IPv4 and IPv6 free ports, and addresses() lists them', async () => {
    const node = makeNode({ nodeId: 'open' });
    const bound = await node.listenDefaults();
    expect(bound.length).toBe(2);
    expect(bound[0]).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(bound[1]).toMatch(/^\[::\]:\d+$/);
    expect(node.addresses()).toEqual(bound);
  });

  it('node_connect: connect resolves with the peer id and both sides are connected', async () => {
    const b = await listening({ id: 'b' });
    const a = client({ id: 'a' });
    expect(await a.node.connect(b.address)).toBe('b');
    expect(a.node.isConnected('b')).toBeTrue();
    expect((await b.log.next('connected')).nodeId).toBe('a');
    expect(b.node.isConnected('a')).toBeTrue();
    expect(a.node.connectionCount).toBe(1);
    expect(b.node.connectionCount).toBe(1);
  });

  it('node_send_self: a message to the own id arrives from itself, with no connection or listener', async () => {
    const node = makeNode<string>({ nodeId: 'me' });
    node.send('me', 'hello');
    expect(await node.receive({ timeout: 1000 })).toEqual({ type: 'message', from: 'me', message: 'hello' });
  });

  it('a message to the own id that its decoder refuses is a SEND_ERROR naming the limit, and later messages to itself still arrive', async () => {
    const node = makeNode({ nodeId: 'me' });
    const tooMany = Array.from({ length: 300_000 }, () => []);
    const error = thrown(() => node.send('me', tooMany)) as NetError;
    expectCode(error, 'SEND_ERROR');
    expect(error.limit).toBe('maxObjects');
    node.send('me', 'hello');
    node.send('me', { after: [1, 2] });
    expect(await node.receive({ timeout: 1000 })).toEqual({ type: 'message', from: 'me', message: 'hello' });
    expect(await node.receive({ timeout: 1000 })).toEqual({ type: 'message', from: 'me', message: { after: [1, 2] } });
  });

  it('node_send_remote: messages arrive in order, from the sender id', async () => {
    const b = await listening<{ n: number }>({ id: 'b' });
    const a = client<{ n: number }>({ id: 'a' });
    await a.node.connect(b.address);
    for (let n = 0; n < 100; n++) a.node.send('b', { n });
    const messages = await b.log.messages(100);
    expect(messages.map((m) => m.n)).toEqual(Array.from({ length: 100 }, (_, n) => n));
    expect(b.log.ofType('message')[0]!.from).toBe('a');
  });

  it('node_lookup_connection: the id connected at a remote address', async () => {
    const b = await listening({ id: 'b' });
    const a = client({ id: 'a' });
    await a.node.connect(b.address);
    expect(a.node.lookupConnection(b.address)).toBe('b');
    expect(a.node.lookupConnection('127.0.0.1:1')).toBeUndefined();
    await b.log.next('connected');
    const seen = b.node.stats().connections[0]!.remoteAddress;
    expect(b.node.lookupConnection(seen)).toBe('a');
  });

  it('node_send_unconnected: sending to an unknown id throws NOT_CONNECTED with the id', () => {
    const node = makeNode({ nodeId: 'lonely' });
    const error = thrown(() => node.send('nobody', 1));
    expectCode(error, 'NOT_CONNECTED');
    expect((error as NetError).nodeId).toBe('nobody');
  });

  it('node_listen_fail: listening on a port in use rejects with OPEN_ERROR', async () => {
    const b = await listening();
    const other = makeNode({ nodeId: 'other' });
    expectCode(await rejection(other.listen(b.address)), 'OPEN_ERROR');
  });

  it('node_connect_fail: connecting to a closed port rejects with CONNECTION_ERROR', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const a = client();
    expectCode(await rejection(a.node.connect(`127.0.0.1:${port}`)), 'CONNECTION_ERROR');
  });

  it('node_closed_fail: after close, listen, connect, connectRequest and send fail with ALREADY_CLOSED', async () => {
    const node = makeNode({ nodeId: 'closed' });
    await node.close();
    expectCode(await rejection(node.listen('127.0.0.1:0')), 'ALREADY_CLOSED');
    expectCode(await rejection(node.connect('127.0.0.1:1')), 'ALREADY_CLOSED');
    expectCode(await rejection(node.connectRequest('127.0.0.1:1')), 'ALREADY_CLOSED');
    expectCode(
      thrown(() => node.send('closed', 1)),
      'ALREADY_CLOSED',
    );
  });

  it('stats: totals count every byte both ways, handshake included, with rates and idle times', async () => {
    const b = await listening({ id: 'b' });
    const a = client({ id: 'a' });
    await a.node.connect(b.address);
    a.node.send('b', 'x'.repeat(1000));
    await b.log.next('message');
    const [sent] = a.node.stats().connections;
    const handshakeBytes = 4; // 92 c0 a1 61 / 92 c0 a1 62
    expect(sent!.nodeId).toBe('b');
    expect(sent!.remoteAddress).toBe(b.address);
    expect(sent!.writeTotal).toBe(handshakeBytes + 1003);
    expect(sent!.readTotal).toBe(handshakeBytes);
    expect(sent!.writeRate).toBeGreaterThan(0);
    expect(sent!.writeIdle).toBeGreaterThanOrEqual(0);
    const [received] = b.node.stats().connections;
    expect(received!.readTotal).toBe(handshakeBytes + 1003);
    expect(received!.readRate).toBeGreaterThan(0);
  });
});

describe('Node', () => {
  it('rejects bad options at once with a TypeError, never touching the caller object', () => {
    expect(() => new Node({ nodeId: 1, connectionTimeout: 0 })).toThrowError(TypeError);
    expect(() => new Node({ nodeId: 1, maxDepth: -2 })).toThrowError(TypeError);
    expect(() => new Node({ nodeId: 1, writeHighWaterMark: 100, maxQueuedBytes: 10 })).toThrowError(TypeError);
    const options = Object.freeze({ nodeId: 1, linger: 10 });
    expect(() => new Node(options)).not.toThrow();
  });

  it('refuses durations a timer cannot hold (over 2**31 - 1 ms, which would fire at once) with a TypeError naming the bound', async () => {
    const tooLong = 2 ** 31;
    for (const name of ['connectionTimeout', 'handshakeTimeout', 'writeTimeout', 'linger']) {
      expect(() => new Node({ nodeId: 1, [name]: tooLong })).toThrowError(
        TypeError,
        new RegExp(`^${name} must be .*at most 2147483647 ms`),
      );
    }
    expect(() => new Node({ nodeId: 1, connectionTimeout: 2 ** 31 - 1 })).not.toThrow();
    const node = makeNode({ nodeId: 'durations' });
    await expectAsync(node.receive({ timeout: tooLong })).toBeRejectedWithError(TypeError, /at most 2147483647 ms/);
    await expectAsync(node.whenConnected('x', { timeout: tooLong })).toBeRejectedWithError(TypeError, /at most 2147483647 ms/);
    await expectAsync(node.connect('127.0.0.1:1', { timeout: tooLong })).toBeRejectedWithError(TypeError, /at most 2147483647 ms/);
  });

  it('accepts any encodable id, compared by value', async () => {
    const b = await listening({ id: 'b' });
    const a = makeNode<string, [number, number]>({ nodeId: [7, 8] });
    await a.connect(b.address);
    await b.log.next('connected');
    expect(b.node.isConnected([7, 8] as unknown as string)).toBeTrue();
    b.node.send([7, 8] as unknown as string, 'to a fresh array');
    expect(await a.receive({ timeout: 2000 })).toEqual(jasmine.objectContaining({ type: 'connected' }));
    expect(await a.receive({ timeout: 2000 })).toEqual({
      type: 'message',
      from: 'b' as unknown as [number, number],
      message: 'to a fresh array',
    });
  });

  it('listens on "localhost:0" as one IP address, and on { host, port } and IPv6', async () => {
    const node = makeNode({ nodeId: 'l' });
    expect(await node.listen('localhost:0')).toMatch(/^(127\.0\.0\.1|\[::1\]):\d+$/);
    expect(await node.listen({ host: '127.0.0.1', port: 0 })).toMatch(/^127\.0\.0\.1:\d+$/);
    const v6 = await node.listen('[::1]:0');
    expect(v6).toMatch(/^\[::1\]:\d+$/);
    expect(node.addresses().length).toBe(3);
    const a = client();
    expect(await a.node.connect(v6)).toBe('l');
  });

  it('rejects malformed addresses with OPEN_ERROR or CONNECTION_ERROR, never a synchronous throw', async () => {
    const node = makeNode({ nodeId: 'x' });
    expectCode(await rejection(node.listen('nonsense')), 'OPEN_ERROR');
    expectCode(await rejection(node.listen('127.0.0.1:99999')), 'OPEN_ERROR');
    expectCode(await rejection(node.connect('no-port')), 'CONNECTION_ERROR');
    expectCode(await rejection(node.connect({ host: '127.0.0.1', port: -1 })), 'CONNECTION_ERROR');
  });

  it('changes to initMessage, connectionTimeout and statsHalfLife affect later connections', async () => {
    const b = await listening({ id: 'b' });
    const requests: unknown[] = [];
    b.node.events$.subscribe((e) => {
      if (e.type === 'connectionRequest') requests.push(e.request.initMessage);
    });
    const a = makeNode<unknown, string, string>({ nodeId: 'a', initMessage: 'first' });
    await a.connect(b.address);
    a.initMessage = 'second';
    a.connectionTimeout = 30_000;
    a.statsHalfLife = 1000;
    expect([a.initMessage, a.connectionTimeout, a.statsHalfLife]).toEqual(['second', 30_000, 1000]);
    const c = await listening({ id: 'c' });
    c.node.events$.subscribe((e) => {
      if (e.type === 'connectionRequest') requests.push(e.request.initMessage);
    });
    await a.connect(c.address);
    await until(() => requests.length === 2);
    expect(requests).toEqual(['first', 'second']);
    expect(() => (a.connectionTimeout = -1)).toThrowError(TypeError);
    expect(() => (a.initMessage = new Map() as unknown as string)).toThrowMatching((e) => (e as NetError).code === 'SEND_ERROR');
  });

  it('send throws SEND_ERROR for a value it cannot encode, and the connection stays usable', async () => {
    const b = await listening({ id: 'b' });
    const a = client({ id: 'a' });
    await a.node.connect(b.address);
    expectCode(
      thrown(() => a.node.send('b', { f: () => 1 })),
      'SEND_ERROR',
    );
    expectCode(
      thrown(() => a.node.send('b', 'x'.repeat(17 * 1024 * 1024))),
      'SEND_ERROR',
    );
    a.node.send('b', 'still fine');
    expect(await b.log.messages(1)).toEqual(['still fine']);
  });

  it('carries integers beyond 2^53 as bigint, and smaller ones as number', async () => {
    const b = await listening({ id: 'b' });
    const a = client({ id: 'a' });
    await a.node.connect(b.address);
    a.node.send('b', [2n ** 64n - 1n, 2 ** 40, 5n]);
    expect(await b.log.messages(1)).toEqual([[2n ** 64n - 1n, 2 ** 40, 5]]);
  });

  it('self-connect is refused with CONNECTION_ERROR', async () => {
    const b = await listening({ id: 'b' });
    expectCode(await rejection(b.node.connect(b.address)), 'CONNECTION_ERROR');
    expect(b.node.connectionCount).toBe(0);
  });

  it('connect times out with TIMEOUT when the peer never sends its handshake', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const a = client();
    try {
      expectCode(await rejection(a.node.connect(`127.0.0.1:${port}`, { timeout: 200 })), 'TIMEOUT');
    } finally {
      silent.close();
    }
  });

  it('await using closes the node', async () => {
    let node: Node | undefined;
    {
      await using scoped = new Node({ nodeId: 'scoped' });
      node = scoped;
      await scoped.listen('127.0.0.1:0');
    }
    expect(node.addresses()).toEqual([]);
    expectCode(
      thrown(() => node.send('x', 1)),
      'ALREADY_CLOSED',
    );
    await sleep(0);
  });
});

describe('Node whenConnected()', () => {
  it('resolves at once when a connection to the id is registered', async () => {
    const b = await listening({ id: 'b' });
    const a = makeNode({ nodeId: 'a' });
    await a.connect(b.address);
    await expectAsync(a.whenConnected('b', { timeout: 1 })).toBeResolved();
  });

  it('resolves on the accepting side once it accepts, after the dialler’s connect resolved; send works then', async () => {
    const b = makeNode<string>({ nodeId: 'b' });
    b.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') setTimeout(() => event.request.accept(), 50);
    });
    const address = await b.listen('127.0.0.1:0');
    const a = makeNode<string>({ nodeId: 'a' });
    await a.connect(address);
    expect(b.isConnected('a')).toBeFalse(); // the accept is still to come
    expectCode(
      thrown(() => b.send('a', 'too soon')),
      'NOT_CONNECTED',
    );
    await b.whenConnected('a');
    b.send('a', 'first from the server');
    expect(await a.receive({ timeout: 2000 })).toEqual(jasmine.objectContaining({ type: 'connected' }));
    expect(await a.receive({ timeout: 2000 })).toEqual({ type: 'message', from: 'b', message: 'first from the server' });
  });

  it('called from inside a connected handler for that id, resolves at once (registered before the event)', async () => {
    const b = await listening({ id: 'b' });
    const a = makeNode({ nodeId: 'a' });
    let inner: Promise<void> | undefined;
    a.events$.subscribe((event) => {
      if (event.type === 'connected') inner = a.whenConnected(event.nodeId, { timeout: 1 });
    });
    await a.connect(b.address);
    await until(() => inner !== undefined);
    await expectAsync(inner).toBeResolved();
  });

  it('rejects with TIMEOUT (naming the id) after timeout ms on the node scheduler', async () => {
    const scheduler = new VirtualTimeScheduler();
    const node = makeNode({ nodeId: 'alone', scheduler });
    const waiting = node.whenConnected('nobody', { timeout: 1000 });
    scheduler.flush();
    const error = (await rejection(waiting)) as NetError;
    expectCode(error, 'TIMEOUT');
    expect(error.nodeId).toBe('nobody');
    expect(error.message).toContain('"nobody"');
  });

  it('rejects with ALREADY_CLOSED when the node closes while it waits, or is closed', async () => {
    const node = makeNode({ nodeId: 'closing' });
    const waiting = node.whenConnected('nobody', { timeout: 60_000 });
    await node.close();
    expectCode(await rejection(waiting), 'ALREADY_CLOSED');
    expectCode(await rejection(node.whenConnected('nobody')), 'ALREADY_CLOSED');
  });

  it('rejects (never throws) a bad timeout', async () => {
    const node = makeNode({ nodeId: 'x' });
    await expectAsync(node.whenConnected('y', { timeout: 0 })).toBeRejectedWithError(TypeError);
  });
});

describe('Node errors that say why', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });

  /** A raw TCP server that writes `bytes` to each client, then (with `end`) ends. */
  async function rawServer(bytes: Uint8Array, end = false): Promise<string> {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      if (end) socket.end(bytes);
      else socket.write(bytes);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  it('connect(): a valid handshake followed by an invalid byte rejects with the READ_ERROR, naming the address', async () => {
    const address = await rawServer(Uint8Array.of(...encode([null, 'raw']), 0xc1));
    const node = makeNode({ nodeId: 'dialler' });
    const error = (await rejection(node.connect(address))) as NetError;
    expectCode(error, 'READ_ERROR');
    expect(error.address).toBe(address);
    expect(error.message).toContain(address);
  });

  it('a handshake over maxHandshakeBytes is refused naming that limit, on both sides', async () => {
    const big = encode([null, 'x'.repeat(70_000)]);
    const node = makeNode({ nodeId: 'dialler', maxHandshakeBytes: 64 * 1024 });
    const error = (await rejection(node.connect(await rawServer(big)))) as NetError;
    expectCode(error, 'READ_ERROR');
    expect([error.limit, error.max]).toEqual(['maxHandshakeBytes', 64 * 1024]);
    expect(error.message).toContain('maxHandshakeBytes');

    const b = await listening({ id: 'b', maxHandshakeBytes: 64 * 1024 });
    const failure = firstValueFrom(b.node.failures$);
    const socket = netConnect(Number(b.address.split(':')[1]), '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(big);
    const refused = await failure;
    socket.destroy();
    expectCode(refused, 'READ_ERROR');
    expect(refused.limit).toBe('maxHandshakeBytes');
    expect(refused.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('a peer that closes before sending a byte: CONNECTION_ERROR naming its address, on both sides', async () => {
    const address = await rawServer(new Uint8Array(0), true);
    const node = makeNode({ nodeId: 'dialler' });
    const error = (await rejection(node.connect(address))) as NetError;
    expectCode(error, 'CONNECTION_ERROR');
    expect(error.address).toBe(address);
    expect(error.message).toContain(address);

    const b = await listening({ id: 'b' });
    const failure = firstValueFrom(b.node.failures$);
    const socket = netConnect(Number(b.address.split(':')[1]), '127.0.0.1', () => socket.end());
    socket.on('error', () => undefined);
    const refused = await failure;
    expectCode(refused, 'CONNECTION_ERROR');
    expect(refused.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(refused.message).toContain(refused.address!);
  });
});

describe('Node send() to itself', () => {
  it('keeps the node’s own limits, not the defaults: refused over a small maxValueBytes, delivered under a large one', async () => {
    const small = makeNode<string>({ nodeId: 'small', maxValueBytes: 1024 });
    const refused = thrown(() => small.send('small', 'x'.repeat(2000))) as NetError;
    expectCode(refused, 'SEND_ERROR');
    expect(refused.limit).toBe('maxValueBytes');
    small.send('small', 'fits');
    expect(await small.receive({ timeout: 2000 })).toEqual({ type: 'message', from: 'small', message: 'fits' });

    const large = makeNode<string>({ nodeId: 'large', maxValueBytes: 16 * 1024 * 1024 });
    const big = 'y'.repeat(5 * 1024 * 1024); // over the 4 MiB default
    large.send('large', big);
    const event = await large.receive({ timeout: 5000 });
    expect(event.type === 'message' && event.message.length).toBe(big.length);
  });

  it('keeps maxDepth: a message nested deeper than the node takes is refused', () => {
    const node = makeNode({ nodeId: 'shallow', maxDepth: 4 });
    let nested: unknown = 1;
    for (let i = 0; i < 10; i++) nested = [nested];
    expectCode(
      thrown(() => node.send('shallow', nested)),
      'SEND_ERROR',
    );
  });

  it("keeps validateMessage: an invalid message is refused with SEND_ERROR in send; a schema's transformed value is what arrives", async () => {
    const guarded = makeNode<number>({
      nodeId: 'guarded',
      validateMessage: (value: unknown): value is number => typeof value === 'number',
    });
    const refused = thrown(() => guarded.send('guarded', 'not a number' as unknown as number)) as NetError;
    expectCode(refused, 'SEND_ERROR');
    expect(refused.message).toContain('rejected by the type guard');
    guarded.send('guarded', 7);
    expect(await guarded.receive({ timeout: 2000 })).toEqual({ type: 'message', from: 'guarded', message: 7 });

    const throwing = makeNode({
      nodeId: 'throwing',
      validateMessage: (value: unknown): value is unknown => {
        if (value === 'boom') throw new Error('validator broke');
        return true;
      },
    });
    const broke = thrown(() => throwing.send('throwing', 'boom')) as NetError;
    expectCode(broke, 'SEND_ERROR');
    expect((broke.cause as Error).message).toBe('validator broke');

    const doubling: StandardSchemaV1<number> = {
      '~standard': {
        version: 1,
        vendor: 'spec',
        validate: (value) => (typeof value === 'number' ? { value: value * 2 } : { issues: [{ message: 'a number, please' }] }),
      },
    };
    const schema = makeNode<number>({ nodeId: 'schema', validateMessage: doubling });
    expect((thrown(() => schema.send('schema', 'x' as unknown as number)) as NetError).message).toContain('a number, please');
    schema.send('schema', 21);
    expect(await schema.receive({ timeout: 2000 })).toEqual({ type: 'message', from: 'schema', message: 42 });
  });
});
