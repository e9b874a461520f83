// The browser build's Node in real Chromium (karma.conf.js: the browser platform, whose only transport
// is the browser's own WebSocket), against a real Node.js node started for the run: spec/browser/server.ts,
// driven by messages (its header lists them). Every connection here is a real ws:// socket on 127.0.0.1.
import { Encoder } from '../../lib/codec/Encoder.js';
import type { NetError } from '../../lib/errors.js';
import type { Node } from '../../lib/node/Node.js';
import type { NodeOptions } from '../../lib/options.js';
import { Rpc } from '../../lib/rpc/Rpc.js';
import { EventLog, makeNode, sleep, until } from '../helpers/nodes.js';

declare const __karma__: { readonly config: { readonly args: readonly string[] } };

/** The Node.js node's addresses, from karma.conf.js. */
const address = __karma__.config.args[0]!;
const secureAddress = __karma__.config.args[1]!;
const SERVER = 'node-server';

type Message = readonly unknown[];
let counter = 0;

/** A browser node with a fresh id (the server tells nodes apart by id), and its event log. */
function browserNode(options: NodeOptions<Message, string, null> = {}): {
  node: Node<Message, string>;
  log: EventLog<Message>;
  id: string;
} {
  const id = `page-${Date.now().toString(36)}-${++counter}`;
  const node = makeNode<Message>({ ...options, nodeId: id });
  return { node, log: new EventLog<Message>(node), id };
}

/** A browser node connected to the server. */
async function connected(options: NodeOptions<Message, string, null> = {}): Promise<ReturnType<typeof browserNode>> {
  const made = browserNode(options);
  expect(await made.node.connect(address)).toBe(SERVER);
  return made;
}

/** Sends a command and resolves with the server's answer to it (the next message whose first item is `answer`). */
async function ask(node: Node<Message, string>, log: EventLog<Message>, message: Message, answer = message[0]): Promise<Message> {
  node.send(SERVER, message);
  for (;;) {
    const reply = (await log.next('message', 10_000)).message;
    if (reply[0] === answer) return reply;
  }
}

/** What the server saw of `id`, once it saw `what`. */
async function serverSaw(id: string, what: string): Promise<string[]> {
  const { node, log } = await connected();
  for (let tries = 0; ; tries++) {
    const seen = (await ask(node, log, ['seen', id]))[1] as string[];
    if (seen.includes(what) || tries === 100) return seen;
    await sleep(20);
  }
}

const pattern = (length: number): Uint8Array => new Uint8Array(length).map((_, i) => (i * 7) % 256);

