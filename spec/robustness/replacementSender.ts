// The sender of replacementOrder.spec.ts, in a process of its own so that it keeps sending while the
// receiver's event loop is busy: node replacementSender.js RECEIVER_ADDRESS. It connects (id 'b'),
// sends 0, 1, 2... every 2 ms on whatever connection is registered, listens, and sends its address.
import { Node } from '../../lib/node/Node.js';

const sender = new Node<number, string>({ nodeId: 'b' });
sender.events$.subscribe((event) => {
  if (event.type === 'connectionRequest') event.request.accept();
});
await sender.connect(process.argv[2]!);
let seq = 0;
setInterval(() => {
  try {
    sender.send('a', seq);
    seq++;
  } catch {
    // not connected for a moment: that number is sent next time
  }
}, 2);
process.send!(await sender.listen('127.0.0.1:0'));
process.on('disconnect', () => process.exit(0));
