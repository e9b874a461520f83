// msgpacknet over ws:// (lib/transport/ws.ts): the msgpacknet TCP roles of bench/worker.ts with a ws:// address,
// so that its rows sit beside raw `ws` batched (the same framing by hand), socket.io and `ws` one message per value.
import { Node } from '../../lib/index.js';
import { END, Meter, report, sendLoop, turn, type PeerRoles } from './common.js';
import { pingMpn } from './tcpPing.js';

const LISTEN = 'ws://127.0.0.1:0';

export const roles: PeerRoles = {
  async recv() {
    const node = new Node<unknown, string>({ nodeId: 'receiver', maxValueBytes: 1 << 20 });
    const meter = new Meter();
    node.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.accept();
      else if (event.type === 'message') {
        if (event.message === END) {
          meter.done(node.stats().connections[0]?.readTotal ?? 0);
          void node.close().then(() => process.exit(0));
        } else meter.message();
      }
    });
    report({ address: await node.listen(LISTEN) });
  },

  async send(address, kind, seconds) {
    const node = new Node<unknown, string>({ nodeId: 'sender', maxValueBytes: 1 << 20 });
    const peer = await node.connect(address);
    let writable = true;
    node.writable$(peer).subscribe((value) => (writable = value));
    await sendLoop(
      kind,
      seconds,
      (value) => node.send(peer, value),
      () => (writable ? turn() : node.drain(peer)),
    );
    await node.close();
    process.exit(0);
  },

  async pong() {
    const node = new Node<unknown, string>({ nodeId: 'pong' });
    node.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.accept();
      else if (event.type === 'message') node.send(event.from, event.message);
    });
    report({ address: await node.listen(LISTEN) });
  },

  // The same ping side as msgpacknet over TCP, on a ws:// address.
  ping: pingMpn,
};

/**
 * Whether this build of msgpacknet carries ws:// (the transport may not exist yet): listens, connects and
 * exchanges one value within five seconds. Reports `{ ok, reason? }`.
 */
export async function probe(): Promise<void> {
  const a = new Node<number, string>({ nodeId: 'probe-a' });
  const b = new Node<number, string>({ nodeId: 'probe-b' });
  let stage = 'listen';
  const timer = setTimeout(() => {
    report({ ok: false, reason: `${stage} did not finish within 5 s` });
    process.exit(0);
  }, 5000);
  try {
    a.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.accept();
      else if (event.type === 'message') a.send(event.from, event.message + 1);
    });
    const address = await a.listen(LISTEN);
    const answer = new Promise<number>((resolve) =>
      b.events$.subscribe((event) => {
        if (event.type === 'message') resolve(event.message);
      }),
    );
    stage = `connect to ${address}`;
    const peer = await b.connect(address);
    stage = 'a round trip';
    b.send(peer, 41);
    report({ ok: (await answer) === 42 });
  } catch (error) {
    report({ ok: false, reason: `${stage}: ${error instanceof Error ? error.message : String(error)}` });
  }
  clearTimeout(timer);
  process.exit(0);
}
