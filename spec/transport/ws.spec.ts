import { randomBytes } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { firstValueFrom, timeout as rxTimeout } from 'rxjs';
import { WebSocket } from 'ws';
import { certificateId } from '../../lib/certificateId.js';
import { Encoder } from '../../lib/codec/Encoder.js';
import { NetError } from '../../lib/errors.js';
import type { Node, NodeConfig } from '../../lib/node/Node.js';
import { parseAddress } from '../../lib/transport/address.js';
import type { ByteStream, Listener } from '../../lib/transport/Transport.js';
import { setWsLoader, WS_MAX_PAYLOAD, WS_MAX_PENDING_PONGS, WS_MESSAGE_BYTES, wsTransport } from '../../lib/transport/ws.js';
import { certificateAuthority, selfSigned, type KeyPair } from '../helpers/certificates.js';
import { EventLog, makeNode, sleep, until } from '../helpers/nodes.js';
import { closeTime } from '../helpers/sockets.js';

/**
 * The WebSocket transports beyond the compliance suite: Node-to-Node over
 * ws:// and wss://, the WebSocket-only rules (binary messages only, the
 * path, maxPayload, the upgrade under handshakeTimeout and admission), the
 * missing `ws` package, key-bound ids over wss://, and hostile peers.
 * Loopback only.
 */

const encoder = new Encoder({ maxValueBytes: 64 * 1024 * 1024 });
const encode = (value: unknown): Uint8Array => encoder.encode(value);

const ca = certificateAuthority('ws-spec-ca');
const serverPair = ca.issue('ws-spec-server');
const clientPair = ca.issue('ws-spec-client');
const serverTls = { key: serverPair.key, cert: serverPair.cert, ca: ca.cert };
const clientTls = { key: clientPair.key, cert: clientPair.cert, ca: ca.cert };

/** Raw `ws` clients and sockets of a spec, closed after it. */
const clients: WebSocket[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.terminate();
  for (const socket of sockets.splice(0)) socket.destroy();
});

/** A node that accepts every request, listening on `address`; its failures$ recorded. */
async function server(
  address: string,
  options: Partial<NodeConfig<unknown, string, null>> = {},
): Promise<{ node: Node<unknown, string>; address: string; log: EventLog; failures: NetError[] }> {
  const node = makeNode({ nodeId: 'server', linger: 200, ...options });
  const log = new EventLog(node);
  const failures: NetError[] = [];
  node.failures$.subscribe((failure) => failures.push(failure));
  node.events$.subscribe((event) => {
    if (event.type === 'connectionRequest') event.request.accept();
  });
  return { node, address: await node.listen(address), log, failures };
}

/** An open `ws` client (the package, not the transport), its messages and close code recorded. */
async function wsClient(url: string): Promise<{ ws: WebSocket; received: Buffer[]; closed: Promise<number> }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  clients.push(ws);
  const received: Buffer[] = [];
  ws.on('message', (data: Buffer) => received.push(data));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, received, closed };
}

/** A raw TCP socket to the host and port of a URL. */
function rawSocket(url: string): Promise<Socket> {
  const { host, port } = parseAddress(url, 'CONNECTION_ERROR');
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function upgradeRequest(path = '/'): string {
  const key = randomBytes(16).toString('base64');
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/** Sends an upgrade on a raw socket by hand and resolves with the status line of the answer. */
function upgradeBy(socket: Socket, path = '/'): Promise<string> {
  return new Promise((resolve) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve(head.slice(0, head.indexOf('\r\n')));
    };
    socket.on('data', onData);
    socket.write(upgradeRequest(path));
  });
}

/** A client frame (FIN, masked with a zero key, so the payload stays as it is). */
function frame(payload: Uint8Array, opcode = 0x2): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | length])
      : length < 65536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigEndian64(length)]);
  return Buffer.concat([header, Buffer.alloc(4), payload]);
}

function bigEndian64(value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(value));
  return bytes;
}

function nextFailure(node: Node<unknown, string>, ms = 3000): Promise<NetError> {
  return firstValueFrom(node.failures$.pipe(rxTimeout(ms)));
}

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof NetError ? error.code : `untyped ${String(error)}`;
  }
}

