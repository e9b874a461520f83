import { Subscription } from 'rxjs';
import { Node, type NodeConfig } from '../../lib/node/Node.js';
import type { NodeEvent } from '../../lib/events.js';
import type { NodeOptions } from '../../lib/options.js';

const open: Node<unknown, unknown, unknown>[] = [];
let subscriptions = new Subscription();

/** Every node made through these helpers is closed after each spec. */
afterEach(async () => {
  subscriptions.unsubscribe();
  subscriptions = new Subscription();
  await Promise.all(open.splice(0).map((node) => node.close()));
});

/** A node closed after the spec. */
export function makeNode<M = unknown, N = string, I = null>(config: NodeConfig<M, N, I>): Node<M, N, I> {
  const node = new Node<M, N, I>(config);
  open.push(node);
  return node;
}

let counter = 0;
/** A node with a readable id, listening on loopback, accepting every request when `accept` is set. */
export async function listening<M = unknown>(
  options: NodeOptions<M, string, null> & { accept?: boolean; id?: string } = {},
): Promise<{ node: Node<M, string>; address: string; log: EventLog<M> }> {
  const node = makeNode<M>({ ...options, nodeId: options.id ?? `node-${++counter}` });
  const log = new EventLog(node);
  if (options.accept !== false) {
    subscriptions.add(
      node.events$.subscribe((event) => {
        if (event.type === 'connectionRequest') event.request.accept();
      }),
    );
  }
  const address = await node.listen('127.0.0.1:0');
  return { node, address, log };
}

/** A client node (not listening) and its event log. */
export function client<M = unknown>(
  options: NodeOptions<M, string, null> & { id?: string } = {},
): { node: Node<M, string>; log: EventLog<M> } {
  const node = makeNode<M>({ ...options, nodeId: options.id ?? `client-${++counter}` });
  return { node, log: new EventLog(node) };
}

/**
 * Records every event of a node from the moment it is made, and hands them
 * out in order: `next('message')` resolves with the next message not yet
 * taken, or rejects after `ms` (so a broken spec fails, never hangs).
 */
export class EventLog<M = unknown, N = unknown, I = unknown> {
  readonly events: NodeEvent<M, N, I>[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly taken = new Set<number>();
  completed = false;

  constructor(node: Node<M, N, I>) {
    subscriptions.add(
      node.events$.subscribe({
        next: (event) => {
          this.events.push(event);
          for (const wake of this.waiters.splice(0)) wake();
        },
        complete: () => {
          this.completed = true;
          for (const wake of this.waiters.splice(0)) wake();
        },
      }),
    );
  }

  /** Types of the events so far, in order. */
  get types(): string[] {
    return this.events.map((event) => event.type);
  }

  ofType<T extends NodeEvent<M, N, I>['type']>(type: T): Extract<NodeEvent<M, N, I>, { type: T }>[] {
    return this.events.filter((event): event is Extract<NodeEvent<M, N, I>, { type: T }> => event.type === type);
  }

  async next<T extends NodeEvent<M, N, I>['type']>(type: T, ms = 5000): Promise<Extract<NodeEvent<M, N, I>, { type: T }>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.events.findIndex((event, i) => event.type === type && !this.taken.has(i));
      if (index >= 0) {
        this.taken.add(index);
        return this.events[index] as Extract<NodeEvent<M, N, I>, { type: T }>;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no '${type}' event within ${ms} ms; saw: ${this.types.join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next `count` messages' payloads. */
  async messages(count: number, ms = 5000): Promise<M[]> {
    const out: M[] = [];
    for (let i = 0; i < count; i++) out.push((await this.next('message', ms)).message);
    return out;
  }
}

/** Resolves after `ms` of real time (for letting sockets settle, never for asserting durations). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `condition()` holds, polling; rejects after `ms`. */
export async function until(condition: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(5);
  }
}
