import { Socket, connect as netConnect, createServer } from 'node:net';
import { VirtualTimeScheduler, type Observable } from 'rxjs';
import { NetError } from '../../lib/errors.js';
import type { NodeEvent } from '../../lib/events.js';
import { tcpTransport } from '../../lib/transport/tcp.js';
import type { ByteStream, Transport } from '../../lib/transport/Transport.js';
import { client, listening, makeNode, sleep, until } from '../helpers/nodes.js';

function rawSocket(address: string): Promise<Socket> {
  const [, host, port] = /^(.*):(\d+)$/.exec(address)!;
  return new Promise((resolve, reject) => {
    const socket = netConnect(Number(port), host, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('Node events$ and receive()', () => {
  it('keeps events that occur while nobody is subscribed, and hands them to the next subscriber in order', async () => {
    const b = await listening({ id: 'b' });
    const a = makeNode<number>({ nodeId: 'a' });
    await a.listen('127.0.0.1:0');
    await b.node.connect(a.addresses()[0]!);
    // nobody listens on `a`: its events are kept
    await b.log.next('connected');
    for (let i = 0; i < 5; i++) b.node.send('a', i);
    await sleep(50);
    const seen: NodeEvent<number, string, null>[] = [];
    const subscription = a.events$.subscribe((event) => {
      seen.push(event);
      if (event.type === 'connectionRequest') event.request.accept();
    });
    await until(() => seen.filter((e) => e.type === 'message').length === 5);
    expect(seen.map((e) => e.type)).toEqual(['connectionRequest', 'connected', 'message', 'message', 'message', 'message', 'message']);
    expect(seen.filter((e) => e.type === 'message').map((e) => (e as { message: number }).message)).toEqual([0, 1, 2, 3, 4]);
    subscription.unsubscribe();
  });

  it('is hot: each subscriber sees events from the moment it subscribes', async () => {
    const node = makeNode<string>({ nodeId: 'me' });
    const first: string[] = [];
    const second: string[] = [];
    node.events$.subscribe((e) => e.type === 'message' && first.push(e.message));
    node.send('me', 'one');
    await sleep(0);
    node.events$.subscribe((e) => e.type === 'message' && second.push(e.message));
    node.send('me', 'two');
    await sleep(0);
    expect(first).toEqual(['one', 'two']);
    expect(second).toEqual(['two']);
  });

  it('receive() resolves with the next event, one at a time, none lost between calls', async () => {
    const node = makeNode<number>({ nodeId: 'me' });
    for (let i = 0; i < 3; i++) node.send('me', i);
    const got = [await node.receive(), await node.receive(), await node.receive()];
    expect(got.map((e) => (e as { message: number }).message)).toEqual([0, 1, 2]);
  });

  it('receive({ timeout }) rejects with TIMEOUT and does not swallow the next event', async () => {
    const node = makeNode<string>({ nodeId: 'me' });
    await expectAsync(node.receive({ timeout: 20 })).toBeRejectedWith(jasmine.objectContaining({ code: 'TIMEOUT' }));
    node.send('me', 'later');
    expect(await node.receive({ timeout: 1000 })).toEqual({ type: 'message', from: 'me', message: 'later' });
  });

  it('receive() calls made at once over a real connection take distinct messages, in call order', async () => {
    const b = await listening<number>({ id: 'b' });
    const a = makeNode<number>({ nodeId: 'a' });
    await a.connect(b.address);
    await b.log.next('connected');
    expect((await a.receive()).type).toBe('connected');
    const calls = [a.receive(), a.receive({ timeout: 60_000 }), a.receive(), a.receive()];
    for (let i = 0; i < 5; i++) b.node.send('a', i);
    const got = await Promise.all(calls);
    expect(got.map((e) => (e as { message: number }).message)).toEqual([0, 1, 2, 3]);
    expect(await a.receive({ timeout: 5000 })).toEqual({ type: 'message', from: 'b', message: 4 });
  });

  it('receive() called from inside an events$ handler takes the next event, not the one being handled', async () => {
    const node = makeNode<string>({ nodeId: 'me' });
    let inner: Promise<unknown> | undefined;
    node.events$.subscribe((event) => {
      if (event.type === 'message' && event.message === 'one') inner = node.receive({ timeout: 5000 });
    });
    node.send('me', 'one');
    await until(() => inner !== undefined);
    node.send('me', 'two');
    expect(await inner).toEqual({ type: 'message', from: 'me', message: 'two' });
  });

  it('receive() rejects (never throws) a bad timeout', async () => {
    const node = makeNode({ nodeId: 'me' });
    await expectAsync(node.receive({ timeout: -1 })).toBeRejectedWithError(TypeError);
  });

  it('receive({ timeout }) runs on the node scheduler (virtual time)', async () => {
    const scheduler = new VirtualTimeScheduler();
    const node = makeNode({ nodeId: 'virtual', scheduler });
    const pending = node.receive({ timeout: 60_000 });
    scheduler.flush();
    await expectAsync(pending).toBeRejectedWith(jasmine.objectContaining({ code: 'TIMEOUT' }));
  });

  it('receive() after close() hands out what was kept, then closed forever', async () => {
    const node = makeNode<string>({ nodeId: 'me' });
    node.send('me', 'kept');
    await sleep(0);
    await node.close();
    expect((await node.receive()).type).toBe('message');
    expect((await node.receive()).type).toBe('closing');
    expect((await node.receive()).type).toBe('closed');
    expect((await node.receive()).type).toBe('closed');
    expect((await node.receive({ timeout: 10 })).type).toBe('closed');
  });
});

describe('Node close()', () => {
  it('gives up a connect still in its transport (a TLS handshake a silent server never answers): it rejects with ALREADY_CLOSED at once, not TIMEOUT later', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket.resume())); // accepts TCP, reads, never speaks TLS
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const node = makeNode({ nodeId: 'closing', tls: {} });
      const connecting = node.connect(`tls://127.0.0.1:${(silent.address() as { port: number }).port}`).catch((error: unknown) => error);
      await until(() => sockets.length === 1, 3000, 'the TCP connect');
      const started = performance.now();
      await node.close();
      const error = (await connecting) as NetError;
      expect(error.code).toBe('ALREADY_CLOSED');
      expect(performance.now() - started).toBeLessThan(2000); // the handshake timeout is 10 s
      await until(() => sockets[0]!.closed, 3000, 'its socket closed');
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('emits closing, one disconnected per connection, closed, then completes events$; idempotent', async () => {
    const b = await listening({ id: 'b' });
    const c = await listening({ id: 'c' });
    const a = client({ id: 'a' });
    await a.node.connect(b.address);
    await a.node.connect(c.address);
    const closing = a.node.close();
    expect(a.node.close()).toBe(closing);
    await closing;
    expect(a.log.types).toEqual(['connected', 'connected', 'closing', 'disconnected', 'disconnected', 'closed']);
    expect(a.log.ofType('disconnected').map((e) => e.reason)).toEqual(['closed', 'closed']);
    expect(a.log.completed).toBeTrue();
    expect(a.node.connectionCount).toBe(0);
    expect(a.node.addresses()).toEqual([]);
    // the peers saw an orderly end (FIN), not a reset
    expect((await b.log.next('disconnected')).reason).toBe('remote-closed');
    expect((await c.log.next('disconnected')).reason).toBe('remote-closed');
  });

  it('emits closing once even when a closing handler calls close() again', async () => {
    const node = makeNode({ nodeId: 'twice' });
    const types: string[] = [];
    node.events$.subscribe((event) => {
      types.push(event.type);
      if (event.type === 'closing') void node.close();
    });
    await node.close();
    expect(types).toEqual(['closing', 'closed']);
  });

  it('lets a closing subscriber send final messages, and flushes them before the FIN', async () => {
    const b = await listening<string>({ id: 'b' });
    const a = client<string>({ id: 'a' });
    await a.node.connect(b.address);
    a.node.events$.subscribe((event) => {
      if (event.type === 'closing') for (let i = 0; i < 1000; i++) a.node.send('b', `bye ${i}`);
    });
    await a.node.close();
    const messages = await b.log.messages(1000);
    expect(messages[999]).toBe('bye 999');
    expect((await b.log.next('disconnected')).reason).toBe('remote-closed');
  });

  it('does not wait for linger when reading was paused by a full event buffer', async () => {
    const a = await listening<number>({ id: 'a' });
    const b = makeNode<number>({ nodeId: 'b', eventBufferSize: 10, linger: 60_000 });
    await b.connect(a.address); // nobody subscribes to b: its events pile up, then it stops reading
    await a.log.next('connected');
    for (let i = 0; i < 2000; i++) a.node.send('b', i);
    await sleep(100);
    await b.close(); // with a 60 s linger, a close that waited for it would time this spec out
    expect((await a.log.next('disconnected')).reason).toBe('remote-closed');
  });

  it('stops listening: a new connection to its old address is refused', async () => {
    const b = await listening({ id: 'b' });
    await b.node.close();
    const a = client();
    await expectAsync(a.node.connect(b.address)).toBeRejectedWith(jasmine.objectContaining({ code: 'CONNECTION_ERROR' }));
  });

  it('never hangs on a peer that does not read: after linger it destroys the socket', async () => {
    const b = await listening({ id: 'b', linger: 200 });
    const raw = await rawSocket(b.address);
    raw.write(Uint8Array.of(0x92, 0xc0, 0xa3, 0x72, 0x61, 0x77)); // [null, 'raw']
    await b.log.next('connected');
    raw.pause(); // never read again
    const big = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 16; i++) b.node.send('raw', big);
    await b.node.close();
    expect(b.log.ofType('disconnected').length).toBe(1);
    raw.destroy();
  });
});

describe('Node connection requests', () => {
  it('emits connectionRequest with the peer id, init message and address; accept() connects', async () => {
    const b = await listening({ id: 'b', accept: false });
    const a = makeNode<unknown, string, string>({ nodeId: 'a', initMessage: 'hello' });
    const connecting = a.connect(b.address);
    const { request } = await b.log.next('connectionRequest');
    expect(request.nodeId).toBe('a');
    expect(request.initMessage).toBe('hello');
    expect(request.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(request.isPending).toBeTrue();
    expect(b.node.isConnected('a')).toBeFalse();
    expect(request.accept()).toBeTrue();
    expect(request.accept()).toBeFalse();
    expect(request.reject()).toBeFalse();
    expect(b.node.isConnected('a')).toBeTrue();
    expect(await connecting).toBe('b');
  });

  it('delivers messages the peer sent before the accept, in order, after connected', async () => {
    const b = await listening<number>({ id: 'b', accept: false });
    const a = client<number>({ id: 'a' });
    await a.node.connect(b.address); // resolves on a's own accept
    for (let i = 0; i < 50; i++) a.node.send('b', i);
    const { request } = await b.log.next('connectionRequest');
    await sleep(50);
    expect(b.log.ofType('message').length).toBe(0);
    request.accept();
    expect(await b.log.messages(50)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const types = b.log.types;
    expect(types.indexOf('connected')).toBeLessThan(types.indexOf('message'));
  });

  it('reject() closes the socket, discards what was sent, and emits nothing on the rejecting side', async () => {
    const b = await listening<number>({ id: 'b', accept: false });
    const a = client<number>({ id: 'a' });
    await a.node.connect(b.address);
    a.node.send('b', 1);
    const { request } = await b.log.next('connectionRequest');
    expect(request.reject()).toBeTrue();
    expect(request.isPending).toBeFalse();
    expect((await a.log.next('disconnected')).reason).toBe('remote-closed');
    await sleep(20);
    expect(b.log.types).toEqual(['connectionRequest']);
  });

  it('reject() with our handshake still queued (as on Deno, whose writes are asynchronous): connect() resolves, then remote-closed', async () => {
    const b = await listening({ id: 'b', accept: false, transports: { tcp: asyncWrites(tcpTransport) } });
    const a = client({ id: 'a' });
    b.node.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.reject();
    });
    expect(await a.node.connect(b.address)).toBe('b');
    expect((await a.log.next('disconnected')).reason).toBe('remote-closed');
    await sleep(20);
    expect(b.log.types).toEqual(['connectionRequest']);
  });

  it('rejects a request neither accepted nor rejected within handshakeTimeout', async () => {
    const b = await listening({ id: 'b', accept: false, handshakeTimeout: 100 });
    const a = client({ id: 'a' });
    await a.node.connect(b.address);
    const { request } = await b.log.next('connectionRequest');
    await a.log.next('disconnected');
    expect(request.isPending).toBeFalse();
    expect(request.accept()).toBeFalse();
    expect(b.node.connectionCount).toBe(0);
  });

  it('connectRequest leaves the decision to the caller', async () => {
    const b = await listening({ id: 'b' });
    const a = client({ id: 'a' });
    const request = await a.node.connectRequest(b.address);
    expect(request.nodeId).toBe('b');
    expect(request.remoteAddress).toBe(b.address);
    expect(a.node.isConnected('b')).toBeFalse();
    request.reject();
    expect(a.node.isConnected('b')).toBeFalse();
    const again = await a.node.connectRequest(b.address);
    again.accept();
    expect(a.node.isConnected('b')).toBeTrue();
  });

  it('validators: a handshake that fails is aborted; a message that fails ends the connection with READ_ERROR', async () => {
    const isNumber = (v: unknown): v is number => typeof v === 'number';
    const b = await listening({
      id: 'b',
      validateInit: (v: unknown): v is null => v === null,
      validateMessage: isNumber as (v: unknown) => v is unknown,
    });
    const bad = makeNode({ nodeId: 'bad', initMessage: 'not null' });
    await expectAsync(bad.connect(b.address)).toBeResolved(); // its own side accepts...
    await until(() => !bad.isConnected('b')); // ...and b aborts it
    expect(b.log.ofType('connectionRequest').length).toBe(0);
    const a = client({ id: 'a' });
    await a.node.connect(b.address);
    a.node.send('b', 1);
    a.node.send('b', 'not a number');
    expect(await b.log.messages(1)).toEqual([1]);
    const gone = await b.log.next('disconnected');
    expect(gone.reason).toBe('error');
    expect(gone.error?.code).toBe('READ_ERROR');
  });
});

describe('Node connections', () => {
  it('closes a connection on which nothing was received for connectionTimeout (virtual time)', async () => {
    const scheduler = new VirtualTimeScheduler();
    const b = await listening({ id: 'b' });
    const a = client({ id: 'a', scheduler, connectionTimeout: 60_000 });
    await a.node.connect(b.address);
    scheduler.flush();
    const gone = await a.log.next('disconnected');
    expect(gone.reason).toBe('idle');
    expect(gone.error).toEqual(jasmine.objectContaining({ code: 'TIMEOUT', limit: 'idleTimeout' }));
    expect((await b.log.next('disconnected')).nodeId).toBe('a');
  });

  it('reports a reset as disconnected with CONNECTION_ABORTED', async () => {
    const b = await listening({ id: 'b' });
    const raw = await rawSocket(b.address);
    raw.write(Uint8Array.of(0x92, 0xc0, 0xa3, 0x72, 0x61, 0x77));
    await b.log.next('connected');
    raw.resetAndDestroy();
    const gone = await b.log.next('disconnected');
    expect(gone.reason).toBe('error');
    expect(gone.error?.code).toBe('CONNECTION_ABORTED');
  });

  it('reports a bad value from the peer as disconnected with READ_ERROR, and other connections go on', async () => {
    const b = await listening<number>({ id: 'b' });
    const a = client<number>({ id: 'a' });
    await a.node.connect(b.address);
    const raw = await rawSocket(b.address);
    raw.write(Uint8Array.of(0x92, 0xc0, 0xa3, 0x72, 0x61, 0x77, 0x01, 0xc1));
    expect(await b.log.messages(1)).toEqual([1]);
    const gone = await b.log.next('disconnected');
    expect([gone.nodeId, gone.reason, gone.error?.code]).toEqual(['raw', 'error', 'READ_ERROR']);
    a.node.send('b', 2);
    expect(await b.log.messages(1)).toEqual([2]);
    raw.destroy();
  });

  it('writable$ and drain() follow the write queue past the high-water mark and back', async () => {
    const b = await listening({ id: 'b', writeHighWaterMark: 64 * 1024 });
    const peer = await rawSocket(b.address);
    peer.write(Uint8Array.of(0x92, 0xc0, 0xa3, 0x72, 0x61, 0x77)); // [null, 'raw']
    await b.log.next('connected');
    peer.pause(); // reads nothing for now
    const states: boolean[] = [];
    b.node.writable$('raw').subscribe((w) => states.push(w));
    for (let i = 0; i < 64; i++) b.node.send('raw', new Uint8Array(64 * 1024));
    await until(() => states.includes(false), 2000, 'writable$ to report false');
    let drained = false;
    const draining = b.node.drain('raw').then(() => (drained = true));
    await sleep(50);
    expect(drained).toBeFalse(); // still over the mark while the peer does not read
    peer.resume();
    await draining;
    expect(states).toEqual([true, false, true]);
    await b.node.drain('raw'); // at once when under the mark
    expect(() => b.node.writable$('nobody')).toThrowMatching((e) => e instanceof NetError && e.code === 'NOT_CONNECTED');
    peer.destroy();
  });
});

describe('Node disconnect(id)', () => {
  it('closes one connection gracefully: flushed both ways, unregistered at once, disconnected with reason closed', async () => {
    const b = await listening<number>({ id: 'b' });
    const a = client<number>({ id: 'a' });
    await a.node.connect(b.address);
    await b.log.next('connected');
    for (let i = 0; i < 500; i++) {
      a.node.send('b', i);
      b.node.send('a', i);
    }
    const closing = a.node.disconnect('b');
    expect(a.node.isConnected('b')).toBeFalse();
    expect(() => a.node.send('b', 1)).toThrowMatching((e) => e instanceof NetError && e.code === 'NOT_CONNECTED');
    await closing;
    expect(await b.log.messages(500)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(await a.log.messages(500)).toEqual(Array.from({ length: 500 }, (_, i) => i)); // what b sent before our FIN
    expect((await a.log.next('disconnected')).reason).toBe('closed');
    expect((await b.log.next('disconnected')).reason).toBe('remote-closed');
    await expectAsync(a.node.disconnect('b')).toBeRejectedWith(jasmine.objectContaining({ code: 'NOT_CONNECTED' }));
    expect(await a.node.connect(b.address)).toBe('b'); // and it can connect again
  });
});

describe('Node validators with Standard Schema', () => {
  it('checks messages with a schema (as zod or valibot provide), keeping its output', async () => {
    const evenNumber = {
      '~standard': {
        version: 1 as const,
        vendor: 'spec',
        validate: (value: unknown) =>
          typeof value === 'number' && value % 2 === 0 ? { value: value / 2 } : { issues: [{ message: 'not an even number' }] },
      },
    };
    const b = await listening<number>({ id: 'b', validateMessage: evenNumber });
    const a = client<number>({ id: 'a' });
    await a.node.connect(b.address);
    a.node.send('b', 8);
    a.node.send('b', 3);
    expect(await b.log.messages(1)).toEqual([4]);
    const gone = await b.log.next('disconnected');
    expect([gone.reason, gone.error?.code]).toEqual(['error', 'READ_ERROR']);
  });

  it('a message validator that throws is a failed validation: READ_ERROR (as for the handshake), the cause kept', async () => {
    const thrown = new Error('validator bug');
    const b = await listening<number>({
      id: 'b',
      validateMessage: (value: unknown): value is number => {
        if (value === 3) throw thrown;
        return true;
      },
    });
    const a = client<number>({ id: 'a' });
    await a.node.connect(b.address);
    a.node.send('b', 1);
    a.node.send('b', 3);
    expect(await b.log.messages(1)).toEqual([1]);
    const gone = await b.log.next('disconnected');
    expect([gone.reason, gone.error?.code, gone.error?.cause]).toEqual(['error', 'READ_ERROR', thrown]);
  });
});

/** A transport whose listener's streams write 50 ms late, and drop what is still queued on destroy (as Deno's sockets may). */
function asyncWrites(transport: Transport): Transport {
  return {
    connect: transport.connect,
    listen: (endpoint, onStream, admission) => transport.listen(endpoint, (stream) => onStream(new AsyncWriteStream(stream)), admission),
  };
}

class AsyncWriteStream implements ByteStream {
  private queued: Uint8Array[] = [];
  constructor(private readonly stream: ByteStream) {}
  get remoteAddress(): string {
    return this.stream.remoteAddress;
  }
  get chunks$(): Observable<Uint8Array> {
    return this.stream.chunks$;
  }
  get writable(): boolean {
    return this.stream.writable;
  }
  get queuedBytes(): number {
    return this.queued.reduce((sum, bytes) => sum + bytes.length, this.stream.queuedBytes);
  }
  get closed(): Promise<NetError | undefined> {
    return this.stream.closed;
  }
  write(bytes: Uint8Array): void {
    if (this.queued.push(bytes) === 1) setTimeout(() => this.flush(), 50);
  }
  end(): void {
    setTimeout(() => {
      this.flush();
      this.stream.end();
    }, 50);
  }
  destroy(abort?: boolean): void {
    this.queued = [];
    this.stream.destroy(abort);
  }
  whenDrained(callback: () => void): void {
    this.stream.whenDrained(callback);
  }
  pause(): void {
    this.stream.pause();
  }
  resume(): void {
    this.stream.resume();
  }
  private flush(): void {
    for (const bytes of this.queued.splice(0)) this.stream.write(bytes);
  }
}