describe('the browser build: a Node in Chromium, over WebSocket, with a Node.js node', () => {
  it('Rpc in the page: calls the Node.js node over ws:// and wss://, and serves its call back', async () => {
    for (const to of [address, secureAddress]) {
      const { node, log } = browserNode();
      const rpc = new Rpc(node);
      rpc.handle('whoami', (_params, call) => `a page, asked by ${call.from}`);
      expect(await node.connect(to)).toBe(SERVER);
      expect(await rpc.call<string>(SERVER, 'upper', ['from the page'])).toBe('FROM THE PAGE');
      expect(await rpc.call<string>(SERVER, 'askBack')).toBe(`a page, asked by ${SERVER}`);
      await expectAsync(rpc.call(SERVER, 'nobodyServesThis')).toBeRejectedWith(
        jasmine.objectContaining({ code: 'REMOTE_ERROR', remoteError: jasmine.objectContaining({ code: 'NO_SUCH_METHOD' }) }),
      );
      // The Rpc's messages never reached events$; the node's own events did.
      expect(log.events.filter((event) => event.type === 'message')).toEqual([]);
      expect(log.events.map((event) => event.type)).toContain('connected');
    }
  });

  it('connects to the Node.js node: handshakes both ways, messages both ways (echo)', async () => {
    const { node, log, id } = browserNode();
    expect(node.isConnected(SERVER)).toBeFalse();
    expect(await node.connect(address)).toBe(SERVER);
    expect((await log.next('connected')).nodeId).toBe(SERVER);
    expect(await ask(node, log, ['echo', { hello: 'from the page', n: 2n ** 60n }])).toEqual([
      'echo',
      { hello: 'from the page', n: 2n ** 60n },
    ]);
    expect(await serverSaw(id, 'connected')).toContain('connected');
    expect(node.isConnected(SERVER)).toBeTrue();
  });

  it('connects over wss:// too (TLS checked by the browser: this run trusts the server certificate by its key)', async () => {
    const { node, log } = browserNode();
    expect(secureAddress).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/msgpacknet$/);
    expect(await node.connect(secureAddress)).toBe(SERVER);
    expect(await ask(node, log, ['echo', 'over TLS'])).toEqual(['echo', 'over TLS']);
    expect(node.stats().connections[0]?.remoteAddress).toBe(secureAddress.replace(/^wss:\/\/([^/]+).*$/, '$1'));
  });

  it('the Node.js node rejects: the connection ends (a request that was accepted here ends at once), and it never counted there', async () => {
    const first = await connected();
    expect(await ask(first.node, first.log, ['rejectNext'], 'ok')).toEqual(['ok']);
    const { node, log, id } = browserNode();
    // Rejecting is closing: the browser sees the end of the stream, before or after its own accept.
    const outcome = await node.connect(address).then(
      async () => (await log.next('disconnected')).reason,
      (error: unknown) => (error as NetError).code,
    );
    expect(['remote-closed', 'CONNECTION_ERROR']).toContain(outcome);
    expect(node.isConnected(SERVER)).toBeFalse();
    expect(await serverSaw(id, 'rejected')).toEqual(['rejected']);

    // With connectRequest the browser decides after it saw the server's handshake; the server had rejected it.
    expect(await ask(first.node, first.log, ['rejectNext'], 'ok')).toEqual(['ok']);
    const second = browserNode();
    const request = await second.node.connectRequest(address);
    expect(request.nodeId).toBe(SERVER);
    expect(request.remoteAddress).toBe(address.replace(/^ws:\/\/([^/]+).*$/, '$1'));
    request.reject();
    expect(await serverSaw(second.id, 'rejected')).toEqual(['rejected']);
  });

  it('a connect to a wrong path, or to a port nobody listens on, rejects with CONNECTION_ERROR', async () => {
    const { node } = browserNode();
    const wrongPath = address.replace(/\/msgpacknet$/, '/elsewhere');
    expect(((await node.connect(wrongPath).catch((error: unknown) => error)) as NetError).code).toBe('CONNECTION_ERROR');
    expect(((await node.connect('ws://127.0.0.1:1/').catch((error: unknown) => error)) as NetError).code).toBe('CONNECTION_ERROR');
  });

  it('a 1 MiB message both ways: echoed, and sent by the Node.js node', async () => {
    const { node, log } = await connected();
    const big = pattern(1024 * 1024);
    const echoed = await ask(node, log, ['echo', big]);
    expect(echoed[1]).toEqual(big);
    const sent = (await ask(node, log, ['big', 1024 * 1024]))[1] as Uint8Array;
    expect(sent.length).toBe(1024 * 1024);
    expect(sent.every((byte, i) => byte === i % 251)).toBeTrue();
  });

  it('1000 messages in order, both ways', async () => {
    const { node, log } = await connected();
    for (let i = 0; i < 1000; i++) node.send(SERVER, ['seq', i]);
    expect(await ask(node, log, ['seqReport'])).toEqual(['seqReport', 1000, true]);
    node.send(SERVER, ['burst', 1000]);
    const burst = await log.messages(1000, 10_000);
    expect(burst.map((message) => message[1])).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('the browser closes: the Node.js node sees disconnected (remote-closed); so does close() of the whole node', async () => {
    const { node, log, id } = await connected();
    await node.disconnect(SERVER);
    expect((await log.next('disconnected')).reason).toBe('closed');
    expect(await serverSaw(id, 'disconnected:remote-closed')).toEqual(['connected', 'disconnected:remote-closed']);

    const other = await connected();
    await other.node.close();
    expect(await serverSaw(other.id, 'disconnected:remote-closed')).toEqual(['connected', 'disconnected:remote-closed']);
  });

  it('the Node.js node closes: the browser sees disconnected (remote-closed), and send throws NOT_CONNECTED', async () => {
    const { node, log } = await connected();
    node.send(SERVER, ['close']);
    const disconnected = await log.next('disconnected');
    expect(disconnected.nodeId).toBe(SERVER);
    expect(disconnected.reason).toBe('remote-closed');
    expect(() => node.send(SERVER, ['echo', 1])).toThrowMatching((error: NetError) => error.code === 'NOT_CONNECTED');
  });

  it("a limit broken by the Node.js node: a value over the browser node's maxValueBytes ends it with READ_ERROR", async () => {
    const { node, log, id } = await connected({ maxValueBytes: 64 * 1024 });
    node.send(SERVER, ['big', 100_000]);
    const disconnected = await log.next('disconnected');
    expect(disconnected.reason).toBe('error');
    expect(disconnected.error?.code).toBe('READ_ERROR');
    expect(disconnected.error?.max).toBe(64 * 1024);
    // The browser cut the connection; the Node.js node sees it end.
    expect((await serverSaw(id, 'disconnected:remote-closed')).length).toBe(2);
  });

  it('listen rejects with OPEN_ERROR (a browser cannot listen); tcp:// is not a transport here; authenticateIds is refused', async () => {
    const { node } = browserNode();
    expect(((await node.listen('ws://127.0.0.1:0/').catch((error: unknown) => error)) as NetError).code).toBe('OPEN_ERROR');
    expect(((await node.listen('127.0.0.1:0').catch((error: unknown) => error)) as NetError).code).toBe('OPEN_ERROR');
    expect(((await node.connect('127.0.0.1:1').catch((error: unknown) => error)) as NetError).code).toBe('CONNECTION_ERROR');
    expect(() => browserNode({ authenticateIds: true })).toThrowError(TypeError);
  });

  it("stats() counts both ways: the browser's writeTotal is the Node.js node's readTotal, and the reverse", async () => {
    const { node, log } = await connected();
    await ask(node, log, ['echo', 'x'.repeat(5000)]);
    const [, server] = (await ask(node, log, ['stats'])) as [string, { readTotal: number; writeTotal: number }];
    const [mine] = node.stats().connections;
    expect(mine?.nodeId).toBe(SERVER);
    expect(mine?.remoteAddress).toBe(address.replace(/^ws:\/\/([^/]+).*$/, '$1'));
    expect(mine!.writeTotal).toBeGreaterThan(5000);
    // The server answered after it read everything we wrote (its count of the chunk that held the
    // question comes after the question is handled); we read everything it wrote, then its answer.
    expect(server.readTotal).toBe(mine!.writeTotal - new Encoder().encode(['stats']).length);
    expect(mine!.readTotal).toBeGreaterThan(server.writeTotal);
    expect(mine!.readRate).toBeGreaterThan(0);
  });

  it('paused reading (nobody takes the events): a browser WebSocket reads on, the chunks are kept, then delivered in order', async () => {
    const node = makeNode<Message>({ nodeId: `page-paused-${++counter}`, eventBufferSize: 10 });
    expect(await node.connect(address)).toBe(SERVER);
    // Five bursts, five writes of the server: the node pauses during the first; four arrive while paused.
    for (let i = 0; i < 5; i++) {
      node.send(SERVER, ['burst', 100]);
      await sleep(40);
    }
    await sleep(200);
    const log = new EventLog<Message>(node);
    const bursts = await log.messages(500, 10_000);
    const expected = Array.from({ length: 500 }, (_, i) => i % 100);
    expect(bursts.map((message) => message[1])).toEqual(expected);
    expect(node.isConnected(SERVER)).toBeTrue();
  });

  it('backpressure from bufferedAmount: a large send makes the connection unwritable and send refuse past maxQueuedBytes; drain() resolves', async () => {
    const { node, log } = await connected({
      writeHighWaterMark: 256 * 1024,
      maxQueuedBytes: 2 * 1024 * 1024,
      maxValueBytes: 8 * 1024 * 1024,
    });
    const states: boolean[] = [];
    let refused: string | undefined;
    node.writable$(SERVER).subscribe((writable) => {
      states.push(writable);
      if (writable || refused !== undefined) return;
      // Just written: the 3 MiB are in bufferedAmount, over maxQueuedBytes, so a send now is refused.
      try {
        node.send(SERVER, ['echo', 'too soon']);
        refused = 'sent';
      } catch (error) {
        refused = (error as NetError).code;
      }
    });
    const big = pattern(3 * 1024 * 1024);
    node.send(SERVER, ['echo', big]);
    await until(() => states.includes(false), 5000, 'the connection reported unwritable');
    expect(refused).toBe('SEND_ERROR');
    await node.drain(SERVER);
    expect(states).toEqual([true, false, true]);
    const echoed = (await log.next('message', 10_000)).message;
    expect(echoed[1]).toEqual(big);
    expect(await ask(node, log, ['echo', 'after'])).toEqual(['echo', 'after']);
  });
});
