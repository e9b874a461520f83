// Memory per hostile peer of an Rpc: PEERS peers connect to one served node, and each floods it with
// FLOOD requests to a handler that never answers (the worst case: every slot held until the peer
// leaves). The served node's heap after a full GC, per peer, against the same peers connected and
// idle (the node's own cost of a connection), measured in the same run.
// `npm run bench:rpc-flood` (runs node with --expose-gc). Loopback only; bounded in count.
import { Node } from '../lib/node/Node.js';
import { DEFAULT_RPC_MAX_CONCURRENT, Rpc } from '../lib/rpc/Rpc.js';

const PEERS = Number(process.env['PEERS'] ?? 20);
const FLOOD = Number(process.env['FLOOD'] ?? 5000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function settle(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function heapMiB(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await settle(20);
    gc!();
  }
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const served = new Node<unknown, string>({ nodeId: 'served' });
served.events$.subscribe((event) => {
  if (event.type === 'connectionRequest') event.request.accept();
});
const rpc = new Rpc<string>(served);
rpc.handle('hang', () => new Promise<never>(() => undefined));
const address = await served.listen('127.0.0.1:0');

// The flooders: plain nodes (no Rpc) writing request envelopes; they count the answers they get.
const peers: { node: Node<unknown, string>; answers: number }[] = [];
for (let p = 0; p < PEERS; p++) {
  const peer = { node: new Node<unknown, string>({ nodeId: `flooder-${p}` }), answers: 0 };
  peer.node.events$.subscribe((event) => {
    if (event.type === 'message') peer.answers++;
  });
  await peer.node.connect(address);
  peers.push(peer);
}
while (peers.some((peer) => !served.isConnected(peer.node.nodeId))) await settle(10);
const idle = await heapMiB();

const started = performance.now();
for (const peer of peers) for (let msgid = 0; msgid < FLOOD; msgid++) peer.node.send('served', [0, msgid, 'hang', [msgid]]);
const busy = FLOOD - DEFAULT_RPC_MAX_CONCURRENT;
while (peers.some((peer) => peer.answers < busy)) await settle(10);
const floodMs = performance.now() - started;
const flooded = await heapMiB();
const { serving } = rpc.inFlight;

for (const peer of peers) await peer.node.close();
while (rpc.inFlight.serving > 0) await settle(10);
const left = await heapMiB();
await served.close();

const perPeerKiB = ((flooded - idle) * 1024) / PEERS;
console.log(`Rpc flood: ${PEERS} peers x ${FLOOD} requests to a handler that never answers (maxConcurrent ${DEFAULT_RPC_MAX_CONCURRENT})`);
console.log(
  `  served at once: ${serving} (${serving / PEERS} per peer), answered BUSY: ${busy} per peer, flood took ${floodMs.toFixed(0)} ms`,
);
console.log(`  heap: ${idle.toFixed(1)} MiB connected and idle, ${flooded.toFixed(1)} MiB flooded, ${left.toFixed(1)} MiB after they left`);
console.log(
  `  per flooding peer: ${perPeerKiB.toFixed(1)} KiB (${((perPeerKiB * 1024) / DEFAULT_RPC_MAX_CONCURRENT).toFixed(0)} bytes per call held)`,
);
console.log(`  heap back to ${(((left - idle) * 1024) / PEERS).toFixed(1)} KiB per peer above idle once they left`);
