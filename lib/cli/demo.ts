// `msgpacknet demo`: a few nodes on loopback in a full mesh, traffic between them, and a live
// view of their connections (from stats()) and events, until the time is up or Ctrl-C.
import { Node } from '../Node.js';
import type { NodeEvent } from '../events.js';

export interface DemoOptions {
  /** Nodes in the mesh. @default 4 */
  readonly nodes: number;
  /** Seconds to run; 0 runs until Ctrl-C. @default 10 */
  readonly seconds: number;
  /** Refresh the view in place (a terminal) or print a plain line each second. */
  readonly tty: boolean;
  readonly write: (text: string) => void;
  /** The terminal's size now (process.stdout.rows and columns); the live view is cut to fit it. */
  readonly size?: () => { readonly rows?: number | undefined; readonly columns?: number | undefined };
}

interface Chat {
  readonly from: string;
  readonly seq: number;
  readonly sentAt: number;
  readonly text: string;
}

const fmtRate = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
/**
 * The live view cut to `rows` lines (and each line to `columns`), so that it never scrolls and can
 * be redrawn in place: one line is left for the cursor after it. The header stays; then as many
 * connections as fit (the rest counted on one line), then the latest events that fit.
 */
export function fitView(header: string[], connections: string[], events: string[], rows: number, columns: number): string[] {
  const budget = Math.max(1, rows - 1);
  const out = header.slice(0, budget);
  let room = budget - out.length;
  if (connections.length <= room) {
    out.push(...connections);
    room -= connections.length;
  } else if (room > 0) {
    out.push(...connections.slice(0, room - 1), `... ${connections.length - (room - 1)} more connections`);
    room = 0;
  }
  // A blank line, "events:", and at least one event, or no events section.
  if (room >= 3) out.push('', 'events:', ...events.slice(-(room - 2)));
  const width = Math.max(1, columns - 1);
  return out.map((text) => (text.length > width ? text.slice(0, width) : text));
}

const pad = (text: string, width: number): string => (text.length >= width ? text.slice(0, width) : text + ' '.repeat(width - text.length));

