// A sender to a peer that never reads: memory stays within the queue limit, send refuses beyond it,
// and the peer is closed as a slow consumer. `node dist/bench/slowPeer.js` prints what it measured.
import { connect } from 'node:net';
import { Node, NetError } from '../lib/index.js';

const node = new Node<Uint8Array, string>({ nodeId: 'sender', writeTimeout: 3000 });
const address = await node.listen('127.0.0.1:0');
const [host, port] = address.split(':') as [string, string];
const peer = connect(Number(port), host);
peer.write(Uint8Array.of(0x92, 0xc0, 0xa4, 0x73, 0x6c, 0x6f, 0x77)); // [null, "slow"], then never reads
peer.pause();
const ended = new Promise<string>((resolve) => {
  node.events$.subscribe((event) => {
    if (event.type === 'connectionRequest') event.request.accept();
    if (event.type === 'disconnected') resolve(`${event.reason} (${event.error?.code ?? '-'}: ${event.error?.limit ?? ''})`);
  });
});
while (!node.isConnected('slow')) await new Promise((resolve) => setTimeout(resolve, 10));

const chunk = new Uint8Array(64 * 1024);
const baseline = process.memoryUsage();
let sent = 0;
let peakRss = 0;
let refused: NetError | undefined;
while (!refused) {
  try {
    node.send('slow', chunk);
    sent += chunk.length;
  } catch (error) {
    refused = error as NetError;
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  await new Promise((resolve) => setImmediate(resolve));
}
const reason = await ended;
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
console.log(`queued before send refused: ${mb(sent)} (maxQueuedBytes 64 MiB); refused with ${refused.code} (${refused.limit ?? ''})`);
console.log(`RSS: ${mb(baseline.rss)} before, ${mb(peakRss)} at the peak (+${mb(peakRss - baseline.rss)})`);
console.log(`the slow peer was then disconnected: ${reason}`);
peer.destroy();
await node.close();
