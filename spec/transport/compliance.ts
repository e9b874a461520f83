import { firstValueFrom, tap, toArray } from 'rxjs';
import { Encoder } from '../../lib/codec/Encoder.js';
import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';
import type { NetError } from '../../lib/errors.js';
import type { Node } from '../../lib/node/Node.js';
import { parseAddress, type Endpoint } from '../../lib/transport/address.js';
import type { ByteStream, Listener, Transport } from '../../lib/transport/Transport.js';
import { concatBytes, hex } from '../helpers/bytes.js';
import { EventLog, makeNode, sleep, until } from '../helpers/nodes.js';
import { itUnlessKnown } from '../helpers/runtime.js';
import { KNOWN_FAILURES } from '../knownFailures.js';

/** How a transport is set up for the suite. */
export interface TransportUnderTest {
  /** Its name, for the spec titles. */
  readonly name: string;
  readonly transport: Transport;
  /** The address a test node listens on (port 0), in the transport's form, e.g. `tcp://127.0.0.1:0`. */
  readonly listenAddress: string;
  /** Node options the transport needs (e.g. `tls`). */
  readonly nodeOptions?: object;
}

/** A stream pair: one from `connect`, the listener's end of it. */
async function pair(under: TransportUnderTest): Promise<{ client: ByteStream; server: ByteStream; listener: Listener }> {
  let accepted!: (stream: ByteStream) => void;
  const server = new Promise<ByteStream>((resolve) => (accepted = resolve));
  const listener = await under.transport.listen(parseAddress(under.listenAddress, 'OPEN_ERROR'), (stream) => accepted(stream));
  const client = await under.transport.connect(endpointOf(under, listener.address), new AbortController().signal);
  return { client, server: await server, listener };
}

function endpointOf(under: TransportUnderTest, hostPort: string): Endpoint {
  const given = parseAddress(under.listenAddress, 'OPEN_ERROR');
  const bound = parseAddress(hostPort, 'CONNECTION_ERROR');
  return { ...given, host: bound.host, port: bound.port };
}

/** Everything a stream receives until it ends, or the error it ends with. */
async function drain(stream: ByteStream): Promise<Uint8Array> {
  return concatBytes(...(await firstValueFrom(stream.chunks$.pipe(toArray()))));
}

const encoder = new Encoder({ maxValueBytes: 64 * 1024 * 1024 });
const encode = (value: unknown): Uint8Array => encoder.encode(value);

/**
 * The transport compliance suite (as js-libp2p's interface-compliance-tests):
 * every transport runs these same cases, first on its byte streams, then
 * with nodes talking over it. A new transport is proven by passing them, not
 * by cases written for it.
 */
