import { makeNode, sleep, until } from '../helpers/nodes.js';

/**
 * While a node holds a connection's reading (its event buffer is full), the
 * silence is the node's, not the peer's: the idle timeout waits. Found by a
 * hostile review: a peer sending all along was cut as 'idle' while the
 * application was slow to take its events, and the messages were lost.
 */
describe('the idle timeout while the node holds reading', () => {
  it('a peer that sends all along is not cut as idle while the event buffer is full; every message arrives in order', async () => {
    const server = makeNode<number>({ nodeId: 'server', eventBufferSize: 20, connectionTimeout: 400 });
    const accepting = server.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.accept();
    });
    const address = await server.listen('127.0.0.1:0');
    const sender = makeNode<number>({ nodeId: 'sender', connectionTimeout: 60_000 });
    await sender.connect(address);
    await sleep(50);
    accepting.unsubscribe(); // from now on the server keeps its events, and pauses reading at 20
    let sent = 0;
    const ticking = setInterval(() => sender.isConnected('server') && sender.send('server', sent++), 20);
    await sleep(1500); // well over connectionTimeout, reading held most of it
    clearInterval(ticking);
    const seen: (number | string)[] = [];
    server.events$.subscribe((event) => {
      if (event.type === 'message') seen.push(event.message);
      if (event.type === 'disconnected') seen.push(`disconnected (${event.reason})`);
    });
    await until(() => seen.length >= sent, 5000, 'every message');
    // Every message, in order, before any disconnect (the sender is silent from now on: idle comes later, rightly).
    expect(seen.slice(0, sent)).toEqual([...Array(sent).keys()]);
    expect(sent).toBeGreaterThan(40);
  });
});