describe('WebSocket transport', () => {
  for (const scheme of ['ws', 'wss'] as const) {
    const tls = scheme === 'wss' ? { server: { tls: serverTls }, client: { tls: clientTls } } : { server: {}, client: {} };

    describe(`Node to Node over ${scheme}://`, () => {
      it('listen answers with the URL and the actual port; messages flow both ways', async () => {
        const target = await server(`${scheme}://127.0.0.1:0/mesh`, tls.server);
        expect(target.address).toMatch(new RegExp(`^${scheme}://127\\.0\\.0\\.1:[1-9]\\d*/mesh$`));
        expect(target.node.addresses()).toEqual([target.address]);
        const client = makeNode({ nodeId: 'client', ...tls.client });
        const clientLog = new EventLog(client);
        expect(await client.connect(target.address)).toBe('server');
        expect((await target.log.next('connected')).nodeId).toBe('client');
        client.send('server', 'ping');
        expect(await target.log.messages(1)).toEqual(['ping']);
        target.node.send('client', { pong: [1, 2, 3] });
        expect(await clientLog.messages(1)).toEqual([{ pong: [1, 2, 3] }]);
        if (scheme === 'wss') expect(target.log.ofType('connectionRequest')[0]?.request.peerCertificate).toBeDefined();
      });

      it('a 1 MiB message, then 1000 messages in order, in one batch above maxPayload (writes are split)', async () => {
        // maxPayload is 320 KiB: the batch (2 MiB) crosses it, so it must go as several messages.
        const limits = { maxValueBytes: 1.5 * 1024 * 1024 };
        const target = await server(`${scheme}://127.0.0.1:0`, { ...tls.server, ...limits });
        const client = makeNode({ nodeId: 'client', ...tls.client, ...limits });
        await client.connect(target.address);
        const big = new Uint8Array(1024 * 1024).map((_, i) => i % 253);
        client.send('server', big);
        const small = 'x'.repeat(1000);
        for (let i = 0; i < 1000; i++) client.send('server', [i, small]);
        const [first, ...rest] = await target.log.messages(1001, 10_000);
        expect(first).toEqual(big);
        expect(rest.map((value) => (value as [number, string])[0])).toEqual(Array.from({ length: 1000 }, (_, i) => i));
        expect(target.log.ofType('disconnected')).toEqual([]);
      });
    });
  }

  it('writes binary messages of at most WS_MESSAGE_BYTES (256 KiB)', async () => {
    const target = await server('ws://127.0.0.1:0', { nodeId: 'writer' });
    const { ws, received } = await wsClient(target.address);
    ws.send(encode([null, 'reader']));
    await target.log.next('connected');
    target.node.send('reader', new Uint8Array(700 * 1024));
    const total = 700 * 1024 + 5;
    await until(() => received.reduce((n, chunk) => n + chunk.length, 0) >= total + 1, 5000, 'the value received');
    expect(Math.max(...received.map((chunk) => chunk.length))).toBe(WS_MESSAGE_BYTES);
    expect(WS_MAX_PAYLOAD).toBe(WS_MESSAGE_BYTES + 64 * 1024);
  });

  it('a text message ends that connection with READ_ERROR; the peer sees close code 1003', async () => {
    const target = await server('ws://127.0.0.1:0');
    const { ws, closed } = await wsClient(target.address);
    ws.send(encode([null, 'texter']));
    await target.log.next('connected');
    ws.send('hello');
    const disconnected = await target.log.next('disconnected');
    expect(disconnected.nodeId).toBe('texter');
    expect(disconnected.error?.code).toBe('READ_ERROR');
    expect(disconnected.error?.message).toContain('text WebSocket message');
    expect(await closed).toBe(1003);
  });

  it('a message above maxPayload (320 KiB, whatever maxValueBytes is) ends that connection alone with READ_ERROR (limit maxPayload)', async () => {
    // Even with 8 MiB values allowed: a message is never gathered beyond 320 KiB (larger values span messages).
    const target = await server('ws://127.0.0.1:0', { maxValueBytes: 8 * 1024 * 1024 });
    const other = makeNode({ nodeId: 'other' });
    await other.connect(target.address);
    const { ws, closed } = await wsClient(target.address);
    ws.send(encode([null, 'greedy']));
    await until(() => target.node.isConnected('greedy'), 3000, 'greedy connected');
    ws.send(new Uint8Array(WS_MAX_PAYLOAD + 1));
    const disconnected = await target.log.next('disconnected');
    expect(disconnected.nodeId).toBe('greedy');
    expect(disconnected.error?.code).toBe('READ_ERROR');
    expect(disconnected.error?.limit).toBe('maxPayload');
    expect(await closed).toBe(1009);
    other.send('server', 'still here');
    expect(await target.log.messages(1)).toEqual(['still here']);
  });

  it('a wrong path is answered 404 and connect rejects with CONNECTION_ERROR; a plain HTTP request gets 426', async () => {
    const target = await server('ws://127.0.0.1:0/mesh');
    const client = makeNode({ nodeId: 'client' });
    const refused = client.connect(target.address.replace('/mesh', '/other'));
    await expectAsync(refused).toBeRejectedWith(jasmine.objectContaining({ code: 'CONNECTION_ERROR' }));
    expect(((await refused.catch((error: unknown) => error)) as Error).message).toContain('404');
    const status = (path: string): Promise<number | undefined> =>
      new Promise((resolve) =>
        httpGet(target.address.replace('ws://', 'http://').replace('/mesh', path), (res) => resolve(res.statusCode)),
      );
    expect(await status('/mesh')).toBe(426);
    expect(await status('/')).toBe(404);
    expect(target.failures.map((failure) => failure.code)).toEqual(['CONNECTION_ERROR', 'CONNECTION_ERROR', 'CONNECTION_ERROR']);
    // The failure names the bound address, not the port 0 it was asked to listen on.
    expect(target.failures[0]!.message).toContain(`${target.address} serves /mesh`);
    expect(await client.connect(target.address)).toBe('server');
  });

  it('connect rejects with CONNECTION_ERROR when refused or on a TLS failure; at its deadline with TIMEOUT, closing the socket', async () => {
    const client = makeNode({ nodeId: 'client', tls: { key: clientPair.key, cert: clientPair.cert } });
    expect(await outcome(client.connect('ws://127.0.0.1:1'))).toBe('CONNECTION_ERROR');
    expect(await outcome(client.connect('wss://127.0.0.1:1'))).toBe('CONNECTION_ERROR');
    const secure = await server('wss://127.0.0.1:0', { tls: serverTls });
    // No ca: the server's certificate does not verify.
    expect(await outcome(client.connect(secure.address))).toBe('CONNECTION_ERROR');
    const silent = createServer((socket) => socket.on('error', () => undefined).resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const accepted = new Promise<Socket>((resolve) => silent.once('connection', resolve));
      const late = client.connect(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, { timeout: 200 });
      expect(await outcome(late)).toBe('TIMEOUT');
      expect(await closeTime(await accepted, 2000)).toBeLessThan(2000);
    } finally {
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  describe('the upgrade under handshakeTimeout', () => {
    it('a half-sent upgrade request (slowloris) is cut at handshakeTimeout and reported on failures$', async () => {
      const target = await server('ws://127.0.0.1:0', { handshakeTimeout: 300 });
      const failure = nextFailure(target.node);
      const socket = await rawSocket(target.address);
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      const ms = await closeTime(socket, 3000);
      expect(ms).toBeGreaterThan(200);
      expect((await failure).code).toBe('TIMEOUT');
      expect((await failure).limit).toBe('handshakeTimeout');
    });

    it('wss://: a silent TCP peer and a TLS peer with a half-sent request are both cut at handshakeTimeout', async () => {
      const target = await server('wss://127.0.0.1:0', { handshakeTimeout: 300, tls: serverTls });
      const silent = await rawSocket(target.address);
      const { host, port } = parseAddress(target.address, 'CONNECTION_ERROR');
      const options: ConnectionOptions = { host, port, ...clientTls };
      const secure = tlsConnect(options);
      secure.on('error', () => undefined);
      await new Promise((resolve) => secure.once('secureConnect', resolve));
      secure.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const [silentMs, secureMs] = await Promise.all([closeTime(silent, 3000), closeTime(secure as unknown as Socket, 3000)]);
      expect(silentMs).toBeLessThan(2000);
      expect(secureMs).toBeLessThan(2000);
      await until(() => target.failures.length === 2, 2000, 'two failures');
      expect(target.failures.map((failure) => failure.code)).toEqual(['TIMEOUT', 'TIMEOUT']);
    });

    it("the node's handshake deadline counts from the TCP connect, not from the upgrade", async () => {
      const target = await server('ws://127.0.0.1:0', { handshakeTimeout: 600 });
      const socket = await rawSocket(target.address);
      const start = performance.now();
      await sleep(400);
      expect(await upgradeBy(socket)).toBe('HTTP/1.1 101 Switching Protocols');
      await closeTime(socket, 3000);
      // From the upgrade on, a fresh 600 ms would end at ~1000 ms.
      expect(performance.now() - start).toBeLessThan(850);
      // The failure names the configured deadline (not the ~200 ms that were left of it after the upgrade).
      await until(() => target.failures.length > 0, 3000, 'the failure');
      expect(target.failures[0]!.message).toContain('600 ms');
    });

    it('upgrades in progress count against maxPendingHandshakes', async () => {
      const target = await server('ws://127.0.0.1:0', { maxPendingHandshakes: 1 });
      const stalled = await rawSocket(target.address);
      stalled.write('GET / HTTP/1.1\r\n');
      await sleep(50);
      const client = makeNode({ nodeId: 'client' });
      expect(await outcome(client.connect(target.address))).toBe('CONNECTION_ERROR');
      expect(target.failures[0]?.limit).toBe('maxPendingHandshakes');
      stalled.destroy();
      await sleep(50);
      expect(await client.connect(target.address)).toBe('server');
    });

    it("the listener's close cuts connections still before their upgrade", async () => {
      const target = await server('ws://127.0.0.1:0', { handshakeTimeout: 10_000 });
      const socket = await rawSocket(target.address);
      socket.write('GET / HTTP/1.1\r\n');
      await sleep(50);
      const closing = target.node.close();
      expect(await closeTime(socket, 2000)).toBeLessThan(2000);
      await closing;
    });
  });

  it('hostile peers end only their own connection: garbage, a reset mid-upgrade, a frame header claiming 2^63 bytes', async () => {
    const target = await server('ws://127.0.0.1:0');
    const canary = makeNode({ nodeId: 'canary' });
    const canaryLog = new EventLog(canary);
    await canary.connect(target.address);

    const garbage = await rawSocket(target.address);
    garbage.write(randomBytes(256));
    expect(await closeTime(garbage, 2000)).toBeLessThan(2000);
    await until(() => target.failures.some((failure) => failure.code === 'CONNECTION_ERROR'), 2000, 'garbage reported');

    const reset = await rawSocket(target.address);
    reset.write(upgradeRequest().slice(0, 40));
    await sleep(20);
    reset.resetAndDestroy();

    const huge = await rawSocket(target.address);
    expect(await upgradeBy(huge)).toBe('HTTP/1.1 101 Switching Protocols');
    huge.write(frame(encode([null, 'huge'])));
    await until(() => target.node.isConnected('huge'), 3000, 'huge connected');
    huge.write(Buffer.concat([Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(4)]));
    const disconnected = await target.log.next('disconnected');
    expect(disconnected.nodeId).toBe('huge');
    expect(disconnected.error?.code).toBe('READ_ERROR');
    expect(disconnected.error?.limit).toBe('maxPayload');

    target.node.send('canary', 'alive');
    expect(await canaryLog.messages(1)).toEqual(['alive']);
    expect(target.node.connectionCount).toBe(1);
  });

  it('a peer that floods pings without reading the pongs is cut with READ_ERROR naming maxPendingPongs; a few pings are answered', async () => {
    const target = await server('ws://127.0.0.1:0');
    const canary = makeNode({ nodeId: 'canary' });
    const canaryLog = new EventLog(canary);
    await canary.connect(target.address);

    const flooder = await rawSocket(target.address);
    expect(await upgradeBy(flooder)).toBe('HTTP/1.1 101 Switching Protocols');
    let received = Buffer.alloc(0);
    flooder.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    flooder.write(frame(encode([null, 'flooder'])));
    await until(() => target.node.isConnected('flooder'), 3000, 'the flooder connected');
    // A few pings are answered, each with a pong carrying its payload (server frames are not masked).
    for (const payload of ['one', 'two', 'six']) flooder.write(frame(Buffer.from(payload), 0x9));
    const pong = (payload: string): Buffer => Buffer.concat([Buffer.from([0x8a, payload.length]), Buffer.from(payload)]);
    await until(() => ['one', 'two', 'six'].every((payload) => received.includes(pong(payload))), 3000, 'three pongs');
    expect(target.node.isConnected('flooder')).toBeTrue();

    // Then a flood, read by nobody.
    flooder.pause();
    flooder.write(Buffer.concat(Array.from({ length: 2000 }, () => frame(Buffer.alloc(125), 0x9))));
    const disconnected = await target.log.next('disconnected', 5000);
    expect(disconnected.nodeId).toBe('flooder');
    expect(disconnected.reason).toBe('error');
    expect(disconnected.error).toBeInstanceOf(NetError);
    expect(disconnected.error?.code).toBe('READ_ERROR');
    expect(disconnected.error?.limit).toBe('maxPendingPongs');
    expect(disconnected.error?.max).toBe(WS_MAX_PENDING_PONGS);
    // Its socket is closed (seen once it reads again).
    flooder.resume();
    expect(await closeTime(flooder, 3000)).toBeGreaterThanOrEqual(0);

    target.node.send('canary', 'alive');
    expect(await canaryLog.messages(1)).toEqual(['alive']);
    expect(target.node.connectionCount).toBe(1);
  });

  it('a listener pings its connections; pings are not stream bytes', async () => {
    const transport = wsTransport({
      tls: {},
      authenticateIds: false,
      handshakeTimeout: 5000,
      maxValueBytes: 1024,
      secure: false,
      pingInterval: 50,
    });
    const streams: ByteStream[] = [];
    const listener: Listener = await transport.listen(parseAddress('ws://127.0.0.1:0', 'OPEN_ERROR'), (stream) => streams.push(stream));
    try {
      const { ws } = await wsClient(`ws://${listener.address}`);
      let pings = 0;
      ws.on('ping', () => pings++);
      await until(() => streams.length === 1, 2000, 'the stream');
      const chunks: Uint8Array[] = [];
      streams[0]!.chunks$.subscribe({ next: (chunk) => chunks.push(chunk), error: () => undefined });
      await until(() => pings >= 3, 2000, 'three pings');
      expect(chunks).toEqual([]);
      ws.terminate();
      await streams[0]!.closed;
    } finally {
      for (const stream of streams) stream.destroy();
      await listener.close();
    }
  });

  it('without the ws package: listen and connect reject, saying npm install ws; ws is loaded only when used', async () => {
    let loads = 0;
    const restore = setWsLoader(() => {
      loads++;
      return Promise.reject(Object.assign(new Error("Cannot find package 'ws'"), { code: 'ERR_MODULE_NOT_FOUND' }));
    });
    try {
      const node = makeNode({ nodeId: 'lonely' });
      expect(await node.listen('127.0.0.1:0')).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(loads).toBe(0);
      const listening = node.listen('ws://127.0.0.1:0');
      await expectAsync(listening).toBeRejectedWith(jasmine.objectContaining({ code: 'OPEN_ERROR' }));
      expect(((await listening.catch((error: unknown) => error)) as Error).message).toContain('npm install ws');
      const connecting = node.connect('wss://127.0.0.1:1/');
      await expectAsync(connecting).toBeRejectedWith(jasmine.objectContaining({ code: 'CONNECTION_ERROR' }));
      expect(((await connecting.catch((error: unknown) => error)) as Error).message).toContain('npm install ws');
      expect(loads).toBe(2);
    } finally {
      restore();
    }
  });

  describe('authenticateIds over wss://', () => {
    let a: KeyPair;
    let b: KeyPair;
    let c: KeyPair;
    beforeAll(() => {
      a = selfSigned('ws-a');
      b = selfSigned('ws-b');
      c = selfSigned('ws-c');
    });
    function authenticated(pair: KeyPair): NodeConfig<unknown, string, null> {
      return { nodeId: certificateId(pair.cert), tls: { key: pair.key, cert: pair.cert }, authenticateIds: true, linger: 200 };
    }

    it('key-bound ids connect over wss://; ws:// is refused; a peer claiming an id not its key is cut', async () => {
      const target = await server('wss://127.0.0.1:0', authenticated(a));
      await expectAsync(target.node.listen('ws://127.0.0.1:0')).toBeRejectedWith(jasmine.objectContaining({ code: 'OPEN_ERROR' }));
      const friend = makeNode(authenticated(b));
      expect(await friend.connect(target.address)).toBe(certificateId(a.cert));
      expect((await target.log.next('connected')).nodeId).toBe(certificateId(b.cert));
      await expectAsync(friend.connect('ws://127.0.0.1:1')).toBeRejectedWith(jasmine.objectContaining({ code: 'CONNECTION_ERROR' }));

      // An id that is not its key's: cut before it becomes a request.
      const liar = makeNode({ nodeId: 'f'.repeat(64), tls: { key: c.key, cert: c.cert, rejectUnauthorized: false } });
      const failure = nextFailure(target.node);
      const connected = await outcome(liar.connect(target.address));
      // The target's handshake may reach the liar before the cut: its connect may resolve, then it is disconnected.
      expect(['CONNECTION_ERROR', 'CONNECTION_ABORTED', 'resolved']).toContain(connected);
      expect((await failure).code).toBe('CONNECTION_ERROR');
      await until(() => !liar.isConnected(certificateId(a.cert)), 3000, 'the liar is cut');
      expect(target.log.ofType('connectionRequest').length).toBe(1);
      expect(target.node.connectionCount).toBe(1);
    });
  });
});
