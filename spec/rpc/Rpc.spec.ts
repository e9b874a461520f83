import { EMPTY, NEVER, Observable, firstValueFrom, lastValueFrom, throwError, toArray } from 'rxjs';
import { NetError } from '../../lib/errors.js';
import type { Node } from '../../lib/node/Node.js';
import { Rpc, type RpcNotification } from '../../lib/rpc/Rpc.js';
import { isRpcMessage } from '../../lib/rpc/envelope.js';
import { certificateAuthority } from '../helpers/certificates.js';
import { netError, testScheduler } from '../helpers/marbles.js';
import { EventLog, client, listening, makeNode, sleep, until } from '../helpers/nodes.js';

/** A served node and a caller connected to it, each with its Rpc. */
async function connectedPair(
  options: { listen?: string; nodeOptions?: object; timeout?: number; maxConcurrent?: number } = {},
): Promise<{ server: Rpc<string>; caller: Rpc<string>; serverNode: Node<unknown, string>; callerNode: Node<unknown, string> }> {
  const { node: serverNode } = await listening({ ...options.nodeOptions });
  const address = options.listen ? await serverNode.listen(options.listen) : serverNode.addresses()[0]!;
  const { node: callerNode } = client({ ...options.nodeOptions });
  const server = new Rpc(serverNode, options.maxConcurrent ? { maxConcurrent: options.maxConcurrent } : {});
  const caller = new Rpc(callerNode, options.timeout ? { timeout: options.timeout } : {});
  expect(await callerNode.connect(address)).toBe(serverNode.nodeId);
  await until(() => serverNode.isConnected(callerNode.nodeId)); // its accept is its own: registered there a moment later
  return { server, caller, serverNode, callerNode };
}

/** A handler that answers only when its call is aborted, and records that. */
function hanging(aborted: unknown[]): (params: unknown[], call: { signal: AbortSignal }) => Promise<never> {
  return (_params, call) =>
    new Promise<never>(() => {
      call.signal.addEventListener('abort', () => aborted.push(call.signal.reason));
    });
}