/** Runs the demo; resolves with its summary once every node is closed. */
export async function demo(options: DemoOptions): Promise<string> {
  // Messages per second in the view decay with the same half-life as the byte rates of stats(),
  // so the columns agree (and the last view, after the traffic stops, still shows what it was).
  const halfLife = 1000;
  const names = Array.from({ length: options.nodes }, (_, i) => `node-${String.fromCharCode(97 + i)}`);
  const nodes = names.map(
    (nodeId) => new Node<Chat, string, { role: string }>({ nodeId, initMessage: { role: 'demo' }, statsHalfLife: halfLife }),
  );
  const recent: string[] = [];
  const sent = new Map<string, number>();
  const received = new Map<string, number>();
  const lastSeq = new Map<string, number>();
  let outOfOrder = 0;
  let latencyTotal = 0;
  const started = Date.now();
  const log = (text: string): void => {
    recent.push(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${text}`);
    if (recent.length > 10) recent.shift();
  };

  nodes.forEach((node) => {
    node.events$.subscribe((event: NodeEvent<Chat, string, { role: string }>) => {
      switch (event.type) {
        case 'connectionRequest':
          log(`${node.nodeId}: request from ${event.request.nodeId} (${event.request.remoteAddress}), accepted`);
          event.request.accept();
          break;
        case 'connected':
          log(`${node.nodeId}: connected to ${event.nodeId}`);
          break;
        case 'disconnected':
          log(`${node.nodeId}: ${event.nodeId} disconnected (${event.reason})`);
          break;
        case 'message': {
          const key = `${event.from}>${node.nodeId}`;
          received.set(key, (received.get(key) ?? 0) + 1);
          if (event.message.seq !== (lastSeq.get(key) ?? -1) + 1) outOfOrder++;
          lastSeq.set(key, event.message.seq);
          latencyTotal += Date.now() - event.message.sentAt;
          break;
        }
        default:
          break;
      }
    });
  });

  const addresses = await Promise.all(nodes.map((node) => node.listen('127.0.0.1:0')));
  // A full mesh: each node connects to the ones after it.
  for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) await nodes[i]!.connect(addresses[j]!);

  // Traffic: every 10 ms each node sends a burst to each peer; bursts grow and shrink so rates move.
  let tick = 0;
  const traffic = setInterval(() => {
    tick++;
    const burst = 1 + Math.round(20 * (1 + Math.sin(tick / 50)));
    for (const node of nodes) {
      for (const peer of names) {
        if (peer === node.nodeId || !node.isConnected(peer)) continue;
        const key = `${node.nodeId}>${peer}`;
        for (let k = 0; k < burst; k++) {
          const seq = sent.get(key) ?? 0;
          node.send(peer, { from: node.nodeId, seq, sentAt: Date.now(), text: 'hello from the demo' });
          sent.set(key, seq + 1);
        }
      }
    }
  }, 10);

  // A little drama for the events pane: the first node drops the last one, which reconnects a second later.
  const first = nodes[0]!;
  const last = nodes[nodes.length - 1]!;
  const dropAt = (options.seconds > 0 ? options.seconds / 3 : 3) * 1000;
  const drop = setTimeout(() => {
    log(`${first.nodeId}: disconnect(${last.nodeId})`);
    void first.disconnect(last.nodeId).catch(() => undefined);
  }, dropAt);
  const rejoin = setTimeout(() => {
    log(`${last.nodeId}: connect(${addresses[0]!})`);
    void last.connect(addresses[0]!).catch(() => undefined);
  }, dropAt + 1000);

  const previous = new Map<string, number>();
  const msgRates = new Map<string, number>();
  let lastView = Date.now();
  const view = (): string => {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - lastView) / 1000);
    lastView = now;
    const header = [
      `msgpacknet demo: ${nodes.length} nodes on loopback, full mesh   ${((now - started) / 1000).toFixed(1)}s${options.seconds ? ` of ${options.seconds}s` : ''}   Ctrl-C to stop`,
      '',
      `${pad('connection', 22)}${pad('msgs/s in', 12)}${pad('bytes/s in', 12)}${pad('bytes/s out', 12)}${pad('received', 10)}`,
    ];
    const rows: string[] = [];
    for (const node of nodes) {
      for (const c of node.stats().connections) {
        const key = `${c.nodeId}>${node.nodeId}`;
        const count = received.get(key) ?? 0;
        const weight = 1 - 2 ** ((-seconds * 1000) / halfLife);
        const rate = (msgRates.get(key) ?? 0) + weight * ((count - (previous.get(key) ?? 0)) / seconds - (msgRates.get(key) ?? 0));
        msgRates.set(key, rate);
        previous.set(key, count);
        rows.push(
          `${pad(`${c.nodeId} -> ${node.nodeId}`, 22)}${pad(fmtRate(rate), 12)}${pad(fmtRate(c.readRate), 12)}${pad(fmtRate(c.writeRate), 12)}${pad(String(count), 10)}`,
        );
      }
    }
    const size = options.size?.() ?? {};
    return fitView(header, rows, recent, size.rows || 1000, size.columns || 1000).join('\n');
  };

  let lines = 0;
  const render = (): void => {
    const text = view();
    if (options.tty) {
      // Back to where the last view started, and over it line by line (each line's rest erased), then
      // erase what a longer last view left below. Not one erase of the whole screen from its top-left
      // corner: terminals such as tmux keep a copy of an erased screen in the scrollback.
      options.write(`${lines > 0 ? `\x1b[${lines}F` : ''}${text.split('\n').join('\x1b[K\n')}\x1b[K\n\x1b[J`);
      lines = text.split('\n').length;
    } else {
      const total = [...received.values()].reduce((a, b) => a + b, 0);
      options.write(
        `${((Date.now() - started) / 1000).toFixed(1)}s: ${nodes.reduce((n, node) => n + node.connectionCount, 0) / 2} connections, ${total} messages received\n`,
      );
    }
  };
  const refresh = setInterval(render, options.tty ? 250 : 1000);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    if (options.seconds > 0) setTimeout(stop, options.seconds * 1000);
  });
  clearInterval(traffic);
  clearTimeout(drop);
  clearTimeout(rejoin);
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the last messages land
  clearInterval(refresh);
  render();
  await Promise.all(nodes.map((node) => node.close()));

  const totalSent = [...sent.values()].reduce((a, b) => a + b, 0);
  const totalReceived = [...received.values()].reduce((a, b) => a + b, 0);
  const elapsed = (Date.now() - started) / 1000;
  return [
    '',
    `summary: ${nodes.length} nodes, ${(nodes.length * (nodes.length - 1)) / 2} connections, ${elapsed.toFixed(1)} s`,
    `  messages sent ${totalSent}, received ${totalReceived}, lost ${totalSent - totalReceived}, out of order ${outOfOrder}`,
    `  mean one-way latency ${(latencyTotal / Math.max(1, totalReceived)).toFixed(2)} ms; every node closed cleanly`,
  ].join('\n');
}
