import { X509Certificate } from 'node:crypto';
import { connect as netConnect, createServer as netServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { firstValueFrom, timeout as rxTimeout } from 'rxjs';
import { certificateId } from '../../lib/certificateId.js';
import { Encoder } from '../../lib/codec/Encoder.js';
import { NetError } from '../../lib/errors.js';
import type { ConnectionRequestEvent } from '../../lib/events.js';
import { Node, type NodeConfig } from '../../lib/node/Node.js';
import { certificateAuthority, selfSigned, type KeyPair } from '../helpers/certificates.js';
import { EventLog, makeNode, sleep, until } from '../helpers/nodes.js';
import { closeTime } from '../helpers/sockets.js';

/**
 * Attacks on the TLS transport and on key-bound ids (`authenticateIds`).
 * Each case: one typed outcome for the attacker (a `NetError` code, never a
 * message text, or the socket closed by the node), nothing registered on the
 * target (no `connectionRequest`/`connected` for the attacker, the
 * connection count unchanged), and a canary node connected over tls://
 * exchanging numbered messages before and after the attack, unaffected.
 * Attackers are library nodes with lying options, or raw node:net/node:tls
 * sockets. Loopback only.
 */

const encoder = new Encoder();
/** What each attack saw, printed at the end (for the record; the assertions are in the specs). */
const seen: string[] = [];

function note(line: string): void {
  seen.push(line);
}

type Target = Node<unknown, string>;

/** The code of a settled promise's failure, or 'resolved'; anything but a NetError fails the spec. */
async function outcomeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    expect(error).toBeInstanceOf(NetError);
    return error instanceof NetError ? error.code : `untyped ${String(error)}`;
  }
}

function hostPort(address: string): { host: string; port: number } {
  const [, host, port] = /^(?:[a-z]+:\/\/)?(.*):(\d+)$/.exec(address)!;
  return { host: host!, port: Number(port) };
}

