import { connect, createServer, type Server, type Socket } from 'node:net';
import { TcpStream } from '../../lib/transport/tcp.js';
import { Writer } from '../../lib/node/Writer.js';
import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';
import type { NetError } from '../../lib/errors.js';
import { sleep, until } from '../helpers/nodes.js';

/** A Writer over a real loopback TCP stream, and the peer socket. */
async function setUp(config: { highWaterMark?: number; maxQueuedBytes?: number } = {}): Promise<{
  writer: Writer;
  peer: Socket;
  writes: number[];
  changes: boolean[];
  server: Server;
}> {
  let accepted!: (socket: Socket) => void;
  const peerPromise = new Promise<Socket>((resolve) => (accepted = resolve));
  const server = createServer(accepted);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const writes: number[] = [];
  const changes: boolean[] = [];
  const writer = new Writer(
    new TcpStream(socket),
    { highWaterMark: config.highWaterMark ?? 1024 * 1024, maxQueuedBytes: config.maxQueuedBytes ?? 64 * 1024 * 1024 },
    { onWrite: (bytes) => writes.push(bytes), onWritableChange: (writable) => changes.push(writable) },
  );
  return { writer, peer: await peerPromise, writes, changes, server };
}

describe('Writer', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const done of cleanup.splice(0)) done();
  });

  it('sends everything queued in one turn as one write, in order', async () => {
    const { writer, peer, writes, server } = await setUp();
    cleanup.push(() => (peer.destroy(), server.close()));
    const values: unknown[] = [];
    const decoder = new FrameDecoder();
    peer.on('data', (chunk: Buffer) => decoder.write(chunk, (value) => values.push(value)));
    for (let i = 0; i < 100; i++) writer.send(i);
    expect(writes).toEqual([]); // not yet: one write per turn
    await until(() => values.length === 100);
    expect(values).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(writes.length).toBe(1);
  });

  it('reports not writable over the high-water mark while the peer does not read, and writable once it drains', async () => {
    const { writer, peer, changes, server } = await setUp({ highWaterMark: 64 * 1024 });
    cleanup.push(() => (peer.destroy(), server.close()));
    peer.pause();
    const seen: boolean[] = [];
    writer.writable$.subscribe((writable) => seen.push(writable));
    const block = new Uint8Array(512 * 1024);
    // Until the kernel's buffers are full too (on a loaded host they may take a block or two more
    // after the first `false`, which then turns `true` again): the queue stays over the mark.
    const blocked = (): boolean => changes.at(-1) === false && writer.queuedBytes >= 64 * 1024;
    for (let i = 0; i < 64 && !blocked(); i++) {
      writer.send(block);
      await sleep(5);
    }
    expect(blocked()).toBeTrue();
    const flips = changes.length;
    // Each change is a flip, starting with not writable.
    expect(changes).toEqual(Array.from({ length: flips }, (_, i) => i % 2 === 1));
    peer.resume();
    await until(() => changes.length === flips + 1, 10_000, 'writable again');
    expect(changes.at(-1)).toBeTrue();
    expect(seen).toEqual([true, ...changes]);
  });

  it('refuses a send over maxQueuedBytes with SEND_ERROR, queueing nothing of it', async () => {
    const { writer, peer, server } = await setUp({ highWaterMark: 1024, maxQueuedBytes: 1024 });
    cleanup.push(() => (peer.destroy(), server.close()));
    writer.send(new Uint8Array(2000)); // under the limit when queued
    expect(() => writer.send(1)).toThrowMatching((error: NetError) => error.code === 'SEND_ERROR' && error.limit === 'maxQueuedBytes');
  });

  it('dispose() completes writable$', async () => {
    const { writer, peer, server } = await setUp();
    cleanup.push(() => (peer.destroy(), server.close()));
    let completed = false;
    writer.writable$.subscribe({ complete: () => (completed = true) });
    writer.dispose();
    expect(completed).toBeTrue();
  });
});
