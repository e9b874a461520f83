// A node in a process of its own, for the etcdDiscovery specs to kill (SIGKILL: no close, no revoke):
// `node build/spec/helpers/etcdMember.js <etcd url> <prefix> <node id> <ttl>`. It listens on 127.0.0.1,
// joins a Cluster on etcdDiscovery, echoes every message back to its sender, and prints
// `{"address":...}` once it listens.
import { Cluster } from '../../lib/cluster/Cluster.js';
import { etcdDiscovery } from '../../lib/cluster/etcdDiscovery.js';
import { Node } from '../../lib/node/Node.js';

const [hosts, prefix, nodeId, ttl] = process.argv.slice(2);
if (!hosts || !prefix || !nodeId || !ttl) throw new Error('usage: etcdMember.js <etcd url> <prefix> <node id> <ttl>');
const node = new Node<unknown, string>({ nodeId });
node.events$.subscribe((event) => {
  if (event.type === 'connectionRequest') event.request.accept();
  if (event.type === 'message') node.send(event.from, event.message);
});
const address = await node.listen('127.0.0.1:0');
const cluster = new Cluster(node, { discovery: etcdDiscovery({ hosts, prefix, ttl: Number(ttl) }), refreshInterval: 300 });
cluster.errors$.subscribe((error) => process.stderr.write(`${error.message}\n`));
process.stdout.write(`${JSON.stringify({ address })}\n`);
