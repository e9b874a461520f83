// A msgpacknet node in its own network namespace, driven by the partition spec:
// argv: listen|connect ADDRESS ID CONNECTION_TIMEOUT_MS. It prints one JSON line per event
// on stdout and takes commands as JSON lines on stdin.
import { createInterface } from 'node:readline';
import { Node } from '../../lib/index.js';

const [role, address, id, timeout] = process.argv.slice(2) as [string, string, string, string];
const node = new Node<number, string>({ nodeId: id, connectionTimeout: Number(timeout), linger: 200 });
const started = Date.now();
const print = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ at: Date.now() - started, ...line })}\n`);
};
let peer: string | undefined;

node.events$.subscribe((event) => {
  switch (event.type) {
    case 'connectionRequest':
      event.request.accept();
      break;
    case 'connected':
      peer = event.nodeId;
      print({ event: 'connected', nodeId: event.nodeId });
      break;
    case 'disconnected':
      print({ event: 'disconnected', reason: event.reason, code: event.error?.code });
      break;
    case 'message':
      print({ event: 'message', seq: event.message });
      // Answer now and then, so a one-way flow stays open (the idle timer counts received bytes only).
      if (event.message % 10 === 0 && event.message >= 0) node.send(event.from, -1 - event.message);
      break;
    default:
      break;
  }
});

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as { cmd: string; count?: number; interval?: number };
  if (command.cmd === 'stream') {
    let seq = 0;
    const timer = setInterval(() => {
      if (peer === undefined || !node.isConnected(peer) || seq >= (command.count ?? Infinity)) {
        clearInterval(timer);
        print({ event: 'streamed', count: seq });
        return;
      }
      node.send(peer, seq++);
    }, command.interval ?? 5);
  } else if (command.cmd === 'exit') {
    void node.close().then(() => process.exit(0));
  }
});

if (role === 'listen') {
  const bound = await node.listen(address);
  print({ event: 'listening', address: bound });
} else {
  await node.connect(address);
}
