import { connect, createServer, type Server, type Socket } from 'node:net';
import { fromSocket } from '../../lib/transport/tcp.js';

function serve(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })),
  );
}

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
