// The WHATWG-WebSocket transport (the browser build's), run on Node.js with the ws package's WebSocket
// class against a raw ws server on 127.0.0.1: what each WebSocket event becomes on the byte stream.
import { createServer, type Server, type Socket } from 'node:net';
import { firstValueFrom, toArray } from 'rxjs';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { NetError } from '../../lib/errors.js';
import { parseAddress } from '../../lib/transport/address.js';
import type { ByteStream } from '../../lib/transport/Transport.js';
import {
  WEB_SOCKET_MAX_MESSAGE_BYTES,
  webSocketTransport,
  type WebSocketConstructor,
  type WebSocketTransportConfig,
} from '../../lib/transport/webSocket.js';
import { concatBytes } from '../helpers/bytes.js';
import { sleep, until } from '../helpers/nodes.js';

/** The ws package's class without pause()/resume(): it reads whatever happens, as a browser's WebSocket does. */
const BrowserLikeWebSocket = function (url: string): WebSocket {
  return Object.assign(new WebSocket(url), { pause: undefined, resume: undefined });
} as unknown as WebSocketConstructor;

/** A raw ws server: the peer's side of each test, the WebSocket frames as they are. */
interface RawServer {
  readonly port: number;
  /** The next connection the server accepts, with the path it asked for. */
  next(): Promise<{ socket: WebSocket; path: string }>;
}