describe('Rpc', () => {
  describe('over TCP', () => {
    it('calls and gets the answer: values intact both ways, the handler told who calls', async () => {
      const { server, caller, serverNode, callerNode } = await connectedPair();
      const seen: unknown[] = [];
      server.handle('echo', (params: unknown[], call) => {
        seen.push([call.from, call.method, call.signal.aborted]);
        return params;
      });
      const values = [1, 'two', { three: [3n ** 40n] }, new Uint8Array([4, 5]), null, true, 2 ** 40, -0.5];
      const back = await caller.call<unknown[]>(serverNode.nodeId, 'echo', values);
      // Bytes come back as bytes (a Buffer, on Node.js); everything else as it went.
      expect(Array.from(back[3] as Uint8Array)).toEqual([4, 5]);
      expect([...back.slice(0, 3), ...back.slice(4)]).toEqual([...values.slice(0, 3), ...values.slice(4)]);
      expect(seen).toEqual([[callerNode.nodeId, 'echo', false]]);
      expect(caller.inFlight).toEqual({ calls: 0, serving: 0 });
      expect(server.inFlight).toEqual({ calls: 0, serving: 0 });
    });

    it('a caller whose events$ nobody takes keeps reading answers past eventBufferBytes (they are intercepted, never kept)', async () => {
      const { node: serverNode } = await listening({});
      new Rpc(serverNode).handle('echo', (params: unknown[]) => params);
      // Nobody subscribes to the caller's events$: its `connected` event is kept for good.
      const callerNode = makeNode({ nodeId: 'lonely caller', eventBufferBytes: 64 * 1024 });
      const caller = new Rpc(callerNode, { timeout: 5000 });
      await callerNode.connect(serverNode.addresses()[0]!);
      // Each answer read costs ~1.5 KB of estimated heap: 64 KiB would be spent after ~40 reads.
      for (let i = 0; i < 400; i++) expect(await caller.call(serverNode.nodeId, 'echo', [i, 'x'.repeat(64)])).toEqual([i, 'x'.repeat(64)]);
      expect(await callerNode.receive({ timeout: 1000 })).toEqual(jasmine.objectContaining({ type: 'connected' }));
    });

    it('serves both ways on one connection, many calls in flight, each answered once and to its own call', async () => {
      const { server, caller, serverNode, callerNode } = await connectedPair();
      server.handle('double', async ([n]: [number]) => {
        await sleep(n % 7);
        return n * 2;
      });
      caller.handle('triple', ([n]: [number]) => n * 3);
      const calls = Array.from({ length: 200 }, (_, n) => caller.call<number>(serverNode.nodeId, 'double', [n]));
      const back = Array.from({ length: 50 }, (_, n) => server.call<number>(callerNode.nodeId, 'triple', [n]));
      expect(await Promise.all(calls)).toEqual(Array.from({ length: 200 }, (_, n) => n * 2));
      expect(await Promise.all(back)).toEqual(Array.from({ length: 50 }, (_, n) => n * 3));
    });

    it('a handler may answer with a Promise or an Observable (its first value; then it is unsubscribed)', async () => {
      const { server, caller, serverNode } = await connectedPair();
      let unsubscribed = false;
      server.handle(
        'first',
        () =>
          new Observable<string>((subscriber) => {
            subscriber.next('one');
            subscriber.next('two');
            return () => (unsubscribed = true);
          }),
      );
      server.handle('later', () => Promise.resolve('resolved'));
      expect(await caller.call(serverNode.nodeId, 'first')).toBe('one');
      expect(unsubscribed).toBeTrue();
      expect(await caller.call(serverNode.nodeId, 'later')).toBe('resolved');
    });

    it('errors: NO_SUCH_METHOD, thrown and rejected errors with their code and data, empty or failing Observables', async () => {
      const { server, caller, serverNode } = await connectedPair();
      const to = serverNode.nodeId;
      server.handle('throws', () => {
        throw Object.assign(new Error('out of stock'), { code: 'E_STOCK', data: { sku: 7 } });
      });
      server.handle('rejects', () => Promise.reject(new NetError('NOT_CONNECTED', 'no database')));
      server.handle('empty', () => EMPTY);
      server.handle('fails', () => throwError(() => 'a bare string'));
      await expectAsync(caller.call(to, 'nobody')).toBeRejectedWith(
        netError('REMOTE_ERROR', { nodeId: to, remoteError: { code: 'NO_SUCH_METHOD', message: 'no handler for "nobody"' } }),
      );
      const thrown = await caller.call(to, 'throws').catch((error: unknown) => error as NetError);
      expect(thrown).toEqual(netError('REMOTE_ERROR', { remoteError: { code: 'E_STOCK', message: 'out of stock', data: { sku: 7 } } }));
      expect((thrown as NetError).message).toContain('out of stock');
      await expectAsync(caller.call(to, 'rejects')).toBeRejectedWith(
        netError('REMOTE_ERROR', { remoteError: { code: 'NOT_CONNECTED', message: 'no database' } }),
      );
      await expectAsync(caller.call(to, 'empty')).toBeRejectedWith(
        netError('REMOTE_ERROR', { remoteError: jasmine.objectContaining({ code: 'ERROR' }) }),
      );
      await expectAsync(caller.call(to, 'fails')).toBeRejectedWith(
        netError('REMOTE_ERROR', { remoteError: { code: 'ERROR', message: 'a bare string' } }),
      );
    });

    it('a result that cannot be encoded is answered with SEND_ERROR; the connection goes on', async () => {
      const { server, caller, serverNode } = await connectedPair();
      server.handle('bad', () => Symbol('not msgpack'));
      server.handle('good', () => 'fine');
      await expectAsync(caller.call(serverNode.nodeId, 'bad')).toBeRejectedWith(
        netError('REMOTE_ERROR', { remoteError: jasmine.objectContaining({ code: 'SEND_ERROR' }) }),
      );
      expect(await caller.call(serverNode.nodeId, 'good')).toBe('fine');
    });

    it('rejects, never throws: NOT_CONNECTED, SEND_ERROR for params that cannot be encoded, TypeError for a bad method', async () => {
      const { caller, serverNode } = await connectedPair();
      const notConnected = caller.call('nobody', 'm');
      await expectAsync(notConnected).toBeRejectedWith(netError('NOT_CONNECTED', { nodeId: 'nobody' }));
      await expectAsync(caller.call(serverNode.nodeId, 'm', [Symbol('x')])).toBeRejectedWith(netError('SEND_ERROR'));
      await expectAsync(caller.call(serverNode.nodeId, 7 as unknown as string)).toBeRejectedWithError(TypeError);
      await expectAsync(caller.call(serverNode.nodeId, 'm', [], { timeout: -1 })).toBeRejectedWithError(TypeError);
      expect(caller.inFlight).toEqual({ calls: 0, serving: 0 });
    });

    it('TIMEOUT: the call rejects, the server hears the cancel (its signal aborts), and a late answer is dropped', async () => {
      const { server, caller, serverNode } = await connectedPair({ timeout: 150 });
      const aborted: unknown[] = [];
      server.handle('hang', hanging(aborted));
      await expectAsync(caller.call(serverNode.nodeId, 'hang')).toBeRejectedWith(
        netError('TIMEOUT', { nodeId: serverNode.nodeId, limit: 'timeout', max: 150 }),
      );
      await until(() => aborted.length === 1, 5000, 'the handler aborted');
      expect((aborted[0] as Error).name).toBe('AbortError');
      expect(server.inFlight.serving).toBe(0);
      // A per-call timeout overrides the Rpc's.
      let answer!: (value: string) => void;
      server.handle('slowAnswer', () => new Promise<string>((resolve) => (answer = resolve)));
      await expectAsync(caller.call(serverNode.nodeId, 'slowAnswer', [], { timeout: 20 })).toBeRejectedWith(
        netError('TIMEOUT', { max: 20 }),
      );
      answer('too late'); // the server dropped it: it was cancelled
      server.handle('quick', () => 'in time');
      expect(await caller.call(serverNode.nodeId, 'quick', [], { timeout: 5000 })).toBe('in time');
      expect(caller.inFlight).toEqual({ calls: 0, serving: 0 });
    });

    it('a handler that looks at call.signal only after the cancel sees it aborted; an Observable handler is unsubscribed without it', async () => {
      const { server, caller, serverNode } = await connectedPair({ timeout: 100 });
      const calls: { signal: AbortSignal }[] = [];
      server.handle('later', (_params, call) => {
        calls.push(call); // the signal is not asked for now
        return new Promise<never>(() => undefined);
      });
      let unsubscribed = 0;
      server.handle('stream', () => new Observable<never>(() => () => unsubscribed++));
      await expectAsync(caller.call(serverNode.nodeId, 'later')).toBeRejectedWith(netError('TIMEOUT'));
      await expectAsync(caller.call(serverNode.nodeId, 'stream')).toBeRejectedWith(netError('TIMEOUT'));
      await until(() => server.inFlight.serving === 0, 5000, 'both cancels heard');
      expect(unsubscribed).toBe(1);
      expect(calls.length).toBe(1);
      expect(calls[0]!.signal.aborted).toBeTrue();
      expect((calls[0]!.signal.reason as Error).name).toBe('AbortError');
      expect(calls[0]!.signal).toBe(calls[0]!.signal); // one signal, however often asked for
    });

    it('an AbortSignal cancels: rejects with its reason, the server aborts; an aborted signal sends nothing', async () => {
      const { server, caller, serverNode } = await connectedPair();
      const aborted: unknown[] = [];
      let served = 0;
      server.handle('hang', (params: unknown[], call) => {
        served++;
        return hanging(aborted)(params, call);
      });
      const controller = new AbortController();
      const call = caller.call(serverNode.nodeId, 'hang', [], { signal: controller.signal });
      await until(() => served === 1);
      const reason = new Error('user gave up');
      controller.abort(reason);
      await expectAsync(call).toBeRejectedWith(reason);
      await until(() => aborted.length === 1);
      await expectAsync(caller.call(serverNode.nodeId, 'hang', [], { signal: AbortSignal.abort(reason) })).toBeRejectedWith(reason);
      await sleep(50);
      expect(served).toBe(1);
    });

    it('CONNECTION_ERROR when the connection ends first; the handlers of a caller that left are aborted', async () => {
      const { server, caller, serverNode, callerNode } = await connectedPair();
      const aborted: unknown[] = [];
      server.handle('hang', hanging(aborted));
      const calls = [caller.call(serverNode.nodeId, 'hang'), caller.call(serverNode.nodeId, 'hang')];
      await until(() => server.inFlight.serving === 2);
      const settled = Promise.allSettled(calls);
      await callerNode.disconnect(serverNode.nodeId);
      const outcomes = await settled;
      expect(outcomes.map((outcome): unknown => outcome.status === 'rejected' && (outcome.reason as unknown))).toEqual([
        netError('CONNECTION_ERROR', { nodeId: serverNode.nodeId }),
        netError('CONNECTION_ERROR', { nodeId: serverNode.nodeId }),
      ]);
      await until(() => aborted.length === 2);
      expect(aborted).toEqual([netError('CONNECTION_ERROR'), netError('CONNECTION_ERROR')]);
      expect(server.inFlight).toEqual({ calls: 0, serving: 0 });
    });

    it('BUSY beyond maxConcurrent calls from one peer; served again once they finish', async () => {
      const { server, caller, serverNode } = await connectedPair({ maxConcurrent: 2 });
      const answers: ((value: string) => void)[] = [];
      server.handle('wait', () => new Promise<string>((resolve) => answers.push(resolve)));
      const first = [caller.call(serverNode.nodeId, 'wait'), caller.call(serverNode.nodeId, 'wait')];
      await until(() => answers.length === 2);
      await expectAsync(caller.call(serverNode.nodeId, 'wait')).toBeRejectedWith(
        netError('BUSY', { remoteError: jasmine.objectContaining({ code: 'BUSY' }) }),
      );
      for (const answer of answers.splice(0)) answer('done');
      expect(await Promise.all(first)).toEqual(['done', 'done']);
      const again = caller.call(serverNode.nodeId, 'wait');
      await until(() => answers.length === 1);
      answers[0]!('served');
      expect(await again).toBe('served');
    });

    it('notify and notifications$ (hot); the cancel notification is not among them', async () => {
      const { server, caller, serverNode, callerNode } = await connectedPair();
      const received: RpcNotification<string>[] = [];
      server.notifications$.subscribe((notification) => received.push(notification));
      caller.notify(serverNode.nodeId, 'progress', [50]);
      caller.notify(serverNode.nodeId, 'done');
      server.handle('hang', hanging([]));
      await expectAsync(caller.call(serverNode.nodeId, 'hang', [], { timeout: 30 })).toBeRejectedWith(netError('TIMEOUT'));
      caller.notify(serverNode.nodeId, 'last', ['x']);
      await until(() => received.length === 3);
      expect(received).toEqual([
        { from: callerNode.nodeId, method: 'progress', params: [50] },
        { from: callerNode.nodeId, method: 'done', params: [] },
        { from: callerNode.nodeId, method: 'last', params: ['x'] },
      ]);
      expect(() => caller.notify('nobody', 'm')).toThrow(netError('NOT_CONNECTED'));
    });

    it('leaves every other message to events$, kept for a late subscriber as before; its own never reach it', async () => {
      const { node: serverNode } = await listening({ accept: false });
      serverNode.events$.subscribe((event) => {
        if (event.type === 'connectionRequest') event.request.accept();
      });
      const callerNode = makeNode({ nodeId: 'unwatched-caller' }); // nobody subscribes to its events$
      const caller = new Rpc(callerNode);
      const server = new Rpc(serverNode);
      server.handle('ping', () => 'pong');
      await callerNode.connect(serverNode.addresses()[0]!);
      await until(() => serverNode.isConnected(callerNode.nodeId));
      // Nobody subscribes to the caller's events$: the Rpc still gets its answers, and keeps nothing there.
      expect(await caller.call(serverNode.nodeId, 'ping')).toBe('pong');
      serverNode.send(callerNode.nodeId, [0, 'not an rpc envelope']);
      serverNode.send(callerNode.nodeId, { plain: 'message' });
      expect(await caller.call(serverNode.nodeId, 'ping')).toBe('pong');
      const late = new EventLog(callerNode);
      expect(late.events.map((event) => event.type)).toEqual(['connected', 'message', 'message']);
      expect(await late.messages(2)).toEqual([[0, 'not an rpc envelope'], { plain: 'message' }]);
    });

    it('calls to its own id are served locally, through the codec, as send to self', async () => {
      const node = makeNode({ nodeId: 'alone' });
      const rpc = new Rpc(node);
      const bytes = new Uint8Array([1, 2, 3]);
      rpc.handle('mutate', ([given]: [Uint8Array]) => {
        given[0] = 9; // a copy, as a peer's would be
        return given;
      });
      expect(await rpc.call<Uint8Array>('alone', 'mutate', [bytes])).toEqual(new Uint8Array([9, 2, 3]));
      expect(bytes).toEqual(new Uint8Array([1, 2, 3]));
      await expectAsync(rpc.call('alone', 'nobody')).toBeRejectedWith(netError('REMOTE_ERROR'));
    });

    it('handle: one handler per method, unsubscribe stops serving; one Rpc per node', async () => {
      const { server, caller, serverNode } = await connectedPair();
      const serving = server.handle('m', () => 1);
      expect(() => server.handle('m', () => 2)).toThrowError(TypeError, /served already/);
      expect(await caller.call(serverNode.nodeId, 'm')).toBe(1);
      serving.unsubscribe();
      await expectAsync(caller.call(serverNode.nodeId, 'm')).toBeRejectedWith(
        netError('REMOTE_ERROR', { remoteError: jasmine.objectContaining({ code: 'NO_SUCH_METHOD' }) }),
      );
      server.handle('m', () => 3);
      expect(await caller.call(serverNode.nodeId, 'm')).toBe(3);
      expect(() => new Rpc(serverNode)).toThrowError(TypeError, /already has an Rpc/);
      expect(() => new Rpc(makeNode({ nodeId: 'x' }), { maxConcurrent: 0 })).toThrowError(TypeError);
    });

    it('the node closes: calls left reject, handlers abort, later calls reject ALREADY_CLOSED, notifications$ completes', async () => {
      const { server, caller, serverNode, callerNode } = await connectedPair();
      const aborted: unknown[] = [];
      server.handle('hang', hanging(aborted));
      caller.handle('hangToo', hanging(aborted));
      const self = caller.call(callerNode.nodeId, 'hangToo');
      const remote = caller.call(serverNode.nodeId, 'hang');
      await until(() => server.inFlight.serving === 1 && caller.inFlight.serving === 1);
      let completed = false;
      caller.notifications$.subscribe({ complete: () => (completed = true) });
      const settled = Promise.allSettled([remote, self]);
      await callerNode.close();
      const [remoteOutcome, selfOutcome] = await settled;
      expect(remoteOutcome).toEqual({ status: 'rejected', reason: netError('CONNECTION_ERROR') });
      expect(selfOutcome).toEqual({ status: 'rejected', reason: netError('ALREADY_CLOSED') });
      await until(() => aborted.length === 2);
      expect(completed).toBeTrue();
      await expectAsync(caller.call(serverNode.nodeId, 'hang')).toBeRejectedWith(netError('ALREADY_CLOSED'));
    });

    it('call$ is cold: each subscription one call; emits the result and completes', async () => {
      const { server, caller, serverNode } = await connectedPair();
      let served = 0;
      server.handle('count', () => ++served);
      const call$ = caller.call$<number>(serverNode.nodeId, 'count');
      await sleep(20);
      expect(served).toBe(0);
      expect(await lastValueFrom(call$.pipe(toArray()))).toEqual([1]);
      expect(await firstValueFrom(call$)).toBe(2);
    });
  });

  it('a timeout a timer cannot hold (over 2**31 - 1 ms) is a TypeError from call and call$, and from the Rpc; Infinity waits', async () => {
    const node = makeNode({ nodeId: 'long' });
    const rpc = new Rpc(node);
    rpc.handle('now', () => 'now');
    await expectAsync(rpc.call('long', 'now', [], { timeout: 2 ** 31 })).toBeRejectedWithError(
      TypeError,
      /at most 2147483647 ms \(about 24.8 days\) or Infinity/,
    );
    await expectAsync(firstValueFrom(rpc.call$('long', 'now', [], { timeout: 1e12 }))).toBeRejectedWithError(TypeError, /or Infinity/);
    expect(() => new Rpc(makeNode({ nodeId: 'other' }), { timeout: 2 ** 40 })).toThrowError(TypeError);
    expect(await rpc.call('long', 'now', [], { timeout: Number.POSITIVE_INFINITY })).toBe('now');
    expect(await rpc.call('long', 'now', [], { timeout: 2 ** 31 - 1 })).toBe('now');
  });

  describe('on the TestScheduler (marbles)', () => {
    it("call$'s timeout runs in virtual time: no answer within 1000 ms errors with TIMEOUT at 1000 ms", async () => {
      const scheduler = testScheduler();
      const node = makeNode({ nodeId: 'marbles' });
      const rpc = new Rpc(node, { scheduler, timeout: 1000 });
      const aborted: unknown[] = [];
      rpc.handle('never', (_params, call) => {
        call.signal.addEventListener('abort', () => aborted.push(call.signal.reason));
        return NEVER;
      });
      scheduler.run(({ expectObservable }) => {
        expectObservable(rpc.call$('marbles', 'never')).toBe('1000ms #', undefined, netError('TIMEOUT', { max: 1000 }));
        expectObservable(rpc.call$('marbles', 'never', [], { timeout: 250 })).toBe('250ms #', undefined, netError('TIMEOUT', { max: 250 }));
      });
      // Both calls reached the handler (delivered to self in a microtask), and both cancels after them.
      await until(() => aborted.length === 2);
      expect(rpc.inFlight).toEqual({ calls: 0, serving: 0 });
    });

    it('unsubscribing from call$ before the answer cancels the call (the handler is aborted)', async () => {
      const scheduler = testScheduler();
      const node = makeNode({ nodeId: 'marbles-cancel' });
      const rpc = new Rpc(node, { scheduler });
      const aborted: string[] = [];
      rpc.handle('never', (_params, call) => {
        call.signal.addEventListener('abort', () => aborted.push((call.signal.reason as Error).name));
        return NEVER;
      });
      scheduler.run(({ expectObservable }) => {
        expectObservable(rpc.call$('marbles-cancel', 'never'), '---!').toBe('---');
      });
      await until(() => aborted.length === 1);
      expect(aborted).toEqual(['AbortError']);
      expect(rpc.inFlight).toEqual({ calls: 0, serving: 0 });
    });
  });

  describe('over TLS and WebSocket', () => {
    const ca = certificateAuthority('rpc-ca');
    const pair = ca.issue('rpc-node');
    const tls = { key: pair.key, cert: pair.cert, ca: ca.cert };
    for (const [name, listen, nodeOptions] of [
      ['tls', 'tls://127.0.0.1:0', { tls }],
      ['ws', 'ws://127.0.0.1:0', {}],
      ['wss', 'wss://127.0.0.1:0/rpc', { tls }],
    ] as const) {
      it(`calls both ways over ${name}`, async () => {
        const { server, caller, serverNode, callerNode } = await connectedPair({ listen, nodeOptions });
        server.handle('upper', ([text]: [string]) => text.toUpperCase());
        caller.handle('where', () => name);
        expect(await caller.call(serverNode.nodeId, 'upper', ['over ' + name])).toBe(`OVER ${name.toUpperCase()}`);
        expect(await server.call(callerNode.nodeId, 'where')).toBe(name);
      });
    }
  });

  describe('isRpcMessage', () => {
    it('takes exactly the three msgpack-rpc shapes', () => {
      for (const yes of [
        [0, 0, 'm', []],
        [0, 2 ** 32 - 1, '', [1]],
        [1, 5, null, 'r'],
        [1, 5, { code: 'X', message: 'y' }, null],
        [2, 'm', []],
      ]) {
        expect(isRpcMessage(yes)).withContext(JSON.stringify(yes)).toBeTrue();
      }
      for (const no of [
        [0, -1, 'm', []],
        [0, 1.5, 'm', []],
        [0, 2 ** 32, 'm', []],
        [0, 1, 7, []],
        [0, 1, 'm', {}],
        [0, 1, 'm'],
        [1, 'x', null, null],
        [2, 'm'],
        [2, 5, []],
        [3, 1, 2, 3],
        { 0: 0, 1: 1, 2: 'm', 3: [] },
        'text',
        null,
      ]) {
        expect(isRpcMessage(no)).withContext(JSON.stringify(no)).toBeFalse();
      }
    });
  });
});
