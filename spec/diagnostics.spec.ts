import { encode } from '@msgpack/msgpack';
import { spawn } from 'node:child_process';
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { connect as netConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { firstValueFrom } from 'rxjs';
import { debugEnabled } from '../lib/debugLog.js';
import { diagnostics } from '../lib/diagnostics.js';
import {
  DIAGNOSTICS_CHANNELS,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  type HandshakeFailedMessage,
  type LimitMessage,
  type RpcCallMessage,
} from '../lib/diagnosticsChannels.js';
import { NetError } from '../lib/errors.js';
import { Rpc } from '../lib/rpc/Rpc.js';
import { netError } from './helpers/marbles.js';
import { client, listening, until } from './helpers/nodes.js';

const listeners: [string, (message: unknown) => void][] = [];

/** Collects what one channel publishes until the spec ends. */
function listen<T>(name: string): T[] {
  const seen: T[] = [];
  const listener = (message: unknown): void => void seen.push(message as T);
  subscribe(name, listener);
  listeners.push([name, listener]);
  return seen;
}

describe('diagnostics_channel', () => {
  afterEach(() => {
    for (const [name, listener] of listeners.splice(0)) unsubscribe(name, listener);
  });

  describe('msgpacknet:connection:open and :close', () => {
    let opened: ConnectionOpenMessage[];
    let closed: ConnectionCloseMessage[];
    beforeEach(() => {
      opened = listen(DIAGNOSTICS_CHANNELS.connectionOpen);
      closed = listen(DIAGNOSTICS_CHANNELS.connectionClose);
    });

    it('tell of each registered connection on both nodes, with its direction, its end and the bytes it carried', async () => {
      const server = await listening({ id: 'dc-server' });
      const { node: caller } = client({ id: 'dc-caller' });
      await caller.connect(server.address);
      await until(() => opened.length === 2);
      const byNode = (node: object): ConnectionOpenMessage | undefined => opened.find((message) => message.node === node);
      expect(byNode(caller)).toEqual({
        node: caller,
        nodeId: 'dc-server',
        remoteAddress: server.address,
        outgoing: true,
        transport: 'tcp',
      });
      expect(byNode(server.node)).toEqual(jasmine.objectContaining({ node: server.node, nodeId: 'dc-caller', outgoing: false }));
      caller.send('dc-server', 'x'.repeat(1000));
      await server.log.next('message');
      await caller.disconnect('dc-server');
      await until(() => closed.length === 2);
      const callerClosed = closed.find((message) => message.node === caller)!;
      expect(callerClosed).toEqual(
        jasmine.objectContaining({
          nodeId: 'dc-server',
          remoteAddress: server.address,
          outgoing: true,
          reason: 'closed',
          error: undefined,
        }),
      );
      expect(callerClosed.bytesWritten).toBeGreaterThan(1000);
      expect([callerClosed.messagesWritten, callerClosed.messagesRead, callerClosed.transport]).toEqual([1, 0, 'tcp']);
      expect(closed.find((message) => message.node === server.node)!.bytesRead).toBeGreaterThan(1000);
    });

    it('a connection cut by a limit closes with its error, and the limit is told on msgpacknet:limit', async () => {
      const limits = listen<LimitMessage>(DIAGNOSTICS_CHANNELS.limit);
      const server = await listening({ id: 'dc-strict', maxValueBytes: 1024 });
      const { node: caller } = client({ id: 'dc-big', maxValueBytes: 1 << 20 });
      await caller.connect(server.address);
      await until(() => server.node.isConnected('dc-big'));
      caller.send('dc-strict', 'x'.repeat(10_000));
      await until(() => closed.some((message) => message.node === server.node));
      const cut = closed.find((message) => message.node === server.node)!;
      expect(cut.reason).toBe('error');
      expect(cut.error).toEqual(netError('READ_ERROR', { limit: 'maxStrLength', max: 1024 })); // maxValueBytes bounds a string
      expect(limits).toEqual([{ node: server.node, limit: 'maxStrLength', max: 1024, nodeId: 'dc-big', error: cut.error as NetError }]);
    });
  });

  it('a subscriber that closes the node or disconnects the peer from inside connection:open leaves both nodes consistent', async () => {
    const server = await listening({ id: 'dc-host' });
    const { node: caller } = client({ id: 'dc-guest' });
    const onOpen = (message: unknown): void => {
      const { node, nodeId } = message as ConnectionOpenMessage;
      if (node === server.node) void server.node.disconnect(nodeId as string);
    };
    subscribe(DIAGNOSTICS_CHANNELS.connectionOpen, onOpen);
    listeners.push([DIAGNOSTICS_CHANNELS.connectionOpen, onOpen]);
    await caller.connect(server.address).catch(() => undefined); // it may be cut before or after connect() resolves
    await until(() => !server.node.isConnected('dc-guest') && !caller.isConnected('dc-host'), 5000, 'both ends closed');
    const closing = (message: unknown): void => {
      if ((message as ConnectionOpenMessage).node === caller) void caller.close();
    };
    unsubscribe(DIAGNOSTICS_CHANNELS.connectionOpen, onOpen);
    subscribe(DIAGNOSTICS_CHANNELS.connectionOpen, closing);
    listeners.push([DIAGNOSTICS_CHANNELS.connectionOpen, closing]);
    await caller.connect(server.address).catch(() => undefined);
    await caller.close(); // resolves: the close begun inside the subscriber and this one are one
    await until(() => server.node.connectionCount === 0, 5000, 'the server saw it go');
    expect(caller.connectionCount).toBe(0);
  });

  describe('msgpacknet:handshake:failed', () => {
    it("tells of a connection that failed before it was registered: what failures$ emits, and a connect()'s failure", async () => {
      const failed = listen<HandshakeFailedMessage>(DIAGNOSTICS_CHANNELS.handshakeFailed);
      const limits = listen<LimitMessage>(DIAGNOSTICS_CHANNELS.limit);
      const server = await listening({ id: 'dc-guarded', maxHandshakeBytes: 1024 });
      const failure = firstValueFrom(server.node.failures$);
      const socket = netConnect(Number(server.address.split(':')[1]), '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(encode([null, 'x'.repeat(5000)]));
      const refused = await failure;
      socket.destroy();
      await until(() => failed.length === 1);
      expect(failed[0]).toEqual({ node: server.node, error: refused });
      expect(limits).toEqual([{ node: server.node, limit: 'maxHandshakeBytes', max: 1024, nodeId: undefined, error: refused }]);

      // A connect() to a node that refuses it at once (it is itself): rejected, and on the channel.
      const own = client({ id: 'dc-guarded' }).node;
      const error = await own.connect(server.address).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toEqual(jasmine.any(NetError));
      await until(() => failed.some((message) => message.node === own));
      expect(failed.find((message) => message.node === own)!.error).toBe(error as NetError);
    });
  });

  describe('msgpacknet:rpc:call', () => {
    it('traces each call: start, then asyncEnd with the result, or error with the NetError', async () => {
      const seen: [string, RpcCallMessage][] = [];
      const handlers = {
        start: (context: RpcCallMessage) => void seen.push(['start', { ...context }]),
        end: () => undefined,
        asyncStart: () => undefined,
        asyncEnd: (context: RpcCallMessage) => void seen.push(['asyncEnd', { ...context }]),
        error: (context: RpcCallMessage) => void seen.push(['error', { ...context }]),
      };
      const channel = tracingChannel<unknown, RpcCallMessage>(DIAGNOSTICS_CHANNELS.rpcCall);
      channel.subscribe(handlers);
      try {
        const { node } = client({ id: 'dc-rpc' });
        const rpc = new Rpc<string>(node, { timeout: 50 });
        rpc.handle('add', ([a, b]: [number, number]) => a + b);
        rpc.handle('never', () => new Promise(() => undefined));
        expect(await rpc.call('dc-rpc', 'add', [1, 2])).toBe(3);
        await expectAsync(rpc.call('dc-rpc', 'never')).toBeRejectedWith(netError('TIMEOUT'));
        const base = { node, to: 'dc-rpc' };
        expect(seen.map(([kind]) => kind)).toEqual(['start', 'asyncEnd', 'start', 'error', 'asyncEnd']);
        expect(seen[0]![1]).toEqual({ ...base, method: 'add', timeout: 50 });
        expect(seen[1]![1]).toEqual({ ...base, method: 'add', timeout: 50, result: 3 });
        expect(seen[3]![1]).toEqual({ ...base, method: 'never', timeout: 50, error: netError('TIMEOUT') });
      } finally {
        channel.unsubscribe(handlers);
      }
    });
  });

  it('builds no message while a channel has no subscriber', () => {
    const build = jasmine.createSpy('message');
    diagnostics.connectionOpen(build);
    diagnostics.connectionClose(build);
    expect(build).not.toHaveBeenCalled();
  });
});

describe('DEBUG=msgpacknet:* logging', () => {
  it('follows the debug package: lists, globs, exclusions', () => {
    expect(debugEnabled('msgpacknet:*', 'msgpacknet:rpc')).toBeTrue();
    expect(debugEnabled('*', 'msgpacknet:limit')).toBeTrue();
    expect(debugEnabled('express:*,msgpacknet:connection', 'msgpacknet:connection')).toBeTrue();
    expect(debugEnabled('express:*,msgpacknet:connection', 'msgpacknet:rpc')).toBeFalse();
    expect(debugEnabled('msgpacknet:*,-msgpacknet:rpc', 'msgpacknet:rpc')).toBeFalse();
    expect(debugEnabled('msgpacknet:* -msgpacknet:rpc', 'msgpacknet:limit')).toBeTrue();
    expect(debugEnabled('', 'msgpacknet:rpc')).toBeFalse();
    expect(debugEnabled('msgpacknet.rpc', 'msgpacknet:rpc')).toBeFalse(); // a dot is a dot
    expect(debugEnabled('msgpacknet:*c', 'msgpacknet:rpc')).toBeTrue();
    expect(debugEnabled('*:*:*', 'msgpacknet:rpc')).toBeFalse();
    expect(debugEnabled('m*t:r*', 'msgpacknet:rpc')).toBeTrue();
    expect(debugEnabled('(msgpacknet):[rpc]', 'msgpacknet:rpc')).toBeFalse(); // no regex syntax
    // Many stars: a regex of `.*?` each took hundreds of ms per namespace at 18 stars, tripling every two
    // more (this spec's timeout is what would catch it).
    expect(debugEnabled(`msgpacknet:${'*'.repeat(40)}X`, 'msgpacknet:connection')).toBeFalse();
    expect(debugEnabled(`${'m*'.repeat(200)}Z`, 'm'.repeat(300))).toBeFalse();
  });

  /** Runs a program with two nodes, a call and a disconnect, under `debug`; resolves with its stderr. */
  function program(debug: string | undefined): Promise<string> {
    const node = fileURLToPath(new URL('../lib/node/Node.js', import.meta.url));
    const rpcModule = fileURLToPath(new URL('../lib/rpc/Rpc.js', import.meta.url));
    const source = `
      const { Node } = await import(${JSON.stringify(node)});
      const { Rpc } = await import(${JSON.stringify(rpcModule)});
      const server = new Node({ nodeId: 'srv' });
      server.events$.subscribe((e) => e.type === 'connectionRequest' && e.request.accept());
      new Rpc(server).handle('hi', () => 'hello');
      const caller = new Node({ nodeId: 'cli' });
      const rpc = new Rpc(caller);
      await caller.connect(await server.listen('127.0.0.1:0'));
      await rpc.call('srv', 'hi');
      await caller.close();
      await server.close();
    `;
    const env = { ...process.env };
    delete env['DEBUG'];
    if (debug !== undefined) env['DEBUG'] = debug;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', source], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(stderr) : reject(new Error(`exit ${code}: ${stderr}`))));
    });
  }

  it('prints what the channels tell, one line each, only for the namespaces asked for', async () => {
    const all = (await program('msgpacknet:*')).trim().split('\n');
    const line = /^\d{4}-\d\d-\d\dT[\d:.]+Z (msgpacknet:\w+) (.*)$/;
    expect(all.every((text) => line.test(text)))
      .withContext(all.join('\n'))
      .toBeTrue();
    const texts = all.map((text) => line.exec(text)!.slice(1).join(' '));
    const has = (pattern: RegExp): void =>
      expect(texts.some((text) => pattern.test(text)))
        .withContext(`${pattern}:\n${texts.join('\n')}`)
        .toBeTrue();
    has(/^msgpacknet:connection "cli" -> "srv" \(127\.0\.0\.1:\d+\): open$/);
    has(/^msgpacknet:connection "srv" <- "cli" \(127\.0\.0\.1:\d+\): open$/);
    has(/^msgpacknet:rpc "cli" -> "srv" hi: answered in [\d.]+ ms$/);
    has(/^msgpacknet:connection "cli" -> "srv" .*: closed, closed \(read \d+ B, wrote \d+ B\)$/);
    has(/^msgpacknet:connection "srv" <- "cli" .*: closed, remote-closed \(read \d+ B, wrote \d+ B\)$/);

    const rpcOnly = (await program('msgpacknet:rpc')).trim().split('\n');
    expect(rpcOnly.length).toBe(1);
    expect(rpcOnly[0]).toContain('msgpacknet:rpc');
    expect(await program(undefined)).toBe('');
    expect(await program('express:*')).toBe('');
  });
});
