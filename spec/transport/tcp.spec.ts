import { connect, createServer, type Server, type Socket } from 'node:net';
import { NetError } from '../../lib/errors.js';
import { formatAddress, fromSocket, parseAddress } from '../../lib/transport/tcp.js';

function serve(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })),
  );
}

describe('addresses', () => {
  it('parse "host:port", "[v6]:port" and { host, port }', () => {
    expect(parseAddress('127.0.0.1:80', 'OPEN_ERROR')).toEqual({ host: '127.0.0.1', port: 80 });
    expect(parseAddress('[::1]:0', 'OPEN_ERROR')).toEqual({ host: '::1', port: 0 });
    expect(parseAddress({ host: '[::1]', port: 5 }, 'OPEN_ERROR')).toEqual({ host: '::1', port: 5 });
    expect(parseAddress('localhost:9', 'OPEN_ERROR')).toEqual({ host: 'localhost', port: 9 });
  });

  it('refuse malformed ones with the given code', () => {
    for (const bad of ['nonsense', '1.2.3.4', ':80', '[::1]', 'h:65536', 'h:-1'] as const) {
      expect(() => parseAddress(bad, 'CONNECTION_ERROR')).toThrowMatching((e) => e instanceof NetError && e.code === 'CONNECTION_ERROR');
    }
    expect(() => parseAddress(42 as unknown as string, 'OPEN_ERROR')).toThrowMatching(
      (e) => e instanceof NetError && e.code === 'OPEN_ERROR',
    );
  });

  it('format IPv6 in brackets and IPv4-mapped IPv6 as IPv4', () => {
    expect(formatAddress('::1', 80)).toBe('[::1]:80');
    expect(formatAddress('::ffff:127.0.0.1', 80)).toBe('127.0.0.1:80');
    expect(formatAddress('10.0.0.1', 1)).toBe('10.0.0.1:1');
  });
});

describe('fromSocket', () => {
  it('emits the chunks a socket receives and completes on its end of stream', async () => {
    const { server, port } = await serve((peer) => {
      peer.write('ab');
      setTimeout(() => peer.end('cd'), 20);
    });
    const chunks: string[] = [];
    await new Promise<void>((resolve, reject) => {
      fromSocket(connect(port, '127.0.0.1')).subscribe({
        next: (chunk) => chunks.push(Buffer.from(chunk).toString()),
        error: reject,
        complete: resolve,
      });
    });
    expect(chunks.join('')).toBe('abcd');
    server.close();
  });

  it('errors with CONNECTION_ABORTED on a reset, and with CONNECTION_ERROR when refused', async () => {
    const { server, port } = await serve((peer) => peer.resetAndDestroy());
    const reset = await new Promise<unknown>((resolve) => {
      fromSocket(connect(port, '127.0.0.1')).subscribe({ error: resolve, complete: () => resolve('completed') });
    });
    expect(reset).toEqual(jasmine.objectContaining({ code: 'CONNECTION_ABORTED' }));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const refused = await new Promise<unknown>((resolve) => {
      fromSocket(connect(port, '127.0.0.1')).subscribe({ error: resolve, complete: () => resolve('completed') });
    });
    expect(refused).toEqual(jasmine.objectContaining({ code: 'CONNECTION_ERROR' }));
  });

  it('removes its listeners when unsubscribed and leaves the socket open', async () => {
    const { server, port } = await serve(() => undefined);
    const socket = connect(port, '127.0.0.1');
    const before = socket.listenerCount('data');
    const subscription = fromSocket(socket).subscribe();
    expect(socket.listenerCount('data')).toBe(before + 1);
    subscription.unsubscribe();
    expect(socket.listenerCount('data')).toBe(before);
    expect(socket.destroyed).toBeFalse();
    socket.destroy();
    server.close();
  });
});