describe('webSocketTransport (WHATWG WebSocket API)', () => {
  const closers: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function rawServer(): Promise<RawServer> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const accepted: { socket: WebSocket; path: string }[] = [];
    const waiters: (() => void)[] = [];
    server.on('connection', (socket, request) => {
      socket.on('error', () => undefined);
      accepted.push({ socket, path: request.url ?? '' });
      for (const wake of waiters.splice(0)) wake();
    });
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          for (const client of server.clients) client.terminate();
          server.close(() => resolve());
        }),
    );
    return {
      port: (server.address() as { port: number }).port,
      async next() {
        while (accepted.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
        return accepted.shift()!;
      },
    };
  }

  async function connect(
    server: RawServer,
    config: WebSocketTransportConfig = { WebSocket },
    path = '/net',
  ): Promise<{ stream: ByteStream; peer: WebSocket; path: string }> {
    const accepted = server.next();
    const stream = await webSocketTransport(config).connect(
      parseAddress(`ws://127.0.0.1:${server.port}${path}`, 'CONNECTION_ERROR'),
      new AbortController().signal,
    );
    closers.push(() => stream.destroy());
    const { socket, path: asked } = await accepted;
    return { stream, peer: socket, path: asked };
  }

  /** What the peer receives: each message, as bytes. */
  function messagesOf(peer: WebSocket): Uint8Array[] {
    const messages: Uint8Array[] = [];
    peer.on('message', (data: RawData) => messages.push(new Uint8Array(data as Buffer)));
    return messages;
  }

  const closeOf = (peer: WebSocket): Promise<number> => new Promise((resolve) => peer.once('close', (code: number) => resolve(code)));
  const outcome = (stream: ByteStream): Promise<string> =>
    firstValueFrom(stream.chunks$.pipe(toArray())).then(
      (chunks) => `ended after ${concatBytes(...chunks).length} bytes`,
      (error: unknown) => (error as NetError).code,
    );

  it('connects to ws://host:port/path; each binary message is a chunk of one byte stream; remoteAddress is "host:port"', async () => {
    const server = await rawServer();
    const { stream, peer, path } = await connect(server);
    expect(path).toBe('/net');
    expect(stream.remoteAddress).toBe(`127.0.0.1:${server.port}`);
    const received = firstValueFrom(stream.chunks$.pipe(toArray()));
    // One MessagePack value (fixarray [1, "ab"]) across three messages: the transport does not care.
    peer.send(Uint8Array.of(0x92));
    peer.send(Uint8Array.of(0x01, 0xa2));
    peer.send(Uint8Array.of(0x61, 0x62));
    peer.close(1000);
    const chunks = await received;
    expect(chunks.map((chunk) => chunk.length)).toEqual([1, 2, 2]);
    expect(concatBytes(...chunks)).toEqual(Uint8Array.of(0x92, 0x01, 0xa2, 0x61, 0x62));
    expect(await stream.closed).toBeUndefined();
  });

  it(`writes one binary message per write, a write over ${WEB_SOCKET_MAX_MESSAGE_BYTES} bytes as several`, async () => {
    const server = await rawServer();
    const { stream, peer } = await connect(server);
    const messages = messagesOf(peer);
    const big = new Uint8Array(600 * 1024).map((_, i) => i % 253);
    stream.write(Uint8Array.of(1, 2, 3));
    stream.write(big);
    await until(() => messages.length === 4);
    expect(messages.map((message) => message.length)).toEqual([3, 256 * 1024, 256 * 1024, 88 * 1024]);
    expect(concatBytes(...messages.slice(1))).toEqual(big);
  });

  it('a text message ends the stream with READ_ERROR, and the peer sees a close 4003', async () => {
    const server = await rawServer();
    const { stream, peer } = await connect(server);
    const closed = closeOf(peer);
    const ended = outcome(stream);
    peer.send('not binary');
    expect(await ended).toBe('READ_ERROR');
    expect(await closed).toBe(4003);
    expect((await stream.closed)?.code).toBe('READ_ERROR');
  });

  it('the peer closing with 1000, 1001 or no code is an end of stream; 4000 or a dropped socket CONNECTION_ABORTED; another code CONNECTION_ERROR', async () => {
    const server = await rawServer();
    const cases: [string, (peer: WebSocket) => void, string][] = [
      ['1000', (peer) => peer.close(1000), 'ended after 1 bytes'],
      ['1001', (peer) => peer.close(1001), 'ended after 1 bytes'],
      ['no code', (peer) => peer.close(), 'ended after 1 bytes'],
      ['4000', (peer) => peer.close(4000, 'aborted'), 'CONNECTION_ABORTED'],
      ['4321', (peer) => peer.close(4321, 'go away'), 'CONNECTION_ERROR'],
      ['dropped', (peer) => peer.terminate(), 'CONNECTION_ABORTED'],
    ];
    for (const [name, close, expected] of cases) {
      const { stream, peer } = await connect(server);
      const ended = outcome(stream);
      peer.send(Uint8Array.of(0xc0));
      await sleep(20);
      close(peer);
      expect(await ended)
        .withContext(name)
        .toBe(expected);
      const closed: string | undefined = (await stream.closed)?.code;
      expect(closed)
        .withContext(name)
        .toBe(expected.startsWith('CONNECTION_') ? expected : undefined);
    }
  });

  it('end(): the peer reads what was written, then a close 1000; destroy(true): a close 4000', async () => {
    const server = await rawServer();
    const ended = await connect(server);
    const messages = messagesOf(ended.peer);
    const normal = closeOf(ended.peer);
    ended.stream.write(Uint8Array.of(7, 8));
    ended.stream.end();
    expect(ended.stream.writable).toBeFalse();
    ended.stream.write(Uint8Array.of(9)); // a no-op once ended
    expect(await normal).toBe(1000);
    expect(messages).toEqual([Uint8Array.of(7, 8)]);
    expect(await ended.stream.closed).toBeUndefined();

    const aborted = await connect(server);
    const abnormal = closeOf(aborted.peer);
    aborted.stream.destroy(true);
    expect(await abnormal).toBe(4000);
    expect(await aborted.stream.closed).toBeUndefined();
  });

  it('destroy(): over at once (closed settles, reading completes), the closing handshake finishing on its own', async () => {
    const server = await rawServer();
    const { stream, peer } = await connect(server);
    const closed = closeOf(peer);
    let settled = false;
    let completed = false;
    void stream.closed.then(() => (settled = true));
    stream.chunks$.subscribe({ complete: () => (completed = true) });
    stream.destroy();
    await Promise.resolve();
    expect(settled).toBeTrue();
    expect(completed).toBeTrue();
    expect(stream.writable).toBeFalse();
    expect(await closed).toBe(1000);
  });

  it('connect rejects with CONNECTION_ERROR when refused or when the upgrade is refused (HTTP 404)', async () => {
    const transport = webSocketTransport({ WebSocket });
    const signal = new AbortController().signal;
    const free = await freePort();
    const refused = await transport
      .connect(parseAddress(`ws://127.0.0.1:${free}/`, 'CONNECTION_ERROR'), signal)
      .catch((error: unknown) => error);
    expect((refused as NetError).code).toBe('CONNECTION_ERROR');

    const http = createServer((socket) => socket.resume().end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'));
    const port = await listenOn(http);
    closers.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
    const notFound = await transport
      .connect(parseAddress(`ws://127.0.0.1:${port}/nope`, 'CONNECTION_ERROR'), signal)
      .catch((error: unknown) => error);
    expect((notFound as NetError).code).toBe('CONNECTION_ERROR');
  });

  it('the signal aborts a connect: before it starts, and while the upgrade is unanswered (the socket is closed)', async () => {
    const transport = webSocketTransport({ WebSocket });
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket.on('error', () => undefined).resume()));
    const port = await listenOn(silent);
    closers.push(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    closers.push(() => sockets.forEach((socket) => socket.destroy()));
    const endpoint = parseAddress(`ws://127.0.0.1:${port}/`, 'CONNECTION_ERROR');

    const early = new AbortController();
    early.abort(new Error('too late already'));
    await expectAsync(transport.connect(endpoint, early.signal)).toBeRejectedWithError('too late already');

    const late = new AbortController();
    const connecting = transport.connect(endpoint, late.signal);
    await until(() => sockets.length === 1);
    const closedByClient = new Promise<void>((resolve) => sockets[0]!.once('close', () => resolve()));
    late.abort(new Error('deadline'));
    await expectAsync(connecting).toBeRejectedWithError('deadline');
    await closedByClient;
  });

  it('listen rejects with OPEN_ERROR: a WebSocket can only connect', async () => {
    const listening = webSocketTransport({ WebSocket }).listen(parseAddress('ws://127.0.0.1:0/', 'OPEN_ERROR'), () => undefined);
    const error = (await listening.catch((caught: unknown) => caught)) as NetError;
    expect(error.code).toBe('OPEN_ERROR');
  });

  it('rejects with CONNECTION_ERROR where the runtime has no WebSocket and none is given, or the class refuses the URL', async () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      const error = (await webSocketTransport()
        .connect(parseAddress('ws://127.0.0.1:1/', 'CONNECTION_ERROR'), new AbortController().signal)
        .catch((caught: unknown) => caught)) as NetError;
      expect(error.code).toBe('CONNECTION_ERROR');
    } finally {
      if (saved !== undefined) global.WebSocket = saved;
    }
    expect(() => webSocketTransport({ maxPausedBytes: 0 })).toThrowError(TypeError);
    // A class that refuses the URL (a browser's throws a SyntaxError for one it cannot parse).
    const Refusing = function (): never {
      throw new SyntaxError('not a URL it takes');
    } as unknown as WebSocketConstructor;
    const refused = (await webSocketTransport({ WebSocket: Refusing })
      .connect(parseAddress('ws://127.0.0.1:1/', 'CONNECTION_ERROR'), new AbortController().signal)
      .catch((caught: unknown) => caught)) as NetError;
    expect(refused.code).toBe('CONNECTION_ERROR');
    expect(refused.cause).toBeInstanceOf(SyntaxError);
  });

  it('paused on a socket that cannot pause (as in a browser): chunks are kept, in order, with the end, until resume()', async () => {
    const server = await rawServer();
    const { stream, peer } = await connect(server, { WebSocket: BrowserLikeWebSocket });
    const chunks: Uint8Array[] = [];
    let completed = false;
    stream.chunks$.subscribe({ next: (chunk) => chunks.push(chunk), complete: () => (completed = true) });
    peer.send(Uint8Array.of(1));
    await until(() => chunks.length === 1);
    stream.pause();
    for (let i = 2; i <= 5; i++) peer.send(Uint8Array.of(i));
    peer.close(1000);
    await stream.closed;
    expect(chunks.length).toBe(1);
    expect(completed).toBeFalse();
    stream.resume();
    expect(concatBytes(...chunks)).toEqual(Uint8Array.of(1, 2, 3, 4, 5));
    expect(completed).toBeTrue();
  });

  it('maxPausedBytes: more kept while paused ends the stream with READ_ERROR naming the limit; the peer sees a close 4009', async () => {
    const server = await rawServer();
    const { stream, peer } = await connect(server, { WebSocket: BrowserLikeWebSocket, maxPausedBytes: 1000 });
    const closed = closeOf(peer);
    let failure: NetError | undefined;
    stream.chunks$.subscribe({ error: (error: NetError) => (failure = error) });
    stream.pause();
    peer.send(new Uint8Array(600));
    peer.send(new Uint8Array(600));
    expect(await closed).toBe(4009);
    expect(failure).toBeUndefined(); // paused: the end waits too
    stream.resume();
    expect(failure?.code).toBe('READ_ERROR');
    expect(failure?.limit).toBe('maxPausedBytes');
    expect(failure?.actual).toBe(1200);
  });

  it('queuedBytes is bufferedAmount; whenDrained calls back once it is 0 (polled only while bytes are queued)', async () => {
    const server = await rawServer();
    const { stream, peer } = await connect(server);
    expect(stream.queuedBytes).toBe(0);
    const raw = (peer as unknown as { _socket: Socket })._socket;
    raw.pause();
    const block = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 32 && stream.queuedBytes === 0; i++) {
      stream.write(block);
      await sleep(10);
    }
    await until(() => stream.queuedBytes > 0, 5000, 'bytes queued behind a paused reader');
    let calls = 0;
    stream.whenDrained(() => calls++);
    stream.whenDrained(() => (calls += 10)); // one waiter: it replaces the first
    await sleep(50);
    expect(calls).toBe(0);
    raw.resume();
    await until(() => calls > 0);
    expect(calls).toBe(10);
    expect(stream.queuedBytes).toBe(0);
  });
});

function listenOn(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenOn(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
