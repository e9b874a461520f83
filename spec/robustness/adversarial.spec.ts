import { readdirSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { filter, firstValueFrom, take, toArray, timeout as rxTimeout } from 'rxjs';
import type { NodeOptions } from '../../lib/options.js';
import type { DisconnectedEvent, MessageEvent } from '../../lib/events.js';
import type { NetError } from '../../lib/errors.js';
import type { Node } from '../../lib/node/Node.js';
import { Encoder } from '../../lib/codec/Encoder.js';
import { concatBytes, hex, prng } from '../helpers/bytes.js';
import { client, sleep, until, makeNode, EventLog } from '../helpers/nodes.js';

/**
 * Every attacker here is a raw node:net socket, never the library. Each case
 * checks: one typed outcome for the bad connection; a canary connection
 * exchanging numbered messages throughout sees no gap, duplicate or
 * reordering; and afterwards no socket, timer or file descriptor is left
 * behind. The whole Node spec run has a 512 MB heap (--max-old-space-size),
 * so unbounded buffering would crash it.
 */

const encoder = new Encoder({ maxValueBytes: 128 * 1024 * 1024 });
const encode = (value: unknown): Uint8Array => encoder.encode(value);
const HANDSHAKE = encode([null, 'attacker']);

function attacker(address: string): Promise<Socket> {
  const [, host, port] = /^(.*):(\d+)$/.exec(address)!;
  return new Promise((resolve, reject) => {
    const socket = netConnect(Number(port), host, () => resolve(socket));
    socket.on('error', () => undefined); // resets are expected here
    socket.once('connect', () => socket.off('error', reject));
    socket.once('error', reject);
  });
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

/** Ping-pong of numbered messages between a canary client and the target, for as long as the case runs. */
class Canary {
  readonly received: number[] = [];
  private running = true;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly node: Node<number, string>,
    private readonly log: EventLog<number>,
  ) {}

  start(): void {
    this.loop = (async () => {
      for (let seq = 0; this.running; seq++) {
        this.node.send('target', seq);
        const [echo] = await this.log.messages(1, 10_000);
        this.received.push(echo!);
        await sleep(1);
      }
    })();
  }

  async stop(): Promise<number[]> {
    this.running = false;
    await this.loop;
    return this.received;
  }
}

describe('adversarial peers', () => {
  let target: Node<unknown, string>;
  let address: string;
  let canary: Canary;
  let fdsBefore: number;
  let timersBefore: number;

  async function setUp(options: NodeOptions<unknown, string, null> = {}): Promise<void> {
    target = makeNode({ nodeId: 'target', handshakeTimeout: 400, writeTimeout: 500, linger: 200, ...options });
    target.events$.subscribe((event) => {
      if (event.type === 'connectionRequest' && event.request.initMessage !== 'hold') event.request.accept();
      if (event.type === 'message' && event.from === 'canary') target.send('canary', event.message);
    });
    address = await target.listen('127.0.0.1:0');
    const c = client<number>({ id: 'canary' });
    await c.node.connect(address);
    canary = new Canary(c.node, c.log);
    canary.start();
    await until(() => canary.received.length > 3);
    fdsBefore = openFds();
    timersBefore = timers();
  }

  /** The next failure of a connection that never registered. */
  function nextFailure(ms = 3000): Promise<NetError> {
    return firstValueFrom(target.failures$.pipe(rxTimeout(ms)));
  }

  /** The next `disconnected` of the attacker (a registered connection). */
  function nextDisconnect(ms = 3000): Promise<DisconnectedEvent<string>> {
    return firstValueFrom(
      target.events$.pipe(
        filter((event): event is DisconnectedEvent<string> => event.type === 'disconnected' && event.nodeId === 'attacker'),
        rxTimeout(ms),
      ),
    );
  }

  async function expectHealthy(): Promise<void> {
    const seen = canary.received.length;
    await until(() => canary.received.length > seen + 3, 5000, 'canary progress after the attack');
    const received = await canary.stop();
    expect(received).toEqual(received.map((_, i) => i)); // no gap, duplicate or reordering
    expect(target.isConnected('canary')).toBeTrue();
    await until(() => openFds() <= fdsBefore, 3000, `file descriptors back to ${fdsBefore}`);
    await until(() => timers() <= timersBefore, 3000, `timers back to ${timersBefore}`);
    expect(target.stats().connections.map((c) => c.nodeId)).toEqual(['canary']);
  }

  describe('garbage instead of a handshake', () => {
    const cases: [string, Uint8Array][] = [
      ['an HTTP request', new TextEncoder().encode('GET / HTTP/1.1\r\nHost: target\r\n\r\n')],
      ['a TLS ClientHello', hex('16 03 01 00 a5 01 00 00 a1 03 03')],
      ['the byte c1', hex('c1')],
      ['a map', encode({ init: null, id: 'x' })],
      ['a 3-array', encode([null, 'x', 1])],
      ['a string', encode('hello')],
    ];
    for (const [name, bytes] of cases) {
      it(`${name}: READ_ERROR, nothing else disturbed`, async () => {
        await setUp();
        const failure = nextFailure();
        const socket = await attacker(address);
        socket.write(bytes);
        expect((await failure).code).toBe('READ_ERROR');
        socket.destroy();
        await expectHealthy();
      });
    }

    it('random bytes: one typed failure per connection, for 50 connections', async () => {
      await setUp();
      const next = prng(7);
      const failures = firstValueFrom(target.failures$.pipe(take(50), toArray(), rxTimeout(5000)));
      const sockets = await Promise.all(Array.from({ length: 50 }, () => attacker(address)));
      for (const socket of sockets) socket.write(new Uint8Array(64).map(() => Math.floor(next() * 256)));
      for (const failure of await failures) expect(['READ_ERROR', 'TIMEOUT']).toContain(failure.code);
      for (const socket of sockets) socket.destroy();
      await expectHealthy();
    });
  });

  describe('slowloris', () => {
    it('connecting and sending nothing: TIMEOUT at the handshake deadline', async () => {
      await setUp();
      const failure = nextFailure();
      const socket = await attacker(address);
      expect((await failure).code).toBe('TIMEOUT');
      socket.destroy();
      await expectHealthy();
    });

    it('dripping a handshake one byte at a time: TIMEOUT at the absolute deadline, however steady the drip', async () => {
      await setUp();
      const failure = nextFailure();
      const socket = await attacker(address);
      const slow = encode([null, 'x'.repeat(200)]);
      let stop = false;
      void (async () => {
        for (let i = 0; i < slow.length && !stop && !socket.destroyed; i++) {
          socket.write(slow.subarray(i, i + 1));
          await sleep(20);
        }
      })();
      expect((await failure).code).toBe('TIMEOUT');
      stop = true;
      socket.destroy();
      await expectHealthy();
    });

    it('a handshake missing its last byte, then silence: TIMEOUT', async () => {
      await setUp();
      const failure = nextFailure();
      const socket = await attacker(address);
      socket.write(HANDSHAKE.subarray(0, HANDSHAKE.length - 1));
      expect((await failure).code).toBe('TIMEOUT');
      socket.destroy();
      await expectHealthy();
    });
  });

  it('a handshake flood: sockets beyond maxPendingHandshakes are refused at once, the rest time out', async () => {
    // A deadline long enough for all 150 to connect before any slot frees up, even on a slow machine.
    await setUp({ maxPendingHandshakes: 50, handshakeTimeout: 2500 });
    const failures = firstValueFrom(target.failures$.pipe(take(150), toArray(), rxTimeout(10_000)));
    const sockets = await Promise.all(Array.from({ length: 150 }, () => attacker(address)));
    const codes = (await failures).map((f) => `${f.code}${f.limit === 'maxPendingHandshakes' ? ':refused' : ''}`);
    expect(codes.filter((c) => c === 'CONNECTION_ERROR:refused').length).toBe(100);
    expect(codes.filter((c) => c === 'TIMEOUT').length).toBe(50);
    for (const socket of sockets) socket.destroy();
    await expectHealthy();
  });

  it('messages pipelined before the accept decision beyond maxPendingMessages: READ_ERROR', async () => {
    await setUp({ maxPendingMessages: 100 });
    const failure = nextFailure();
    const socket = await attacker(address);
    socket.write(concatBytes(encode(['hold', 'attacker']), ...Array.from({ length: 1000 }, (_, i) => encode(i))));
    const error = await failure;
    expect([error.code, error.limit]).toEqual(['READ_ERROR', 'maxPending']);
    socket.destroy();
    await expectHealthy();
  });

  it('a peer resetting before the accept decision: one CONNECTION_ABORTED, and the request is void', async () => {
    await setUp();
    const request = firstValueFrom(
      target.events$.pipe(
        filter((event) => event.type === 'connectionRequest'),
        rxTimeout(2000),
      ),
    );
    const failure = nextFailure();
    const socket = await attacker(address);
    socket.write(encode(['hold', 'attacker']));
    const event = await request;
    expect(event.type).toBe('connectionRequest');
    socket.resetAndDestroy();
    expect((await failure).code).toBe('CONNECTION_ABORTED');
    if (event.type === 'connectionRequest') {
      expect(event.request.isPending).toBeFalse();
      expect(event.request.accept()).toBeFalse();
    }
    await expectHealthy();
  });

  it('a peer ending (FIN) before the accept decision and never accepted: one TIMEOUT at the decision deadline', async () => {
    // A FIN may be a half-close (the peer still reads), so the request stays until the deadline.
    await setUp();
    const failure = nextFailure();
    const socket = await attacker(address);
    socket.end(encode(['hold', 'attacker']));
    const error = await failure;
    expect(error.code).toBe('TIMEOUT');
    expect(error.limit).toBe('handshakeTimeout');
    socket.destroy();
    await expectHealthy();
  });

  describe('after a valid handshake', () => {
    const cases: [string, Uint8Array, string][] = [
      ['a header claiming a 4 GiB string', hex('db ff ff ff ff'), 'maxStrLength'],
      ['a header claiming a 4 GiB binary', hex('c6 ff ff ff ff'), 'maxBinLength'],
      ['a header claiming 4 billion array items', hex('dd ff ff ff ff'), 'maxArrayLength'],
      ['a header claiming 4 billion map entries', hex('df ff ff ff ff'), 'maxMapLength'],
      ['nesting a million deep', new Uint8Array(1_000_000).fill(0x91), 'maxDepth'],
      ['corruption after good traffic', concatBytes(encode('good'), encode([1, 2]), hex('c1')), ''],
      ['a string that is not UTF-8', concatBytes(encode({ ok: 1 }), hex('81 a2 c3 28 01')), ''],
      ['the stream ending inside a value', hex('92 01 db 00 00 00 10 61'), ''],
    ];
    for (const [name, bytes, limit] of cases) {
      it(`${name}: disconnected with READ_ERROR${limit ? ` (${limit})` : ''}, naming the peer's address`, async () => {
        await setUp();
        const socket = await attacker(address);
        socket.write(HANDSHAKE);
        await until(() => target.isConnected('attacker'));
        const gone = nextDisconnect();
        socket.end(bytes);
        const { error } = await gone;
        expect(error?.code).toBe('READ_ERROR');
        expect(error?.address).toBe(`127.0.0.1:${socket.localPort}`);
        if (limit) expect(error?.limit).toBe(limit);
        socket.destroy();
        await expectHealthy();
      });
    }
  });

  it('a peer that never reads: the queue stays within maxQueuedBytes, send throws SEND_ERROR, then slow-consumer', async () => {
    await setUp({ maxQueuedBytes: 4 * 1024 * 1024, writeHighWaterMark: 1024 * 1024 });
    const socket = await attacker(address);
    socket.write(HANDSHAKE);
    socket.pause();
    await until(() => target.isConnected('attacker'));
    const gone = nextDisconnect(5000);
    const chunk = new Uint8Array(64 * 1024);
    let refused: NetError | undefined;
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 1000 && !refused; i++) {
      try {
        target.send('attacker', chunk);
      } catch (error) {
        refused = error as NetError;
      }
      await sleep(0);
    }
    expect(refused?.code).toBe('SEND_ERROR');
    expect(refused?.limit).toBe('maxQueuedBytes');
    const grown = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore;
    expect(grown).toBeLessThan(32 * 1024 * 1024);
    const event = await gone;
    expect(event.reason).toBe('slow-consumer');
    expect(event.error?.limit).toBe('writeTimeout');
    socket.destroy();
    await expectHealthy();
  });

  it('a 64 MiB message with raised limits arrives whole', async () => {
    await setUp({ maxValueBytes: 65 * 1024 * 1024 });
    const received = firstValueFrom(
      target.events$.pipe(
        filter((event): event is MessageEvent<unknown, string> => event.type === 'message' && event.from === 'attacker'),
        rxTimeout(20_000),
      ),
    );
    // The bytes are built before connecting: building 64 MiB can take longer than the 400 ms handshake deadline.
    const big = new Uint8Array(64 * 1024 * 1024);
    big[big.length - 1] = 7;
    const bytes = concatBytes(HANDSHAKE, encode(big));
    const socket = await attacker(address);
    socket.write(bytes);
    const message = (await received).message as Uint8Array;
    expect(message.length).toBe(big.length);
    expect(message[message.length - 1]).toBe(7);
    socket.destroy();
    await expectHealthy();
  }, 60_000);
});