export function transportCompliance(under: TransportUnderTest): void {
  describe(`transport compliance: ${under.name}`, () => {
    const listeners: Listener[] = [];
    const streams: ByteStream[] = [];
    afterEach(async () => {
      for (const stream of streams.splice(0)) stream.destroy();
      await Promise.all(listeners.splice(0).map((listener) => listener.close()));
    });
    async function open(): Promise<{ client: ByteStream; server: ByteStream }> {
      const { client, server, listener } = await pair(under);
      listeners.push(listener);
      streams.push(client, server);
      return { client, server };
    }

    describe('byte streams', () => {
      // On Bun and Deno, a case of KNOWN_FAILURES is pending there, with its reason.
      const it = itUnlessKnown(KNOWN_FAILURES, `transport compliance: ${under.name} byte streams`);
      it('carry bytes both ways in order, and report the peer as "host:port"', async () => {
        const { client, server } = await open();
        const toServer = drain(server);
        const toClient = drain(client);
        const big = new Uint8Array(300_000).map((_, i) => i % 251);
        client.write(hex('01 02'));
        client.write(big);
        server.write(hex('03'));
        client.end();
        server.end();
        expect(await toServer).toEqual(concatBytes(hex('01 02'), big));
        expect(await toClient).toEqual(hex('03'));
        expect(client.remoteAddress).toMatch(/^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):\d+$/);
        expect(server.remoteAddress).toMatch(/^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):\d+$/);
      });

      it('end(): the peer reads what was written, then the end of the stream; both close', async () => {
        const { client, server } = await open();
        const received = drain(server);
        client.write(hex('aa bb'));
        client.end();
        expect(client.writable).toBeFalse();
        expect(await received).toEqual(hex('aa bb'));
        expect(await client.closed).toBeUndefined();
        expect(await server.closed).toBeUndefined();
      });

      it('destroy(true): the peer sees CONNECTION_ABORTED; destroy(): an end of stream', async () => {
        const aborted = await open();
        let read = 0;
        const outcome = firstValueFrom(
          aborted.server.chunks$.pipe(
            tap((chunk) => (read += chunk.length)),
            toArray(),
          ),
        ).then(
          () => 'ended',
          (error: unknown) => (error as NetError).code,
        );
        // Once a byte went through, both sides are done with any transport handshake (TLS 1.3 sends tickets after it).
        aborted.client.write(hex('00'));
        await until(() => read === 1);
        aborted.client.destroy(true);
        expect(await outcome).toBe('CONNECTION_ABORTED');
        const ended = await open();
        const received = drain(ended.server);
        ended.client.destroy();
        expect(await received).toEqual(new Uint8Array(0));
      });

      it('pause(): nothing is read, so the writer queues; resume(): it drains and whenDrained calls back', async () => {
        const { client, server } = await open();
        server.pause();
        const chunks: Uint8Array[] = [];
        server.chunks$.subscribe((chunk) => chunks.push(chunk));
        const block = new Uint8Array(1024 * 1024);
        for (let i = 0; i < 32 && client.queuedBytes === 0; i++) {
          client.write(block);
          await sleep(10);
        }
        await until(() => client.queuedBytes > 0, 5000, 'bytes queued behind a paused reader');
        const read = chunks.length;
        await sleep(50);
        expect(chunks.length).toBe(read); // paused: no more reads
        const drained = new Promise<void>((resolve) => client.whenDrained(resolve));
        server.resume();
        await drained;
        expect(client.queuedBytes).toBe(0);
      });
    });

    describe('nodes over it', () => {
      const it = itUnlessKnown(KNOWN_FAILURES, `transport compliance: ${under.name} nodes over it`);
      async function listeningNode(options: object = {}): Promise<{ node: Node<unknown, string>; address: string; log: EventLog }> {
        const node = makeNode({ nodeId: 'server', ...under.nodeOptions, ...options });
        const log = new EventLog(node);
        node.events$.subscribe((event) => {
          if (event.type === 'connectionRequest') event.request.accept();
        });
        const address = await node.listen(under.listenAddress);
        return { node, address, log };
      }

      /** A raw client stream to a node, its handshake sent, and everything it receives. */
      async function raw(address: string, ...bytes: Uint8Array[]): Promise<{ stream: ByteStream; received: Promise<Uint8Array> }> {
        const stream = await under.transport.connect(parseAddress(address, 'CONNECTION_ERROR'), new AbortController().signal);
        streams.push(stream);
        const received = drain(stream).catch(() => new Uint8Array(0));
        for (const part of bytes) stream.write(part);
        return { stream, received };
      }

      it('listen answers in the form it was given; handshakes go both ways; messages flow both ways', async () => {
        const server = await listeningNode();
        expect(server.address.startsWith(under.listenAddress.replace(/:0(\/.*)?$/, ':'))).toBeTrue();
        const client = makeNode({ nodeId: 'client', ...under.nodeOptions });
        const clientLog = new EventLog(client);
        expect(await client.connect(server.address)).toBe('server');
        expect((await server.log.next('connected')).nodeId).toBe('client');
        client.send('server', 'ping');
        expect(await server.log.messages(1)).toEqual(['ping']);
        server.node.send('client', 'pong');
        expect(await clientLog.messages(1)).toEqual(['pong']);
      });

      it('values split anywhere (one byte per write) arrive whole and in order', async () => {
        const server = await listeningNode();
        const bytes = concatBytes(encode([null, 'bytewise']), encode({ a: [1, 2, 'three'] }), encode('x'.repeat(300)), encode(2n ** 60n));
        const { stream } = await raw(server.address);
        for (const byte of bytes) {
          stream.write(Uint8Array.of(byte));
          await sleep(0);
        }
        expect(await server.log.messages(3)).toEqual([{ a: [1, 2, 'three'] }, 'x'.repeat(300), 2n ** 60n]);
      });

      it('a broken limit ends that connection with READ_ERROR naming the limit; others are unaffected', async () => {
        const server = await listeningNode({ maxValueBytes: 1024 });
        const other = makeNode({ nodeId: 'other', ...under.nodeOptions });
        await other.connect(server.address);
        await raw(server.address, encode([null, 'greedy']), hex('db 00 10 00 00')); // a 1 MiB string
        const disconnected = await server.log.next('disconnected');
        expect(disconnected.nodeId).toBe('greedy');
        expect(disconnected.error?.code).toBe('READ_ERROR');
        expect(disconnected.error?.limit).toBe('maxStrLength');
        other.send('server', 'still here');
        expect(await server.log.messages(1)).toEqual(['still here']);
      });

      it('a silent peer is closed as idle after connectionTimeout', async () => {
        const server = await listeningNode({ connectionTimeout: 300 });
        await raw(server.address, encode([null, 'silent']));
        const disconnected = await server.log.next('disconnected', 5000);
        expect(disconnected.reason).toBe('idle');
        expect(disconnected.error?.code).toBe('TIMEOUT');
      });

      it("the peer's end of stream is 'remote-closed'; its abortive close is 'error' with CONNECTION_ABORTED", async () => {
        const server = await listeningNode();
        const fin = await raw(server.address, encode([null, 'fin']));
        await server.log.next('connected');
        fin.stream.end();
        expect((await server.log.next('disconnected')).reason).toBe('remote-closed');
        const reset = await raw(server.address, encode([null, 'reset']));
        await server.log.next('connected');
        reset.stream.destroy(true);
        const aborted = await server.log.next('disconnected');
        expect(aborted.reason).toBe('error');
        expect(aborted.error?.code).toBe('CONNECTION_ABORTED');
      });

      it('close() with queued data: everything sent arrives before the end of stream', async () => {
        const server = await listeningNode();
        const { received } = await raw(server.address, encode([null, 'reader']));
        await server.log.next('connected');
        const payload = 'y'.repeat(10_000);
        for (let i = 0; i < 200; i++) server.node.send('reader', [i, payload]);
        await server.node.close();
        const values = decodeAll(await received);
        expect(values.length).toBe(201); // the handshake, then every message
        expect((values.at(-1) as [number, string])[0]).toBe(199);
      });

      it('a half-close before the decision: accept() delivers what the peer sent, then remote-closed', async () => {
        const node = makeNode({ nodeId: 'server', ...under.nodeOptions });
        const log = new EventLog(node);
        const address = await node.listen(under.listenAddress);
        const { stream } = await raw(address, encode([null, 'half']), encode('one'), encode('two'));
        stream.end();
        const request = await log.next('connectionRequest');
        await sleep(100);
        expect(request.request.accept()).toBeTrue();
        expect(await log.messages(2)).toEqual(['one', 'two']);
        expect((await log.next('disconnected')).reason).toBe('remote-closed');
      });

      it('backpressure: a peer that does not read makes the connection unwritable; drain() resolves once it reads', async () => {
        const server = await listeningNode({ writeHighWaterMark: 64 * 1024 });
        const { stream } = await raw(server.address, encode([null, 'slow']));
        await server.log.next('connected');
        stream.pause();
        const block = new Uint8Array(256 * 1024);
        let unwritable = false;
        server.node.writable$('slow').subscribe((writable) => (unwritable ||= !writable));
        for (let i = 0; i < 64 && !unwritable; i++) {
          server.node.send('slow', block);
          await sleep(5);
        }
        expect(unwritable).toBeTrue();
        const drained = server.node.drain('slow');
        stream.resume();
        await drained;
        expect(server.node.isConnected('slow')).toBeTrue();
      });
    });
  });
}

/** Decodes every whole value in some bytes (the test's own reader). */
function decodeAll(bytes: Uint8Array): unknown[] {
  const values: unknown[] = [];
  new FrameDecoder({ maxValueBytes: 64 * 1024 * 1024 }).write(bytes, (value) => values.push(value));
  return values;
}
