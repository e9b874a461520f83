// One node of the cluster mesh spec (mesh.spec.ts), in its own network namespace. It knows its id, its
// own address and the DNS server, and no other node's address: a Cluster with dnsDiscovery finds them.
// It reports every members$ emission, sends numbered messages to every member that is up and checks
// those it receives (in order, none missing, none twice), and pings by id when the driver asks.
// argv[2]: its MeshConfig as JSON.
import { Cluster } from '../../lib/cluster/Cluster.js';
import { dnsDiscovery } from '../../lib/cluster/dnsDiscovery.js';
import { isNetError } from '../../lib/errors.js';
import { Node } from '../../lib/node/Node.js';
import type { MeshCommand, MeshConfig, MeshReport, MeshWire, MemberView, Received } from './meshProtocol.js';

const config = JSON.parse(process.argv[2]!) as MeshConfig;
const name = `${config.id}#${config.incarnation}`;
const report = (value: MeshReport): void => {
  if (process.connected) process.send!(value);
};
const violation = (text: string): void => report({ type: 'violation', at: Date.now(), text: `${name}: ${text}` });
// The driver is gone (it ended or crashed): so is this node.
process.on('disconnect', () => process.exit(3));

const node = new Node<MeshWire, string>({ nodeId: config.id });
/** The next number to send to each peer, and what arrived from each. */
const sent = new Map<string, number>();
const received = new Map<string, Received>();
/** Pings waiting for their ack, by `peer token`. */
const acks = new Map<string, () => void>();
let members: readonly MemberView[] = [];

function onSeq(from: string, incarnation: number, seq: number): void {
  const last = received.get(from);
  if (last === undefined || incarnation > last.incarnation) {
    received.set(from, { incarnation, first: seq, last: seq, count: 1 });
    return;
  }
  if (incarnation < last.incarnation) {
    violation(`from ${from}: a message of its incarnation ${incarnation} after one of ${last.incarnation}`);
    return;
  }
  if (seq <= last.last) violation(`from ${from}#${incarnation}: #${seq} after #${last.last} (a duplicate or out of order)`);
  else if (seq > last.last + 1) violation(`from ${from}#${incarnation}: #${seq} after #${last.last}: ${seq - last.last - 1} lost`);
  received.set(from, { ...last, last: Math.max(seq, last.last), count: last.count + 1 });
}

node.events$.subscribe({
  next: (event) => {
    switch (event.type) {
      case 'connectionRequest':
        event.request.accept();
        break;
      case 'connected':
      case 'disconnected':
        report({
          type: 'event',
          at: Date.now(),
          event: event.type,
          peer: event.nodeId,
          ...(event.type === 'disconnected' ? { reason: event.reason, ...(event.error ? { code: event.error.code } : {}) } : {}),
          up: node.isConnected(event.nodeId),
        });
        break;
      case 'message': {
        const message = event.message;
        if (message[0] === 'seq') onSeq(event.from, message[1], message[2]);
        else if (message[0] === 'ping')
          cluster.send(event.from, ['ack', message[1]]).catch((error: unknown) => violation(`ack: ${String(error)}`));
        else acks.get(`${event.from} ${message[1]}`)?.();
        break;
      }
      default:
        break;
    }
  },
  error: (error: unknown) => violation(`events$ failed: ${String(error)}`),
});

await node.listen(config.listen);
const cluster = new Cluster<MeshWire, string>(node, {
  discovery: dnsDiscovery({ name: config.dns.name, port: config.dns.port, type: 'A', servers: [config.dns.server] }),
  advertise: [config.advertise],
  refreshInterval: config.refreshInterval,
  timeout: config.timeout,
  link: config.link,
});
cluster.members$.subscribe((list) => {
  members = list.map((member) => ({
    ...(member.nodeId === undefined ? {} : { id: member.nodeId }),
    address: member.addresses[0]!,
    state: member.state,
  }));
  report({ type: 'members', at: Date.now(), members });
});
cluster.errors$.subscribe((error) => report({ type: 'error', at: Date.now(), text: `${error.code}: ${error.message}` }));

/** One round: the next number to every member up (a number is used only when `send` takes it). */
function round(): void {
  for (const member of members) {
    const to = member.id;
    if (to === undefined || to === config.id || !node.isConnected(to)) continue;
    const seq = sent.get(to) ?? 0;
    try {
      node.send(to, ['seq', config.incarnation, seq]);
      sent.set(to, seq + 1);
    } catch (error) {
      if (!isNetError(error, 'NOT_CONNECTED')) violation(`send to ${to} threw ${String(error)}`);
    }
  }
}
const traffic = setInterval(round, config.interval);

/** Pings `to` by id; resolves with the ms to its ack, or rejects. */
async function ping(to: string, token: number, ms: number, started: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const key = `${to} ${token}`;
  const acked = new Promise<void>((resolve, reject) => {
    acks.set(key, resolve);
    timer = setTimeout(() => reject(new Error(`no ack within ${ms} ms`)), ms);
  });
  try {
    await Promise.all([cluster.send(to, ['ping', token]), acked]);
    return Date.now() - started;
  } finally {
    clearTimeout(timer);
    acks.delete(key);
  }
}

process.on('message', (command: MeshCommand) => {
  switch (command.cmd) {
    case 'ping': {
      const started = Date.now();
      const acked: Record<string, number> = {};
      const errors: string[] = [];
      void Promise.all(
        command.to.map((to) =>
          ping(to, command.token, command.ms, started).then(
            (ms) => void (acked[to] = ms),
            (error: unknown) => void errors.push(`${to}: ${isNetError(error) ? error.code : ''} ${String(error)}`),
          ),
        ),
      ).then(() => report({ type: 'pinged', id: command.id, acked, errors }));
      break;
    }
    case 'tally':
      if (command.stop) clearInterval(traffic);
      report({ type: 'tally', id: command.id, sent: Object.fromEntries(sent), received: Object.fromEntries(received) });
      break;
    case 'close':
      clearInterval(traffic);
      void node.close().then(() => process.exit(0));
      break;
    default:
      break;
  }
});
report({ type: 'listening', at: Date.now(), pid: process.pid });
