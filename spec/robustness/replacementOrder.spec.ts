import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeNode, sleep, until } from '../helpers/nodes.js';

const SENDER = fileURLToPath(new URL('./replacementSender.js', import.meta.url));

/**
 * A duplicate connection that replaces another keeps the peer's messages in
 * the order it sent them: the new one delivers only after the old one has
 * delivered its last. Found by the chaos spec: the receiver got #100..#174
 * on the new connection, then #99 from the old one.
 */
describe('a connection replaced by a duplicate', () => {
  it("keeps the peer's messages in order across the replacement (the receiver busy while both sockets fill)", async () => {
    for (let round = 0; round < 4; round++) {
      const receiver = makeNode<number>({ nodeId: 'a' });
      const seen: number[] = [];
      receiver.events$.subscribe((event) => {
        if (event.type === 'connectionRequest') event.request.accept();
        if (event.type === 'message') seen.push(event.message);
      });
      const child = fork(SENDER, [await receiver.listen('127.0.0.1:0')], { stdio: 'ignore' });
      try {
        const senderAddress = await new Promise<string>((resolve) => child.once('message', (address) => resolve(address as string)));
        await sleep(100);
        // Our connection (opened by the smaller id) wins on both sides and replaces the sender's.
        const connecting = receiver.connect(senderAddress);
        setTimeout(() => {
          const until = Date.now() + 300; // busy, as under load: both sockets fill meanwhile
          while (Date.now() < until);
        }, 1);
        await connecting;
        await sleep(300);
        // On a loaded host the sender's 2 ms timer runs late: wait for enough messages, not for a fixed time.
        await until(() => seen.length > 100, 10_000, 'more than 100 messages');
      } finally {
        child.kill();
      }
      expect(receiver.connectionCount).toBe(1);
      expect(seen.length).toBeGreaterThan(100);
      const outOfOrder = seen.filter((value, i) => i > 0 && value <= seen[i - 1]!);
      expect(outOfOrder).withContext(`round ${round}`).toEqual([]);
      await receiver.close();
    }
  }, 30_000);

  it('keeps order when the connection the peer sent on first is still awaiting its accept decision as the winner registers', async () => {
    // 'a' accepts incoming requests only 300 ms late; 'b' connects first (its connection C1 is pending at 'a'),
    // sends 0..9 on it, then 'a' connects to 'b' (C2, opened by the smaller id, wins on both sides) and 'b'
    // sends 10..19 on C2. 'a' registers C2 at once, and must deliver C1's 0..9 (once accepted, as the loser) first.
    const a = makeNode<number>({ nodeId: 'a' });
    const seen: number[] = [];
    a.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') setTimeout(() => event.request.accept(), 300);
      if (event.type === 'message') seen.push(event.message);
    });
    const b = makeNode<number>({ nodeId: 'b' });
    const bEvents: string[] = [];
    b.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.accept();
      if (event.type === 'connected' || event.type === 'disconnected') bEvents.push(event.type);
    });
    const bAddress = await b.listen('127.0.0.1:0');
    await b.connect(await a.listen('127.0.0.1:0'));
    for (let i = 0; i < 10; i++) b.send('a', i);
    await sleep(20);
    await a.connect(bAddress);
    // 'b' replaced C1 by C2: connected, disconnected (replaced), connected.
    await until(() => bEvents.length >= 3, 3000, "b's replacement");
    for (let i = 10; i < 20; i++) b.send('a', i);
    await until(() => seen.length >= 20, 5000, 'all 20 messages');
    expect(seen).toEqual([...Array(20).keys()]);
  });
});
