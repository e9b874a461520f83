// One node of the chaos mesh, in its own network namespace: listens, links to every other node, sends
// numbered messages to each connected peer, checks what it receives, and reports to the driver
// (chaos.spec.ts) over the IPC channel. argv[2]: the NodeConfig as JSON. Run with --expose-gc, so
// its memory samples are the live heap.
import { isNetError } from '../../lib/errors.js';
import { Node } from '../../lib/node/Node.js';
import type { Command, Counters, NodeConfig, Report, Wire } from './protocol.js';

const config = JSON.parse(process.argv[2]!) as NodeConfig;
const report = (value: Report): void => {
  if (process.connected) process.send!(value);
};
const violation = (text: string): void =>
  report({ type: 'violation', at: Date.now(), text: `${config.id}#${config.incarnation}: ${text}` });
// The driver is gone (it ended or crashed): so is this node.
process.on('disconnect', () => process.exit(3));

const node = new Node<Wire, string>({
  nodeId: config.id,
  connectionTimeout: config.connectionTimeout,
  handshakeTimeout: config.handshakeTimeout,
});
const peers = config.peers.map((peer) => peer.id);
const counters: Counters = {
  checked: 0,
  sent: 0,
  notConnected: 0,
  gapsTold: 0,
  gapsToldLate: 0,
  lost: 0,
  gapsAcrossReplaced: 0,
  worstLateMs: 0,
  reorderedAcrossConnections: 0,
  incarnations: 0,
  disconnects: 0,
  connects: 0,
};
let closing = false;

/** What this node sends to each peer: the generation (its `connected` events) and the next number. */
const outgoing = new Map(peers.map((id) => [id, { generation: 0, seq: 0 }]));

/**
 * What it received from each peer (per incarnation of the sender): the last number and its generation,
 * and the `disconnected` events from that peer since (all, and those not `'replaced'`).
 */
interface Incoming {
  incarnation: number;
  lastSeq: number | undefined;
  /** When the last number arrived. */
  lastAt: number;
  lastGeneration: number;
  told: number;
  toldNotReplaced: number;
}
const incoming = new Map<string, Incoming>();
/** Gaps across a connection the sender saw end, not yet told to this node by a `disconnected` from it. */
const pendingLate: { peer: string; text: string; at: number }[] = [];
const watches = new Map<string, { id: number; since: number }[]>();
const lastLinkState = new Map<string, string>();
let final: { id: number; token: number; from: Set<string>; sendErrors: string[]; timer: NodeJS.Timeout } | undefined;
/** The peers the last exchange's token came from, by token (a peer may send it before the driver tells this node). */
const finalFrom = new Map<number, Set<string>>();

function onTraffic(from: string, [, incarnation, generation, seq, sentAt]: readonly [0, number, number, number, number]): void {
  counters.checked++;
  let state = incoming.get(from);
  if (state === undefined || incarnation > state.incarnation) {
    if (state !== undefined) counters.incarnations++;
    state = { incarnation, lastSeq: undefined, lastAt: Date.now(), lastGeneration: generation, told: 0, toldNotReplaced: 0 };
    incoming.set(from, state);
  } else if (incarnation < state.incarnation) {
    violation(`from ${from}: a message of its incarnation ${incarnation} after one of incarnation ${state.incarnation}`);
    return;
  }
  const { lastSeq, lastGeneration } = state;
  if (lastSeq !== undefined) {
    const where = `from ${from}#${incarnation}: #${seq} (generation ${generation}) after #${lastSeq} (generation ${lastGeneration})`;
    if (seq < lastSeq && generation < lastGeneration) {
      // Sent on the sender's older connection before it moved to a newer one (a duplicate replaced it), delivered after:
      // the node orders a replaced connection's last messages before its successor's first, so this is a violation.
      counters.reorderedAcrossConnections++;
      violation(`out of order: ${where}: its older connection's message after its newer one's`);
    } else if (seq <= lastSeq) violation(`${seq === lastSeq ? 'duplicate' : 'out of order'}: ${where}`);
    else if (generation < lastGeneration) violation(`generation went back: ${where}`);
    else if (seq > lastSeq + 1) {
      const missing = seq - lastSeq - 1;
      if (generation === lastGeneration) {
        violation(`${missing} lost on one connection (the sender saw no new connection between): ${where}`);
      } else if (state.told > 0) {
        counters.gapsTold++;
        counters.lost += missing;
        if (state.toldNotReplaced === 0) {
          // A replaced connection is read to its end: what was lost there, and why, is for the driver to tell.
          counters.gapsAcrossReplaced++;
          const text = `${missing} missing across 'replaced' only: ${where}; the last arrived ${Date.now() - state.lastAt} ms before`;
          report({ type: 'note', at: Date.now(), since: state.lastAt, peer: from, text });
        }
      } else {
        // The sender saw that connection end; this node is to be told too (a half-open connection it still holds).
        counters.lost += missing;
        pendingLate.push({ peer: from, text: `${missing} missing: ${where}, no disconnected from ${from} yet`, at: Date.now() });
      }
    }
  }
  if (lastSeq === undefined || seq > lastSeq) {
    state.lastSeq = seq;
    state.lastAt = Date.now();
    state.lastGeneration = generation;
    state.told = 0;
    state.toldNotReplaced = 0;
  }
  const waiting = watches.get(from);
  if (waiting !== undefined) {
    const now = Date.now();
    const left = waiting.filter((watch) => {
      if (sentAt < watch.since) return true;
      report({ type: 'fresh', id: watch.id, at: now });
      return false;
    });
    if (left.length > 0) watches.set(from, left);
    else watches.delete(from);
  }
}

