import { Observable, Subject } from 'rxjs';
import { WebSocketServer } from 'ws';
import { Encoder } from '../../lib/codec/Encoder.js';
import type { NetError } from '../../lib/errors.js';
import type { ByteStream, Transport } from '../../lib/transport/Transport.js';
import { EventLog, client, sleep } from '../helpers/nodes.js';

/**
 * Streams that report at once: a transport's `chunks$` may emit, fail or
 * end inside `subscribe()` (the first bytes after a WebSocket upgrade are
 * read before the connect's continuation runs). Found by a hostile review:
 * a text message right after the upgrade killed the connecting process.
 */

const encoder = new Encoder();

/** A transport whose streams hand out `script` inside subscribe(), and record what is written and whether it was destroyed. */
function scripted(script: (subscriber: { next(bytes: Uint8Array): void; error(error: unknown): void; complete(): void }) => void): {
  transport: Transport;
  destroyed: () => number;
} {
  let destroyed = 0;
  const transport: Transport = {
    connect: () => {
      const closed = new Subject<undefined>();
      const stream: ByteStream = {
        remoteAddress: '10.9.9.9:9',
        chunks$: new Observable<Uint8Array>((subscriber) => script(subscriber)),
        write: () => undefined,
        writable: true,
        queuedBytes: 0,
        whenDrained: (callback) => callback(),
        end: () => closed.complete(),
        destroy: () => {
          destroyed++;
          closed.complete();
        },
        pause: () => undefined,
        resume: () => undefined,
        closed: new Promise((resolve) => closed.subscribe({ complete: () => resolve(undefined) })),
      };
      return Promise.resolve(stream);
    },
    listen: () => Promise.reject(new Error('not in this spec')),
  };
  return { transport, destroyed: () => destroyed };
}

describe('streams that report inside subscribe()', () => {
  it('a ws:// server that sends a text message straight after the upgrade: connect rejects, the process lives', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (socket) => socket.send('welcome'));
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    try {
      const { node } = client();
      for (let i = 0; i < 5; i++) {
        const error = await node.connect(`ws://127.0.0.1:${port}/`).then(
          () => undefined,
          (failure: unknown) => failure as NetError,
        );
        expect(error?.code).toBe('READ_ERROR');
      }
      expect(node.connectionCount).toBe(0);
    } finally {
      server.close();
    }
  });

  it('a stream that errors or ends inside subscribe(): connect rejects with that failure, the stream is let go', async () => {
    const failing = scripted((subscriber) => subscriber.error(new Error('at once')));
    const ending = scripted((subscriber) => subscriber.complete());
    const { node } = client({ transports: { fail: failing.transport, end: ending.transport } });
    const failed = await node.connect('fail://10.9.9.9:9').catch((error: unknown) => error as NetError);
    expect((failed as NetError).code).toBe('CONNECTION_ERROR');
    const ended = await node.connect('end://10.9.9.9:9').catch((error: unknown) => error as NetError);
    expect((ended as NetError).code).toBe('CONNECTION_ERROR');
    expect(failing.destroyed()).toBe(1);
    expect(ending.destroyed()).toBe(1);
    expect(node.connectionCount).toBe(0);
  });

  it("a stream whose peer's handshake and messages arrive inside subscribe(): an outgoing connect resolves, no connectionRequest event", async () => {
    const eager = scripted((subscriber) => {
      subscriber.next(encoder.encode([null, 'eager']));
      subscriber.next(encoder.encode('first'));
    });
    const { node } = client({ transports: { eager: eager.transport } });
    const log = new EventLog(node);
    expect(await node.connect('eager://10.9.9.9:9')).toBe('eager');
    expect((await log.next('message')).message).toBe('first');
    await sleep(50);
    expect(log.ofType('connectionRequest')).toEqual([]);
  });
});