/** A raw TCP socket to a node's port (resets and errors are expected). */
function rawSocket(address: string): Promise<Socket> {
  const { host, port } = hostPort(address);
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, host);
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** The first bytes a real node:tls client sends (its ClientHello), captured on a throwaway loopback server. */
async function clientHello(): Promise<Buffer> {
  const server = netServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<Buffer>((resolve) => {
      server.once('connection', (socket) => {
        socket.on('error', () => undefined);
        socket.once('data', (chunk: Buffer) => {
          resolve(chunk);
          socket.destroy();
        });
      });
      const client = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      client.on('error', () => undefined);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Numbered ping-pong from the canary to the target (which echoes it): no gap, no duplicate, no reordering. */
class Canary {
  private seq = 0;

  constructor(
    readonly node: Node<number, string>,
    private readonly log: EventLog<number>,
    private readonly peer: string,
  ) {}

  async exchange(count = 5): Promise<void> {
    for (let i = 0; i < count; i++) {
      const seq = this.seq++;
      this.node.send(this.peer, seq);
      const [echo] = await this.log.messages(1, 5000);
      expect(echo).toBe(seq);
    }
  }
}

interface Arena {
  target: Target;
  targetId: string;
  /** The target's tls:// address. */
  address: string;
  log: EventLog<unknown, string, null>;
  /** Everything on the target's failures$ since the set-up. */
  failures: NetError[];
  canary: Canary;
  canaryId: string;
  /** The target's connection count with the canary connected. */
  baseline: number;
}

interface ArenaOptions {
  target: Omit<NodeConfig<unknown, string, null>, 'initMessage'>;
  canary: Omit<NodeConfig<number, string, null>, 'initMessage'>;
  /** Also listen on plain TCP (only without authenticateIds). */
  tcp?: boolean;
}

/** A target listening on tls://, echoing the canary, accepting every request that reaches it; the canary connected. */
async function arena(options: ArenaOptions): Promise<Arena & { tcpAddress?: string }> {
  const target = makeNode({ linger: 200, ...options.target });
  const log = new EventLog(target);
  const failures: NetError[] = [];
  target.failures$.subscribe((failure) => failures.push(failure));
  target.events$.subscribe((event) => {
    if (event.type === 'connectionRequest') event.request.accept();
    if (event.type === 'message' && event.from === options.canary.nodeId) target.send(event.from, event.message);
  });
  const address = await target.listen('tls://127.0.0.1:0');
  const tcpAddress = options.tcp ? await target.listen('127.0.0.1:0') : undefined;
  const canaryNode = makeNode<number>({ linger: 200, ...options.canary });
  const canaryLog = new EventLog(canaryNode);
  expect(await canaryNode.connect(address)).toBe(target.nodeId);
  await until(() => target.isConnected(options.canary.nodeId), 2000, 'the canary registered');
  const canary = new Canary(canaryNode, canaryLog, target.nodeId);
  await canary.exchange(5);
  return {
    target,
    targetId: target.nodeId,
    address,
    log,
    failures,
    canary,
    canaryId: options.canary.nodeId,
    baseline: target.connectionCount,
    ...(tcpAddress === undefined ? {} : { tcpAddress }),
  };
}

/** Nothing but the canary ever became a request or a connection on the target. */
function expectNothingRegistered(a: Arena): void {
  expect(a.target.connectionCount).toBe(a.baseline);
  const requests = a.log.ofType('connectionRequest').map((event) => event.request.nodeId);
  expect(requests).toEqual([a.canaryId]);
  expect(a.log.ofType('connected').map((event) => event.nodeId)).toEqual([a.canaryId]);
  expect(a.target.stats().connections.map((connection) => connection.nodeId)).toEqual([a.canaryId]);
}

/** The canary still exchanges messages, and is still the target's only connection. */
async function expectHealthy(a: Arena): Promise<void> {
  await a.canary.exchange(5);
  expect(a.target.isConnected(a.canaryId)).toBeTrue();
  expectNothingRegistered(a);
}

/** The next failure on the target's failures$ (from now on). */
function nextFailure(target: Target, ms = 3000): Promise<NetError> {
  return firstValueFrom(target.failures$.pipe(rxTimeout(ms)));
}

/** A node with a key-bound id: nodeId = certificateId(cert), self-signed, no ca. */
function authenticated<M>(pair: KeyPair, options: Partial<NodeConfig<M, string, null>> = {}): NodeConfig<M, string, null> {
  return { ...options, nodeId: certificateId(pair.cert), tls: { key: pair.key, cert: pair.cert }, authenticateIds: true };
}

describe('TLS attacks', () => {
  let targetPair: KeyPair;
  let canaryPair: KeyPair;
  let friendPair: KeyPair;
  let attackerPair: KeyPair;
  let newcomerPair: KeyPair;
  let hello: Buffer;

  beforeAll(async () => {
    targetPair = selfSigned('target');
    canaryPair = selfSigned('canary');
    friendPair = selfSigned('friend');
    attackerPair = selfSigned('attacker');
    newcomerPair = selfSigned('newcomer');
    hello = await clientHello();
  });

  afterAll(() => {
    console.log(`\nTLS attacks, what each attack saw:\n  ${seen.join('\n  ')}`);
  });

  /** The usual target: key-bound ids, self-signed certificates, no ca; its canary likewise. */
  function authenticatedArena(options: Partial<NodeConfig<unknown, string, null>> = {}): Promise<Arena> {
    return arena({ target: authenticated(targetPair, options), canary: authenticated(canaryPair) });
  }

  describe('authenticateIds basics', () => {
    it('two self-signed nodes with key-bound ids connect; the request carries the peer certificate', async () => {
      const listener = makeNode<string>(authenticated(targetPair));
      const requests: ConnectionRequestEvent<string, string, null>[] = [];
      listener.events$.subscribe((event) => {
        if (event.type === 'connectionRequest') {
          requests.push(event);
          event.request.accept();
        }
        if (event.type === 'message') listener.send(event.from, `echo ${event.message}`);
      });
      const address = await listener.listen('tls://127.0.0.1:0');
      expect(address).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
      const dialer = makeNode<string>(authenticated(canaryPair));
      const dialerLog = new EventLog(dialer);

      const request = await dialer.connectRequest(address);
      expect(request.nodeId).toBe(certificateId(targetPair.cert));
      expect(request.peerCertificate).toBeInstanceOf(X509Certificate);
      expect(certificateId(request.peerCertificate!)).toBe(request.nodeId);
      expect(request.accept()).toBeTrue();

      await until(() => requests.length === 1, 2000, 'the listener saw the request');
      const incoming = requests[0]!.request;
      expect(incoming.nodeId).toBe(dialer.nodeId);
      expect(incoming.peerCertificate).toBeInstanceOf(X509Certificate);
      expect(certificateId(incoming.peerCertificate!)).toBe(dialer.nodeId);
      await until(() => listener.isConnected(dialer.nodeId), 2000, 'the listener registered the dialer');

      dialer.send(listener.nodeId, 'hi');
      expect((await dialerLog.next('message')).message).toBe('echo hi');
      await dialer.disconnect(listener.nodeId);

      // connect() resolves with the peer's id.
      expect(await dialer.connect(address)).toBe(listener.nodeId);
      dialer.send(listener.nodeId, 'again');
      expect((await dialerLog.next('message')).message).toBe('echo again');
      note('basics: connect resolved with certificateId(peer cert); peerCertificate is an X509Certificate on both sides');
    });

    it('a node id that is not certificateId(tls.cert), or no cert at all: TypeError at construction', () => {
      const { key, cert } = targetPair;
      expect(() => new Node({ nodeId: 'target', tls: { key, cert }, authenticateIds: true })).toThrowError(TypeError);
      expect(() => new Node({ nodeId: certificateId(canaryPair.cert), tls: { key, cert }, authenticateIds: true })).toThrowError(TypeError);
      expect(() => new Node({ nodeId: certificateId(cert), tls: { key }, authenticateIds: true })).toThrowError(TypeError);
      expect(() => new Node({ nodeId: certificateId(cert), authenticateIds: true })).toThrowError(TypeError);
    });

    it('a certificate without its key: TypeError at construction (it could never be presented)', () => {
      const { cert } = targetPair;
      expect(() => new Node({ nodeId: certificateId(cert), tls: { cert }, authenticateIds: true })).toThrowError(TypeError);
      expect(() => new Node({ nodeId: certificateId(cert), tls: { cert, ca: cert }, authenticateIds: true })).toThrowError(TypeError);
    });

    it('plain tcp: listen rejects with OPEN_ERROR, connect with CONNECTION_ERROR; the canary is unaffected', async () => {
      const a = await authenticatedArena();
      const { target } = a;
      expect(await outcomeOf(target.listen('127.0.0.1:0'))).toBe('OPEN_ERROR');
      expect(await outcomeOf(target.listen('tcp://127.0.0.1:0'))).toBe('OPEN_ERROR');
      expect(await outcomeOf(target.connect('127.0.0.1:1'))).toBe('CONNECTION_ERROR');
      expect(await outcomeOf(target.connect('tcp://127.0.0.1:1'))).toBe('CONNECTION_ERROR');
      expect(target.addresses()).toEqual([a.address]);
      await expectHealthy(a);
      note('basics: tcp listen -> OPEN_ERROR, tcp connect -> CONNECTION_ERROR');
    });
  });

  describe('impersonation', () => {
    /** A node with its own valid (self-signed) certificate and a friend's id in its handshake: without authenticateIds it may lie. */
    function impostorClaiming(friendId: string): ReturnType<typeof makeNode> {
      return makeNode({
        nodeId: friendId,
        tls: { key: attackerPair.key, cert: attackerPair.cert, rejectUnauthorized: false },
        linger: 200,
      });
    }

    it("a peer with a valid certificate claiming a friend's id is cut before it becomes a request", async () => {
      const a = await authenticatedArena();
      const friendId = certificateId(friendPair.cert);
      const impostor = impostorClaiming(friendId);
      const impostorLog = new EventLog(impostor);
      const failure = nextFailure(a.target);
      const connected = await outcomeOf(impostor.connect(a.address));
      const error = await failure;
      expect(error).toBeInstanceOf(NetError);
      expect(error.code).toBe('CONNECTION_ERROR');
      expect(error.nodeId).toBe(friendId);
      // The impostor's connect: the target's handshake may reach it before the cut, so it may resolve, then be disconnected.
      expect(['CONNECTION_ERROR', 'CONNECTION_ABORTED', 'resolved']).toContain(connected);
      if (connected === 'resolved') await impostorLog.next('disconnected', 3000);
      await until(() => !impostor.isConnected(a.targetId), 3000, 'the impostor is cut');
      expect(a.target.isConnected(friendId)).toBeFalse();
      expectNothingRegistered(a);
      await expectHealthy(a);
      note(`impersonation (impostor dials): target failures$ ${error.code}; impostor connect() ${connected}`);
    });

    it("a listener with a valid certificate claiming a friend's id: connect to it rejects with CONNECTION_ERROR", async () => {
      const a = await authenticatedArena();
      const friendId = certificateId(friendPair.cert);
      const impostor = impostorClaiming(friendId);
      impostor.events$.subscribe((event) => {
        if (event.type === 'connectionRequest') event.request.accept();
      });
      const impostorAddress = await impostor.listen('tls://127.0.0.1:0');
      const failure = nextFailure(a.target);
      const connected = await outcomeOf(a.target.connect(impostorAddress));
      expect(connected).toBe('CONNECTION_ERROR');
      const error = await failure;
      expect(error.code).toBe('CONNECTION_ERROR');
      expect(a.target.isConnected(friendId)).toBeFalse();
      expectNothingRegistered(a);
      await expectHealthy(a);
      note(`impersonation (target dials impostor): connect() ${connected}; target failures$ ${error.code}`);
    });
  });

  it('a peer with no certificate at all against key-bound ids: cut, CONNECTION_ERROR, nothing registered', async () => {
    const a = await authenticatedArena();
    const anonymous = makeNode({
      nodeId: certificateId(friendPair.cert),
      tls: { rejectUnauthorized: false },
      linger: 200,
    });
    const anonymousLog = new EventLog(anonymous);
    const failure = nextFailure(a.target);
    const connected = await outcomeOf(anonymous.connect(a.address));
    const error = await failure;
    expect(error).toBeInstanceOf(NetError);
    expect(error.code).toBe('CONNECTION_ERROR');
    // Cut right after the TLS handshake, before the target wrote a byte: never a connection, not even for a moment.
    expect(connected).toBe('CONNECTION_ERROR');
    expect(anonymousLog.ofType('connected')).toEqual([]);
    expectNothingRegistered(a);
    await expectHealthy(a);
    note(`no client certificate: target failures$ ${error.code}; anonymous connect() ${connected}`);
  });

  describe('with a ca (authenticateIds off)', () => {
    let ca: ReturnType<typeof certificateAuthority>;
    let other: ReturnType<typeof certificateAuthority>;

    beforeAll(() => {
      ca = certificateAuthority('attack-ca');
      other = certificateAuthority('other-ca');
    });

    async function caArena(): Promise<Arena> {
      const server = ca.issue('ca-target');
      const good = ca.issue('ca-canary');
      return arena({
        target: { nodeId: 'ca-target', tls: { key: server.key, cert: server.cert, ca: ca.cert } },
        canary: { nodeId: 'ca-canary', tls: { key: good.key, cert: good.cert, ca: ca.cert } },
      });
    }

    const cases: [string, () => KeyPair][] = [
      ['an expired client certificate', () => ca.issue('expired-client', { expired: true })],
      ['a client certificate signed by another CA', () => other.issue('foreign-client')],
    ];
    for (const [name, pairOf] of cases) {
      it(`${name}: refused, connect rejects with CONNECTION_ERROR, the listener registers nothing`, async () => {
        const a = await caArena();
        const pair = pairOf();
        // The attacker trusts the target's CA: only its own certificate is at fault.
        const attacker = makeNode({
          nodeId: 'ca-attacker',
          tls: { key: pair.key, cert: pair.cert, ca: ca.cert },
          linger: 200,
        });
        const connected = await outcomeOf(attacker.connect(a.address));
        expect(connected).toBe('CONNECTION_ERROR');
        expect(attacker.isConnected(a.targetId)).toBeFalse();
        await sleep(100);
        expectNothingRegistered(a);
        await expectHealthy(a);
        const failures = a.failures.map((failure) => failure.code).join(',') || 'nothing';
        note(`ca, ${name}: attacker connect() ${connected}; target failures$ ${failures}`);
      });
    }
  });

  describe('protocol confusion', () => {
    it('a msgpacknet handshake in clear to a tls:// port: the socket is closed, nothing registered', async () => {
      const a = await authenticatedArena();
      const socket = await rawSocket(a.address);
      const closed = closeTime(socket, 3000);
      socket.write(encoder.encode([null, certificateId(friendPair.cert)]));
      const ms = await closed;
      await sleep(50);
      expectNothingRegistered(a);
      await expectHealthy(a);
      const failures = a.failures.map((failure) => failure.code).join(',') || 'nothing';
      note(`clear handshake to tls port: socket closed by the node after ${ms.toFixed(0)} ms; failures$ ${failures}`);
    });

    it('a TLS ClientHello to a plain tcp port: a typed failure for that connection, the node lives on', async () => {
      const a = await arena({
        // Not key-bound (so it may listen on tcp too), but its id is its certificate's, so the canary can be.
        target: {
          nodeId: certificateId(targetPair.cert),
          tls: { key: targetPair.key, cert: targetPair.cert, rejectUnauthorized: false },
          handshakeTimeout: 1000,
        },
        canary: authenticated(canaryPair),
        tcp: true,
      });
      const failure = nextFailure(a.target);
      const { host, port } = hostPort(a.tcpAddress!);
      const tlsClient = tlsConnect({ host, port, rejectUnauthorized: false });
      const clientSaw = new Promise<string>((resolve) => {
        tlsClient.once('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.name}`));
        tlsClient.once('close', () => resolve('close'));
        tlsClient.once('secureConnect', () => resolve('secureConnect'));
      });
      const error = await failure;
      expect(error).toBeInstanceOf(NetError);
      expect(['READ_ERROR', 'TIMEOUT']).toContain(error.code);
      const client = await clientSaw;
      expect(client).not.toBe('secureConnect');
      tlsClient.destroy();
      expectNothingRegistered(a);
      await expectHealthy(a);
      note(`ClientHello to tcp port: target failures$ ${error.code}; the TLS client saw ${client}`);
    });
  });

  describe('stalled TLS handshakes', () => {
    const handshakeTimeout = 1000;
    const slack = 750;

    /** Waits for the node to close `socket` (it must, within handshakeTimeout + slack); the attacker's end is always destroyed after. */
    async function expectCutInTime(socket: Socket, what: string, started: number): Promise<void> {
      try {
        await closeTime(socket, handshakeTimeout + slack - (performance.now() - started));
        const total = performance.now() - started;
        note(`${what}: closed by the node after ${total.toFixed(0)} ms (handshakeTimeout ${handshakeTimeout})`);
        expect(total).toBeLessThan(handshakeTimeout + slack);
      } catch (error) {
        note(`${what}: STILL OPEN after ${handshakeTimeout + slack} ms (handshakeTimeout ${handshakeTimeout})`);
        throw error;
      } finally {
        socket.destroy();
      }
    }

    it('connecting to the tls:// port and sending nothing: closed within handshakeTimeout', async () => {
      const a = await authenticatedArena({ handshakeTimeout });
      const started = performance.now();
      const socket = await rawSocket(a.address);
      await expectCutInTime(socket, 'silent TLS client', started);
      expectNothingRegistered(a);
      await expectHealthy(a);
    });

    it('a partial ClientHello, then one byte every 200 ms: closed within handshakeTimeout, however steady the drip', async () => {
      const a = await authenticatedArena({ handshakeTimeout });
      const started = performance.now();
      const socket = await rawSocket(a.address);
      const prefix = 20;
      socket.write(hello.subarray(0, prefix));
      let sent = prefix;
      const drip = setInterval(() => {
        if (sent < hello.length - 1 && !socket.destroyed) socket.write(hello.subarray(sent, ++sent));
      }, 200);
      try {
        await expectCutInTime(socket, `dripped ClientHello (${hello.length} bytes, ${prefix} then 1 per 200 ms)`, started);
      } finally {
        clearInterval(drip);
      }
      expectNothingRegistered(a);
      await expectHealthy(a);
    });

    it('stalled handshakes give their maxPendingHandshakes slots back at handshakeTimeout, even if the attacker never leaves', async () => {
      const maxPendingHandshakes = 4;
      const a = await authenticatedArena({ handshakeTimeout, maxPendingHandshakes });
      const sockets = await Promise.all(Array.from({ length: maxPendingHandshakes }, () => rawSocket(a.address)));
      try {
        for (const socket of sockets) socket.write(hello.subarray(0, 20));
        await sleep(handshakeTimeout + slack);
        const open = sockets.filter((socket) => !socket.destroyed).length;
        const newcomer = makeNode(authenticated(newcomerPair));
        const connected = await outcomeOf(newcomer.connect(a.address, { timeout: 1000 }));
        note(
          `slots after handshakeTimeout: ${open} of ${maxPendingHandshakes} stalled sockets still open; a newcomer's connect() ${connected === 'resolved' ? 'resolved' : connected}; refusals on failures$: ${a.failures.filter((f) => f.limit === 'maxPendingHandshakes').length}`,
        );
        expect(open).toBe(0);
        expect(connected).toBe('resolved');
      } finally {
        for (const socket of sockets) socket.destroy();
      }
      await a.canary.exchange(5);
    });

    it('close() does not wait on a client stuck in its TLS handshake', async () => {
      const a = await authenticatedArena({ handshakeTimeout: 60_000 });
      const socket = await rawSocket(a.address);
      const closedSocket = closeTime(socket, 3000).catch(() => -1);
      try {
        await sleep(50);
        const started = performance.now();
        const closing = a.target.close().then(() => performance.now() - started);
        const ms = await Promise.race([closing, sleep(2000).then(() => -1)]);
        note(
          `close() with a client stuck in the TLS handshake: ${ms < 0 ? 'STILL PENDING after 2000 ms (linger 200)' : `resolved after ${ms.toFixed(0)} ms`}`,
        );
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(await Promise.race([closedSocket, sleep(500).then(() => -1)])).toBeGreaterThanOrEqual(0);
      } finally {
        socket.destroy();
      }
    });
  });

  it('a flood of stalled TLS handshakes: the excess over maxPendingHandshakes is refused at once', async () => {
    const maxPendingHandshakes = 8;
    const count = 50;
    const a = await authenticatedArena({ maxPendingHandshakes, handshakeTimeout: 3000 });
    const start = performance.now();
    const sockets = await Promise.all(Array.from({ length: count }, () => rawSocket(a.address)));
    for (const socket of sockets) if (!socket.destroyed) socket.write(hello.subarray(0, 20));
    const refusedOf = (): NetError[] => a.failures.filter((failure) => failure.limit === 'maxPendingHandshakes');
    await until(() => refusedOf().length >= count - maxPendingHandshakes, 2000, 'the excess refused');
    const refusedMs = performance.now() - start;
    for (const failure of refusedOf()) {
      expect(failure).toBeInstanceOf(NetError);
      expect(failure.code).toBe('CONNECTION_ERROR');
    }
    await sleep(100);
    const refused = refusedOf().length;
    expect(refused).toBe(count - maxPendingHandshakes);
    const closedByNode = sockets.filter((socket) => socket.destroyed || socket.readableEnded).length;
    // The canary is registered: it keeps working while every handshake slot is taken.
    await a.canary.exchange(5);
    // Meanwhile a legitimate newcomer is refused too (every slot is held).
    const early = makeNode(authenticated(newcomerPair));
    const earlyOutcome = await outcomeOf(early.connect(a.address, { timeout: 1000 }));
    expect(earlyOutcome).toBe('CONNECTION_ERROR');
    await early.close();

    for (const socket of sockets) socket.destroy();
    await sleep(100);
    const newcomer = makeNode(authenticated(newcomerPair));
    expect(await newcomer.connect(a.address)).toBe(a.targetId);
    await until(() => a.target.isConnected(newcomer.nodeId), 2000, 'the newcomer registered');
    await newcomer.close();
    await until(() => !a.target.isConnected(newcomer.nodeId), 2000, 'the newcomer gone');
    await a.canary.exchange(5);
    expect(a.target.isConnected(a.canaryId)).toBeTrue();
    expect(a.target.connectionCount).toBe(a.baseline);
    note(
      `flood: ${count} stalled handshakes, maxPendingHandshakes ${maxPendingHandshakes}: ${refused} refused (CONNECTION_ERROR, limit maxPendingHandshakes) within ${refusedMs.toFixed(0)} ms, ${closedByNode} sockets closed by then; a newcomer while the slots were held: ${earlyOutcome}; a newcomer after the attackers left: connected`,
    );
  });

  it('TLS 1.2 renegotiation is refused; the listener stays healthy', async () => {
    const a = await authenticatedArena();
    const { host, port } = hostPort(a.address);
    const attacker: TLSSocket = tlsConnect({
      host,
      port,
      key: attackerPair.key,
      cert: attackerPair.cert,
      rejectUnauthorized: false,
      maxVersion: 'TLSv1.2',
    });
    const errors: string[] = [];
    attacker.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.name));
    const closed = new Promise<void>((resolve) => attacker.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      attacker.once('secureConnect', () => resolve());
      attacker.once('error', reject);
    });
    expect(attacker.getProtocol()).toBe('TLSv1.2');
    // A valid msgpacknet handshake first (its id is its certificate's), so that the connection is a live one.
    const attackerId = certificateId(attackerPair.cert);
    attacker.write(encoder.encode([null, attackerId]));
    await until(() => a.target.isConnected(attackerId), 2000, 'the attacker registered');
    let renegotiated = 'no answer';
    const started = attacker.renegotiate({ rejectUnauthorized: false }, (error) => {
      renegotiated = error ? `error ${(error as NodeJS.ErrnoException).code ?? error.name}` : 'renegotiated';
    });
    if (!started) renegotiated = 'renegotiate() returned false';
    let gone = false;
    void closed.then(() => (gone = true));
    await until(() => renegotiated !== 'no answer' || errors.length > 0 || gone, 3000, 'the renegotiation refused');
    await until(() => !a.target.isConnected(attackerId), 3000, 'the target cut the attacker').catch(() => undefined);
    expect(renegotiated).not.toBe('renegotiated');
    expect(renegotiated.startsWith('error') || errors.length > 0 || gone).toBeTrue();
    expect(a.target.isConnected(attackerId)).toBeFalse();
    attacker.destroy();
    await until(() => !a.target.isConnected(attackerId), 3000, 'the attacker gone');
    const disconnects = a.log
      .ofType('disconnected')
      .filter((event) => event.nodeId === attackerId)
      .map((event) => `${event.reason}${event.error ? `/${event.error.code}` : ''}`);
    await a.canary.exchange(5);
    expect(a.target.isConnected(a.canaryId)).toBeTrue();
    expect(a.target.connectionCount).toBe(a.baseline);
    // A new legitimate connection still works.
    const newcomer = makeNode(authenticated(newcomerPair));
    expect(await newcomer.connect(a.address)).toBe(a.targetId);
    note(
      `renegotiation: renegotiate() -> ${renegotiated}; attacker errors [${errors.join(',')}], closed ${gone}; target saw disconnected ${disconnects.join(',') || 'none'}`,
    );
  });

  it('measures the TLS handshake cost (no timed assertion)', async () => {
    const n = 50;
    const listener = makeNode(authenticated(targetPair, { linger: 200 }));
    listener.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.accept();
    });
    const address = await listener.listen('tls://127.0.0.1:0');
    const dialer = makeNode(authenticated(canaryPair, { linger: 200 }));
    let total = 0;
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      expect(await dialer.connect(address)).toBe(listener.nodeId);
      total += performance.now() - start;
      await dialer.disconnect(listener.nodeId);
      await until(() => !listener.isConnected(dialer.nodeId), 2000, 'the listener saw the disconnect');
    }
    // The same with plain TCP, for comparison.
    const plain = makeNode({ nodeId: 'plain-listener', linger: 200 });
    plain.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.accept();
    });
    const plainAddress = await plain.listen('127.0.0.1:0');
    const plainDialer = makeNode({ nodeId: 'plain-dialer', linger: 200 });
    let plainTotal = 0;
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      await plainDialer.connect(plainAddress);
      plainTotal += performance.now() - start;
      await plainDialer.disconnect('plain-listener');
      await until(() => !plain.isConnected('plain-dialer'), 2000, 'the listener saw the disconnect');
    }
    const line = `TLS connect: ${(total / n).toFixed(2)} ms each (N=${n}); plain TCP connect: ${(plainTotal / n).toFixed(2)} ms each (N=${n})`;
    console.log(`\n${line}`);
    note(line);
    expect(total).toBeGreaterThan(0);
  });
});