function onDisconnected(peer: string, reason: string): void {
  counters.disconnects++;
  const state = incoming.get(peer);
  if (state !== undefined) {
    state.told++;
    if (reason !== 'replaced') state.toldNotReplaced++;
  }
  const now = Date.now();
  for (let i = pendingLate.length - 1; i >= 0; i--) {
    const gap = pendingLate[i]!;
    if (gap.peer !== peer) continue;
    counters.gapsToldLate++;
    counters.worstLateMs = Math.max(counters.worstLateMs, now - gap.at);
    pendingLate.splice(i, 1);
  }
}

node.events$.subscribe({
  next: (event) => {
    switch (event.type) {
      case 'connectionRequest':
        event.request.accept();
        break;
      case 'connected': {
        const out = outgoing.get(event.nodeId);
        if (out === undefined) {
          violation(`connected to an unknown id ${JSON.stringify(event.nodeId)}`);
          break;
        }
        out.generation++;
        counters.connects++;
        report({ type: 'event', at: Date.now(), event: 'connected', peer: event.nodeId, up: node.isConnected(event.nodeId) });
        break;
      }
      case 'disconnected':
        onDisconnected(event.nodeId, event.reason);
        report({
          type: 'event',
          at: Date.now(),
          event: 'disconnected',
          peer: event.nodeId,
          reason: event.reason,
          ...(event.error ? { code: event.error.code } : {}),
          up: node.isConnected(event.nodeId),
        });
        break;
      case 'message': {
        const message = event.message;
        if (message[0] === 0) onTraffic(event.from, message);
        else {
          const from = finalFrom.get(message[1]) ?? new Set<string>();
          finalFrom.set(message[1], from.add(event.from));
          if (final !== undefined && final.token === message[1] && from.size === peers.length) finishFinal();
        }
        break;
      }
      default:
        break;
    }
  },
  error: (error: unknown) => violation(`events$ failed: ${String(error)}`),
});

function finishFinal(): void {
  if (final === undefined) return;
  clearTimeout(final.timer);
  report({ type: 'final', id: final.id, from: [...final.from].sort(), sendErrors: final.sendErrors });
  final = undefined;
}

/** One round: the next number to every peer; a peer not connected gets nothing (the number is not used up). */
function round(): void {
  if (closing) return;
  const now = Date.now();
  for (const [peer, out] of outgoing) {
    try {
      node.send(peer, [0, config.incarnation, out.generation, out.seq, now]);
      out.seq++;
      counters.sent++;
    } catch (error) {
      if (isNetError(error, 'NOT_CONNECTED')) counters.notConnected++;
      else violation(`send to ${peer} threw ${String(error)}`);
    }
  }
  const [min, max] = config.interval;
  setTimeout(round, min + Math.random() * (max - min));
}

function sample(): void {
  if (closing) return;
  globalThis.gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  report({ type: 'sample', at: Date.now(), heapUsed, rss, counters: { ...counters } });
}

process.on('message', (command: Command) => {
  switch (command.cmd) {
    case 'watch':
      watches.set(command.peer, [...(watches.get(command.peer) ?? []), { id: command.id, since: command.since }]);
      break;
    case 'state':
      report({
        type: 'state',
        id: command.id,
        state: {
          connectionCount: node.connectionCount,
          statsConnections: node.stats().connections.length,
          connected: peers.filter((peer) => node.isConnected(peer)),
          links: Object.fromEntries(lastLinkState),
          pendingLate: pendingLate.map((gap) => gap.text),
        },
      });
      break;
    case 'final': {
      const sendErrors: string[] = [];
      for (const peer of peers) {
        try {
          node.send(peer, [1, command.token]);
        } catch (error) {
          sendErrors.push(`${peer}: ${String(error)}`);
        }
      }
      const from = finalFrom.get(command.token) ?? new Set<string>();
      finalFrom.set(command.token, from);
      final = { id: command.id, token: command.token, from, sendErrors, timer: setTimeout(finishFinal, command.ms) };
      if (from.size === peers.length) finishFinal();
      break;
    }
    case 'close':
      closing = true;
      sample();
      void node.close().then(() => process.exit(0));
      break;
  }
});

await node.listen(config.listen);
report({ type: 'listening', at: Date.now(), pid: process.pid });
for (const peer of config.peers) {
  node.link(peer.address, { initialDelay: config.initialDelay, maxDelay: config.maxDelay }).subscribe({
    next: (event) => {
      lastLinkState.set(peer.id, event.state);
      if (event.state === 'connected' && event.nodeId !== peer.id) violation(`the link to ${peer.address} reached ${event.nodeId}`);
      const detail =
        event.state === 'connecting'
          ? `attempt ${event.attempt}`
          : event.state === 'disconnected'
            ? `${event.reason}${event.error ? ` ${event.error.code} (${event.error.message})` : ''}, retry in ${Math.round(event.retryIn)} ms`
            : '';
      report({ type: 'link', at: Date.now(), peer: peer.id, state: event.state, detail });
    },
    error: (error: unknown) => violation(`the link to ${peer.id} failed: ${String(error)}`),
    complete: () => {
      if (!closing) violation(`the link to ${peer.id} completed`);
    },
  });
}
round();
setInterval(sample, 1000);
sample();
