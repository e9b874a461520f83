import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';
import { client, listening, sleep, until } from '../helpers/nodes.js';
import { hex, toHex } from '../helpers/bytes.js';

/** A raw TCP server on loopback that hands each accepted socket to `onSocket`. */
async function rawServer(onSocket: (socket: Socket) => void, allowHalfOpen = false): Promise<{ server: Server; address: string }> {
  const server = createServer({ allowHalfOpen }, onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

function rawConnect(address: string): Promise<Socket> {
  const [, host, port] = /^(.*):(\d+)$/.exec(address)!;
  return new Promise((resolve, reject) => {
    const socket = netConnect(Number(port), host, () => resolve(socket));
    socket.once('error', reject);
  });
}

function firstChunk(socket: Socket): Promise<Uint8Array> {
  return new Promise((resolve) => socket.once('data', resolve));
}

describe('Connection (the wire)', () => {
  it('sends its handshake [init, id] at once, in one write, without waiting for the peer', async () => {
    let chunk: Promise<Uint8Array> | undefined;
    const { server, address } = await rawServer((socket) => {
      chunk = firstChunk(socket);
    });
    const a = client({ id: 'a' });
    const connecting = a.node.connect(address, { timeout: 300 }).catch(() => undefined);
    await new Promise<void>((resolve) => server.once('connection', () => resolve()));
    expect(toHex(await chunk!)).toBe('92 c0 a1 61'); // [null, "a"], sent although the raw peer sent nothing
    await connecting;
    server.close();
  });

  it('reads a handshake that arrives one byte per write, as the Rust crate writes it', async () => {
    const b = await listening({ id: 'b' });
    const raw = await rawConnect(b.address);
    const theirs = firstChunk(raw);
    for (const byte of hex('92 07 01')) {
      raw.write(Uint8Array.of(byte));
      await sleep(5);
    }
    const request = await b.log.next('connected');
    expect(request.nodeId).toBe(1);
    expect(toHex(await theirs)).toBe('92 c0 a1 62');
    raw.destroy();
  });

  it('reads the handshake and messages in one segment, back to back', async () => {
    const b = await listening({ id: 'b' });
    const raw = await rawConnect(b.address);
    raw.write(hex('92 c0 a3 72 61 77 2a a5 68 65 6c 6c 6f 92 01 02'));
    expect(await b.log.messages(3)).toEqual([42, 'hello', [1, 2]]);
    raw.destroy();
  });

  it('writes messages back to back with no length prefix', async () => {
    const b = await listening({ id: 'b' });
    const raw = await rawConnect(b.address);
    const received: number[] = [];
    raw.on('data', (chunk: Buffer) => received.push(...chunk));
    raw.write(hex('92 c0 a3 72 61 77'));
    await b.log.next('connected');
    b.node.send('raw', 42);
    b.node.send('raw', 'hi');
    b.node.send('raw', [1, 2]);
    await sleep(50);
    expect(toHex(Uint8Array.from(received))).toBe('92 c0 a1 62 2a a2 68 69 92 01 02');
    raw.destroy();
  });

  it('a second connection to an already connected id never lets the old one unregister the new', async () => {
    const b = await listening<number>({ id: 'b' });
    const a = client<number>({ id: 'a' });
    await a.node.connect(b.address);
    await b.log.next('connected');
    // a reconnects (same opener: the newer connection wins on both sides)
    await a.node.connect(b.address);
    const replaced = await b.log.next('disconnected');
    expect(replaced.reason).toBe('replaced');
    await b.log.next('connected');
    await sleep(50); // the old connection's end has come and gone
    expect(b.node.isConnected('a')).toBeTrue();
    expect(a.node.isConnected('b')).toBeTrue();
    expect(b.node.connectionCount).toBe(1);
    for (let i = 0; i < 10; i++) a.node.send('b', i);
    expect(await b.log.messages(10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    b.node.send('a', 99);
    expect(await a.log.messages(1)).toEqual([99]);
  });

  it('both sides connecting at once end with the same single connection, and nothing is lost', async () => {
    const a = await listening<number>({ id: 'a' });
    const b = await listening<number>({ id: 'b' });
    await Promise.all([a.node.connect(b.address), b.node.connect(a.address)]);
    await sleep(100);
    expect(a.node.connectionCount).toBe(1);
    expect(b.node.connectionCount).toBe(1);
    const aStats = a.node.stats().connections[0]!;
    const bStats = b.node.stats().connections[0]!;
    // the same TCP connection seen from both ends: one side's remote port is the other's listening port or vice versa
    const aListens = a.address.split(':')[1];
    const bListens = b.address.split(':')[1];
    const sameConnection = aStats.remoteAddress.endsWith(`:${bListens}`) !== bStats.remoteAddress.endsWith(`:${aListens}`);
    expect(sameConnection).toBeTrue();
    for (let i = 0; i < 20; i++) {
      a.node.send('b', i);
      b.node.send('a', i);
    }
    expect(await b.log.messages(20)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await a.log.messages(20)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // the events tell the truth: every connected is matched by a replaced disconnect, one stays
    for (const log of [a.log, b.log]) {
      const connected = log.ofType('connected').length;
      const replaced = log.ofType('disconnected').filter((e) => e.reason === 'replaced').length;
      expect(connected - replaced).toBe(1);
    }
  });
});

describe('Connection (replaced by a duplicate)', () => {
  it('a connection that replaced one writes only after the peer has ended the old one, so the peer reads them in order', async () => {
    // The peer is raw: it sees both connections and decides when it ends the old one, as a peer
    // that had not yet read the old one's handshake would (it reads and ends it later).
    const order: string[] = [];
    const sockets: Socket[] = [];
    let oldEnded!: () => void;
    const oldEndedByA = new Promise<void>((resolve) => (oldEnded = resolve));
    const { server, address } = await rawServer((socket) => {
      const index = sockets.push(socket) - 1;
      socket.on('error', () => undefined);
      socket.write(hex('92 c0 a1 62')); // [null, 'b']
      const decoder = new FrameDecoder();
      let handshake = true;
      socket.on('data', (chunk: Buffer) =>
        decoder.write(chunk, (value) => {
          if (handshake) handshake = false;
          else order.push(`${index === 0 ? 'old' : 'new'}: ${String(value)}`);
        }),
      );
      socket.on('end', () => {
        if (index === 0) oldEnded();
      });
    }, true); // half-open: it ends each connection when it chooses, as a node does
    const a = client<string>({ id: 'a' });
    try {
      await a.node.connect(address);
      a.node.send('b', 'first');
      await until(() => order.length === 1);
      await a.node.connect(address); // the newer connection from the same side wins: the old one is replaced
      a.node.send('b', 'second');
      await oldEndedByA; // a has sent FIN on the old one
      await sleep(100); // time for 'second' to arrive, were it not held
      order.push('old ended by b');
      sockets[0]!.end();
      await until(() => order.length === 3, 5000, "'second' after the old connection ended");
      expect(order).toEqual(['old: first', 'old ended by b', 'new: second']);
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });
});
