import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { ExtData } from '@msgpack/msgpack';
import { firstValueFrom, timeout as rxTimeout } from 'rxjs';
import { Encoder } from '../../lib/codec/Encoder.js';
import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';
import type { NetError } from '../../lib/errors.js';
import type { ConnectionRequest } from '../../lib/node/ConnectionRequest.js';
import type { Node } from '../../lib/node/Node.js';
import type { NodeOptions } from '../../lib/options.js';
import { concatBytes, hex } from '../helpers/bytes.js';
import { client, listening, makeNode, sleep, until, EventLog } from '../helpers/nodes.js';

/**
 * The defects of issue 9, each reproduced over real loopback sockets by a
 * raw node:net peer: each of these specs failed before its fix.
 */

const encoder = new Encoder({ maxValueBytes: 64 * 1024 * 1024, maxDepth: 5000 });
const encode = (value: unknown): Uint8Array => encoder.encode(value);

function rawPeer(address: string): Promise<Socket> {
  const [, host, port] = /^(.*):(\d+)$/.exec(address)!;
  return new Promise((resolve, reject) => {
    const socket = netConnect(Number(port), host, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined); // resets are part of these cases
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** A listening node that keeps every request for the spec to decide ('hold'). */
async function holding(options: NodeOptions<unknown, unknown, null> = {}): Promise<{
  node: Node;
  address: string;
  log: EventLog;
  requests: ConnectionRequest[];
}> {
  const node = makeNode<unknown, unknown>({ nodeId: 'target', ...options });
  const log = new EventLog(node);
  const requests: ConnectionRequest[] = [];
  node.events$.subscribe((event) => {
    if (event.type === 'connectionRequest') requests.push(event.request);
  });
  const address = await node.listen('127.0.0.1:0');
  return { node, address, log, requests };
}

const nested = (depth: number, inner: unknown = null): unknown => {
  let value: unknown = inner;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};

describe('hardening (issue 9)', () => {
  describe('1. a node id that the key encoder refused crashed the process', () => {
    it('a handshake whose id nests 65 deep (69 bytes) becomes a request for that id', async () => {
      const { address, requests, log } = await holding();
      const socket = await rawPeer(address);
      socket.write(Buffer.from('92c0' + '91'.repeat(65) + 'c0', 'hex'));
      await until(() => requests.length === 1);
      expect(requests[0]!.nodeId).toEqual(nested(65));
      expect(requests[0]!.accept()).toBeTrue();
      expect((await log.next('connected')).nodeId).toEqual(nested(65));
      socket.destroy();
    });

    it('a handshake whose id is a timestamp outside the Date range: the id is ExtData(-1) with its bytes', async () => {
      const { address, requests } = await holding();
      const socket = await rawPeer(address);
      socket.write(hex('92 c0 c7 0c ff 00000000 7fffffffffffffff'));
      await until(() => requests.length === 1);
      const id = requests[0]!.nodeId;
      expect(id).toBeInstanceOf(ExtData);
      expect((id as ExtData).type).toBe(-1);
      expect(Buffer.from((id as ExtData).data as Uint8Array).toString('hex')).toBe('000000007fffffffffffffff');
      expect(requests[0]!.accept()).toBeTrue();
      socket.destroy();
    });

    it('an id too deep for the key encoder (the node allows maxDepth 3000): a READ_ERROR failure, and the node lives on', async () => {
      const { node, address, requests } = await holding({ maxDepth: 3000 });
      const failure = firstValueFrom(node.failures$.pipe(rxTimeout(3000)));
      const socket = await rawPeer(address);
      socket.write(encode([null, nested(1500)]));
      const error = await failure;
      expect(error.code).toBe('READ_ERROR');
      expect(requests).toEqual([]);
      const other = client({ id: 'after' });
      const connecting = other.node.connect(address);
      await until(() => requests.length === 1);
      requests[0]!.accept();
      expect(await connecting).toBe('target');
    });

    it('connect() to a hostile listener answering with such ids resolves with the id; the client lives on', async () => {
      const answers = [Buffer.from('92c0' + '91'.repeat(65) + 'c0', 'hex'), hex('92 c0 c7 0c ff 00000000 7fffffffffffffff')];
      const servers: Server[] = [];
      try {
        for (const answer of answers) {
          const server = createServer((socket) => {
            socket.on('error', () => undefined);
            socket.write(answer);
          });
          servers.push(server);
          await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
          const { port } = server.address() as { port: number };
          const { node } = client();
          const id = await node.connect(`127.0.0.1:${port}`);
          expect(node.isConnected(id as never)).toBeTrue();
        }
      } finally {
        for (const server of servers) server.close();
      }
    });
  });

  describe('2. connected was emitted before the connection was open', () => {
    it('send() from a connected handler works on both sides', async () => {
      const server = await listening<string>();
      const c = client<string>();
      for (const [node, text] of [
        [server.node, 'hello from the listener'],
        [c.node, 'hello from the client'],
      ] as const) {
        node.events$.subscribe((event) => {
          if (event.type === 'connected') node.send(event.nodeId, text);
        });
      }
      await c.node.connect(server.address);
      expect(await server.log.messages(1)).toEqual(['hello from the client']);
      expect(await c.log.messages(1)).toEqual(['hello from the listener']);
    });
  });

  describe('3. maxDepth skipped empty containers', () => {
    it('an empty array or map is a level: depth 3 with maxDepth 2 is a READ_ERROR', () => {
      for (const bytes of [hex('91 91 90'), hex('91 91 80'), hex('81 a1 61 91 90')]) {
        const decoder = new FrameDecoder({ maxDepth: 2 });
        expect(() => decoder.write(bytes, () => undefined)).toThrowMatching((error: NetError) => error.limit === 'maxDepth');
      }
      const values: unknown[] = [];
      new FrameDecoder({ maxDepth: 2 }).write(hex('91 90'), (value) => values.push(value));
      expect(values).toEqual([[[]]]);
    });

    it('a handshake 1001 deep with [] innermost is refused, as the own Encoder refuses it', async () => {
      // [init, id] is a level, 999 arrays around [] are 1000 more.
      expect(() => new Encoder().encode([nested(999, []), 'deep'])).toThrowMatching((error: NetError) => error.code === 'SEND_ERROR');
      const { node, address, requests } = await holding();
      const failure = firstValueFrom(node.failures$.pipe(rxTimeout(3000)));
      const socket = await rawPeer(address);
      socket.write(encode([nested(999, []), 'deep']));
      const error = await failure;
      expect(error.code).toBe('READ_ERROR');
      expect(error.limit).toBe('maxDepth');
      expect(requests).toEqual([]);
    });
  });

  describe('4. a half-close before the decision lost the request and its messages', () => {
    it('accept() after the peer ended its side: connected, its messages in order, then disconnected remote-closed', async () => {
      const { address, requests, log } = await holding();
      const socket = await rawPeer(address);
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.end(concatBytes(encode([null, 'half']), encode('one'), encode('two'), encode('three')));
      await until(() => requests.length === 1);
      await sleep(100); // the FIN has arrived
      expect(requests[0]!.isPending).toBeTrue();
      expect(requests[0]!.accept()).toBeTrue();
      expect((await log.next('connected')).nodeId).toBe('half');
      expect(await log.messages(3)).toEqual(['one', 'two', 'three']);
      const disconnected = await log.next('disconnected');
      expect(disconnected.reason).toBe('remote-closed');
      // It still read: the listener's handshake reached it.
      await until(() => received.length > 0);
      expect(Buffer.concat(received).subarray(0, 3)).toEqual(Buffer.from(encode([null, 'target'])).subarray(0, 3));
    });
  });

  describe('5. a reset after pipelining before the decision went unnoticed', () => {
    it('200 KB of messages then a reset: the request is void (isPending false, accept() false), one CONNECTION_ABORTED', async () => {
      const { node, address, requests, log } = await holding();
      const failure = firstValueFrom(node.failures$.pipe(rxTimeout(3000)));
      const socket = await rawPeer(address);
      const payload = 'x'.repeat(1000);
      const messages = Array.from({ length: 200 }, (_, i) => encode({ i, payload }));
      socket.write(concatBytes(encode([null, 'pipeliner']), ...messages));
      await until(() => requests.length === 1);
      await sleep(100);
      socket.resetAndDestroy();
      expect((await failure).code).toBe('CONNECTION_ABORTED');
      expect(requests[0]!.isPending).toBeFalse();
      expect(requests[0]!.accept()).toBeFalse();
      expect(log.types).not.toContain('connected');
      expect(node.connectionCount).toBe(0);
    });

    it('beyond maxPendingBytes the peer is read no further until the decision; then everything arrives in order', async () => {
      const { address, requests, log } = await holding({ maxPendingBytes: 64 * 1024 });
      const socket = await rawPeer(address);
      const payload = 'y'.repeat(4000);
      const count = 300; // 1.2 MB on the wire, far beyond the budget
      socket.write(concatBytes(encode([null, 'pipeliner']), ...Array.from({ length: count }, (_, i) => encode([i, payload]))));
      await until(() => requests.length === 1);
      await sleep(200);
      expect(requests[0]!.accept()).toBeTrue();
      const messages = (await log.messages(count)) as [number, string][];
      expect(messages.map(([i]) => i)).toEqual(Array.from({ length: count }, (_, i) => i));
      socket.destroy();
    });
  });

  describe('6. a symbol-keyed property was dropped silently', () => {
    it('send() refuses it with SEND_ERROR, and the connection stays usable', async () => {
      const server = await listening();
      const c = client();
      const peer = await c.node.connect(server.address);
      expect(() => c.node.send(peer, { a: 1, [Symbol('b')]: 2 })).toThrowMatching((error: NetError) => error.code === 'SEND_ERROR');
      c.node.send(peer, { a: 1 });
      expect(await server.log.messages(1)).toEqual([{ a: 1 }]);
    });
  });

  describe('found by review', () => {
    it('close() called from a message handler: closing handlers can still send', async () => {
      const server = await listening<string>();
      const c = client<string>();
      server.node.events$.subscribe((event) => {
        if (event.type === 'message' && event.message === 'shutdown') void server.node.close();
        if (event.type === 'closing') server.node.send(c.node.nodeId, 'goodbye');
      });
      const peer = await c.node.connect(server.address);
      c.node.send(peer, 'shutdown');
      expect(await c.log.messages(1)).toEqual(['goodbye']);
    });

    it('a connection made while the event buffer is over eventBufferBytes does not read until it is drained', async () => {
      const node = makeNode<unknown, unknown>({ nodeId: 'victim', eventBufferBytes: 100_000 }); // nobody subscribes
      const address = await node.listen('127.0.0.1:0');
      const hub = (node as unknown as { hub: { size: number; isPaused: boolean } }).hub;
      const first = await rawPeer(address);
      first.write(concatBytes(encode([null, 'first']), ...Array.from({ length: 50 }, (_, i) => encode([i, 'z'.repeat(1000)]))));
      await until(() => hub.isPaused);
      const second = await rawPeer(address);
      second.write(encode([null, 'second']));
      await sleep(300);
      expect(hub.size).toBe(1); // only the first request: the second connection was not read
      const taken = await node.receive();
      expect(taken.type === 'connectionRequest' && taken.request.nodeId).toBe('first');
      const next = await node.receive({ timeout: 3000 });
      expect(next.type === 'connectionRequest' && next.request.nodeId).toBe('second');
      first.destroy();
      second.destroy();
    });
  });

  it('a timestamp with nanoseconds over 10^9 is not normalised: it arrives as ExtData(-1) with its bytes', () => {
    const values: unknown[] = [];
    new FrameDecoder().write(hex('d7 ff ffffffff ffffffff'), (value) => values.push(value));
    expect(values[0]).toBeInstanceOf(ExtData);
    expect(Buffer.from(new Encoder().encode(values[0])).toString('hex')).toBe('d7ffffffffffffffffff');
  });

  it('a timestamp outside the Date range in a message arrives as ExtData(-1), and can be sent back unchanged', async () => {
    const server = await listening();
    const socket = await rawPeer(server.address);
    socket.write(concatBytes(encode([null, 'raw']), hex('c7 0c ff 00000000 7fffffffffffffff')));
    const [message] = await server.log.messages(1);
    expect(message).toBeInstanceOf(ExtData);
    expect(Buffer.from(new Encoder().encode(message)).toString('hex')).toBe('c70cff000000007fffffffffffffff');
    socket.destroy();
  });
});
