// `msgpacknet demo`: a few nodes on loopback in a full mesh, traffic between them, and a live
// view of their connections (from stats()) and events, until the time is up or Ctrl-C.
import { Node } from '../node/Node.js';
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
  /** Called with each node made (the restarted one too): `--metrics` instruments them. */
  readonly onNode?: <M, I>(node: Node<M, string, I>) => void;
  /** A line for the live view's header, when there is one (`--metrics`: the endpoint and what it serves). */
  readonly status?: () => string | undefined;
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
  const makeNode = (nodeId: string): Node<Chat, string, { role: string }> =>
    new Node<Chat, string, { role: string }>({ nodeId, initMessage: { role: 'demo' }, statsHalfLife: halfLife });
  const made = (node: Node<Chat, string, { role: string }>): Node<Chat, string, { role: string }> => {
    options.onNode?.(node);
    return node;
  };
  const nodes = names.map((name) => made(makeNode(name)));
  const recent: string[] = [];
  const sent = new Map<string, number>();
  const received = new Map<string, number>();
  const lastSeq = new Map<string, number>();
  let outOfOrder = 0;
  /** Messages that went into a connection that then ended (the wire has no acknowledgement), seen as gaps across a disconnect. */
  let lostInDisconnects = 0;
  /** Sender>receiver pairs whose connection ended since the receiver's last message on it. */
  const interrupted = new Set<string>();
  let latencyTotal = 0;
  const started = Date.now();
  const log = (text: string): void => {
    recent.push(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${text}`);
    if (recent.length > 10) recent.shift();
  };

  const watch = (node: Node<Chat, string, { role: string }>): void => {
    node.events$.subscribe((event: NodeEvent<Chat, string, { role: string }>) => {
      switch (event.type) {
        case 'connectionRequest':
          event.request.accept();
          break;
        case 'connected':
          log(`${node.nodeId}: connected to ${event.nodeId}`);
          break;
        case 'disconnected':
          log(`${node.nodeId}: ${event.nodeId} disconnected (${event.reason})`);
          interrupted.add(`${event.nodeId}>${node.nodeId}`);
          break;
        case 'message': {
          const key = `${event.from}>${node.nodeId}`;
          received.set(key, (received.get(key) ?? 0) + 1);
          const expected = (lastSeq.get(key) ?? -1) + 1;
          if (event.message.seq > expected && interrupted.has(key)) lostInDisconnects += event.message.seq - expected;
          else if (event.message.seq !== expected) outOfOrder++;
          interrupted.delete(key);
          lastSeq.set(key, event.message.seq);
          latencyTotal += Date.now() - event.message.sentAt;
          break;
        }
        default:
          break;
      }
    });
  };
  nodes.forEach(watch);

  const addresses = await Promise.all(nodes.map((node) => node.listen('127.0.0.1:0')));
  // A full mesh of links: each node keeps a link to each node after it, reconnecting by itself
  // (backoff up to 1 s here) whenever it is lost.
  const links = new Map<string, { up: boolean; lostAt?: number }>();
  const healTimes: number[] = [];
  const subscriptions = nodes.flatMap((node, i) =>
    addresses.slice(i + 1).map((address, k) => {
      const name = `${node.nodeId} -> ${names[i + 1 + k]!}`;
      links.set(name, { up: false });
      return node.link(address, { maxDelay: 1000, settleTime: 200 }).subscribe((event) => {
        const state = links.get(name)!;
        if (event.state === 'connected') {
          if (state.lostAt !== undefined) {
            healTimes.push(Date.now() - state.lostAt);
            log(`link ${name}: healed after ${((Date.now() - state.lostAt) / 1000).toFixed(1)} s`);
          }
          links.set(name, { up: true });
        } else if (event.state === 'disconnected') {
          if (state.up) links.set(name, { up: false, lostAt: Date.now() });
          log(
            `link ${name}: ${event.reason === 'error' ? 'attempt failed' : `lost (${event.reason})`}, retry in ${Math.round(event.retryIn)} ms`,
          );
        }
      });
    }),
  );
  const deadline = Date.now() + 10_000;
  while ([...links.values()].some((link) => !link.up) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));

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
          try {
            node.send(peer, { from: node.nodeId, seq, sentAt: Date.now(), text: 'hello from the demo' });
          } catch {
            break; // closing: the link brings it back
          }
          sent.set(key, seq + 1);
        }
      }
    }
  }, 10);

  // A little drama: the last node goes down (closed), and a new one with its id starts on its
  // address 1.5 s later; the other nodes' links find it by themselves.
  const lastIndex = nodes.length - 1;
  const dropAt = (options.seconds > 0 ? options.seconds / 3 : 3) * 1000;
  let restarted: Promise<unknown> = Promise.resolve();
  const drop = setTimeout(() => {
    const victim = nodes[lastIndex]!;
    for (const name of names) interrupted.add(`${name}>${victim.nodeId}`);
    log(`${victim.nodeId}: going down (close), back in 1.5 s on ${addresses[lastIndex]!}`);
    restarted = victim.close().then(
      () =>
        new Promise<void>((resolve) => {
          cancelRestart = resolve;
          restart = setTimeout(() => {
            const reborn = made(makeNode(names[lastIndex]!));
            watch(reborn);
            nodes[lastIndex] = reborn;
            reborn.listen(addresses[lastIndex]!).then(
              () => log(`${reborn.nodeId}: restarted, listening on ${addresses[lastIndex]!}`),
              (error: unknown) => log(`${reborn.nodeId}: could not restart: ${String(error)}`),
            );
            resolve();
          }, 1500);
        }),
    );
  }, dropAt);
  let restart: ReturnType<typeof setTimeout> | undefined;
  let cancelRestart = (): void => undefined;

  const previous = new Map<string, number>();
  const msgRates = new Map<string, number>();
  let lastView = Date.now();
  const view = (): string => {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - lastView) / 1000);
    lastView = now;
    const status = options.status?.();
    const header = [
      `msgpacknet demo: ${nodes.length} nodes on loopback, full mesh   ${((now - started) / 1000).toFixed(1)}s${options.seconds ? ` of ${options.seconds}s` : ''}   Ctrl-C to stop`,
      `links: ${[...links.values()].filter((link) => link.up).length} of ${links.size} up (node.link(): they heal by themselves)`,
      ...(status === undefined ? [] : [status]),
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
  clearTimeout(restart);
  cancelRestart();
  await restarted;
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the last messages land
  clearInterval(refresh);
  render();
  for (const subscription of subscriptions) subscription.unsubscribe();
  await Promise.all(nodes.map((node) => node.close()));

  // The tail sent into a connection that ended, with nothing after it to show the gap.
  for (const key of interrupted) lostInDisconnects += (sent.get(key) ?? 0) - ((lastSeq.get(key) ?? -1) + 1);
  const totalSent = [...sent.values()].reduce((a, b) => a + b, 0);
  const totalReceived = [...received.values()].reduce((a, b) => a + b, 0);
  const elapsed = (Date.now() - started) / 1000;
  return [
    '',
    `summary: ${nodes.length} nodes, ${(nodes.length * (nodes.length - 1)) / 2} connections, ${elapsed.toFixed(1)} s`,
    `  messages sent ${totalSent}, received ${totalReceived}, lost ${totalSent - totalReceived - lostInDisconnects}, out of order ${outOfOrder}`,
    `  ${lostInDisconnects} were in flight to ${names[lastIndex]!} as it went down: not delivered, each across a disconnect its sender was told of`,
    healTimes.length > 0
      ? `  ${names[lastIndex]!} went down and was restarted: ${healTimes.length} links healed by themselves, in ${(Math.max(...healTimes) / 1000).toFixed(1)} s at most`
      : `  ${names[lastIndex]!} went down${options.seconds > 0 && options.seconds < 3 ? ' (too short a run for it to come back)' : ''}`,
    `  mean one-way latency ${(latencyTotal / Math.max(1, totalReceived)).toFixed(2)} ms; every node closed cleanly`,
  ].join('\n');
}
