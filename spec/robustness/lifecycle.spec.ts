import { spawn } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { filter, take } from 'rxjs';
import { Encoder } from '../../lib/codec/Encoder.js';
import { concatBytes, hex } from '../helpers/bytes.js';
import { client, listening, makeNode, sleep, until } from '../helpers/nodes.js';

const encode = (value: unknown): Uint8Array => new Encoder().encode(value);

function raw(address: string): Promise<Socket> {
  const [, host, port] = /^(.*):(\d+)$/.exec(address)!;
  return new Promise((resolve) => {
    const socket = netConnect(Number(port), host, () => resolve(socket));
    socket.on('error', () => undefined);
  });
}

describe('lifecycle faults', () => {
  it('a reset in the middle of a message: disconnected with CONNECTION_ABORTED, the messages before it delivered', async () => {
    const b = await listening({ id: 'b' });
    const socket = await raw(b.address);
    socket.write(concatBytes(encode([null, 'r']), encode('whole'), hex('a5 68 65'))); // then half of "hello"
    expect(await b.log.messages(1)).toEqual(['whole']);
    socket.resetAndDestroy();
    const gone = await b.log.next('disconnected');
    expect([gone.reason, gone.error?.code]).toEqual(['error', 'CONNECTION_ABORTED']);
  });

  it('a FIN in the middle of a message: disconnected with READ_ERROR (bytes left over are an error)', async () => {
    const b = await listening({ id: 'b' });
    const socket = await raw(b.address);
    socket.end(concatBytes(encode([null, 'r']), hex('a5 68 65')));
    const gone = await b.log.next('disconnected');
    expect([gone.reason, gone.error?.code]).toEqual(['error', 'READ_ERROR']);
  });

  it('a half-close by the peer: its messages are delivered, then remote-closed, and we end our side too', async () => {
    const b = await listening({ id: 'b' });
    const socket = await raw(b.address);
    let ended = false;
    socket.on('end', () => (ended = true));
    socket.resume();
    socket.end(concatBytes(encode([null, 'r']), encode(1), encode(2)));
    expect(await b.log.messages(2)).toEqual([1, 2]);
    expect((await b.log.next('disconnected')).reason).toBe('remote-closed');
    await until(() => ended, 2000, 'our FIN');
  });

  it('connect/close churn: 40 clients come and go, the listener ends with no connection', async () => {
    const b = await listening<number>({ id: 'b' });
    for (let i = 0; i < 40; i++) {
      const a = client<number>({ id: `churn-${i}` });
      await a.node.connect(b.address);
      a.node.send('b', i);
      await a.node.close();
    }
    expect((await b.log.messages(40)).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    await until(() => b.node.connectionCount === 0, 3000, 'all churned connections gone');
    expect(b.log.ofType('disconnected').length).toBe(40);
  });
});

describe('a flood', () => {
  it('read in slices (reading yields the event loop every READ_SLICE_MS) arrives whole and in order, also across a full event buffer', async () => {
    // 4 MiB of one-byte messages 0, 1, ... 127, 0, 1, ... from a peer in another process:
    // reading pauses for a turn again and again (a slice), and for as long as the node's
    // event buffer is over eventBufferSize (nobody subscribes for the first 500 ms).
    const total = 4 * 1024 * 1024;
    // The flood follows the handshake at once: a first read may hold many messages before the accept.
    const node = makeNode<number>({ nodeId: 'b', eventBufferSize: 1000, maxPendingMessages: 100_000 });
    node.events$
      .pipe(
        filter((event) => event.type === 'connectionRequest'),
        take(1),
      )
      .subscribe((event) => event.request.accept());
    const address = await node.listen('127.0.0.1:0');
    const [, port] = /:(\d+)$/.exec(address)!;
    const peer = spawn(process.execPath, [
      '-e',
      `const socket = require('node:net').connect(${port}, '127.0.0.1', () => {
         socket.write(Uint8Array.of(0x92, 0xc0, 0xa5, 0x66, 0x6c, 0x6f, 0x6f, 0x64)); // [nil, 'flood']
         socket.write(Buffer.alloc(${total}).map((_, i) => i & 0x7f));
       });
       socket.resume();
       socket.on('close', () => process.exit(0));`,
    ]);
    try {
      await sleep(500);
      // Paused for the full buffer, reading stays paused: a slice's resume must not undo it.
      const readWhilePaused = node.stats().connections[0]?.readTotal ?? 0;
      expect(readWhilePaused).toBeGreaterThan(0);
      expect(readWhilePaused).toBeLessThan(128 * 1024); // the chunk that filled the buffer (64 KiB), and no more
      let delivered = 0;
      let outOfOrder = 0;
      const subscription = node.events$.subscribe((event) => {
        if (event.type !== 'message') return;
        if (event.message !== (delivered & 0x7f)) outOfOrder++;
        delivered++;
      });
      await until(() => delivered >= total, 50_000, 'the whole flood');
      subscription.unsubscribe();
      expect([delivered, outOfOrder]).toEqual([total, 0]);
    } finally {
      peer.kill();
    }
  }, 60_000);
});

describe('timers and traffic', () => {
  it('a connection with traffic both ways is never closed by the idle or write timers', async () => {
    const b = await listening<number>({ id: 'b', connectionTimeout: 1000, writeTimeout: 1000 });
    const a = client<number>({ id: 'a', connectionTimeout: 1000, writeTimeout: 1000 });
    await a.node.connect(b.address);
    b.node.events$.subscribe((event) => {
      if (event.type === 'message') b.node.send('a', event.message);
    });
    const started = Date.now();
    for (let i = 0; Date.now() - started < 3000; i++) {
      a.node.send('b', i);
      await a.log.messages(1);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(a.log.ofType('disconnected')).toEqual([]);
    expect(b.log.ofType('disconnected')).toEqual([]);
  });
});

describe('close with a write that fails', () => {
  it('reports the failure as CLOSE_ERROR on the disconnected event, not lost', async () => {
    const b = await listening({ id: 'b', linger: 2000 });
    const socket = await raw(b.address);
    socket.write(encode([null, 'r']));
    await b.log.next('connected');
    socket.pause(); // never reads: our queue fills the kernel buffers
    const big = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 16; i++) b.node.send('r', big);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = b.node.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.resetAndDestroy(); // the flush at close cannot finish
    await closing;
    const gone = b.log.ofType('disconnected')[0]!;
    expect(gone.reason).toBe('closed');
    expect(gone.error?.code).toBe('CLOSE_ERROR');
  });
});
