import { NetError } from '../../lib/errors.js';
import type { Node } from '../../lib/node/Node.js';
import { Rpc, type RpcNotification } from '../../lib/rpc/Rpc.js';
import { EventLog, client, listening, sleep, until } from '../helpers/nodes.js';

/**
 * An Rpc's node facing a hostile peer: a plain node (no Rpc of its own)
 * that writes whatever envelopes it likes as messages, and reads what comes
 * back from its event log.
 */
async function facingHostile(
  options: { maxConcurrent?: number; maxValueBytes?: number } = {},
): Promise<{ rpc: Rpc<string>; node: Node<unknown, string>; log: EventLog; hostile: Node<unknown, string>; hostileLog: EventLog }> {
  const nodeOptions = options.maxValueBytes ? { maxValueBytes: options.maxValueBytes } : {};
  const { node, address, log } = await listening({ id: 'served', ...nodeOptions });
  const rpc = new Rpc(node, options.maxConcurrent ? { maxConcurrent: options.maxConcurrent } : {});
  // the hostile peer's own encoder takes more than the served node reads
  const { node: hostile, log: hostileLog } = client({ id: 'hostile', maxValueBytes: 16 << 20 });
  expect(await hostile.connect(address)).toBe('served');
  await until(() => node.isConnected('hostile'));
  return { rpc, node, log, hostile, hostileLog };
}

/** The responses `[1, msgid, error, result]` the hostile peer got so far. */
function responses(log: EventLog): unknown[][] {
  return log
    .ofType('message')
    .map((event) => event.message)
    .filter((message): message is unknown[] => Array.isArray(message) && message[0] === 1);
}

/** Resolves once the hostile peer has `count` responses; fails the spec after 10 s. */
function responsesReach(log: EventLog, count: number): Promise<void> {
  return until(() => responses(log).length >= count, 10_000, `${count} responses`);
}

describe('Rpc facing a hostile peer', () => {
  it('a flood of requests: maxConcurrent served, the rest answered BUSY at once, other peers still served', async () => {
    const { rpc, node, hostile, hostileLog } = await facingHostile({ maxConcurrent: 64 });
    const aborted: unknown[] = [];
    let started = 0;
    rpc.handle('hang', (_params, call) => {
      started++;
      return new Promise<never>(() => call.signal.addEventListener('abort', () => aborted.push(call.signal.reason)));
    });
    rpc.handle('ping', () => 'pong');
    const flood = 5000;
    for (let msgid = 0; msgid < flood; msgid++) hostile.send('served', [0, msgid, 'hang', [msgid]]);
    await responsesReach(hostileLog, flood - 64);
    await sleep(50); // nothing more is on its way
    const busy = responses(hostileLog);
    expect(busy.length).toBe(flood - 64);
    expect(busy.every((response) => (response[2] as { code: string }).code === 'BUSY' && response[3] === null)).toBeTrue();
    // the first 64 are the ones served: every BUSY answer is for a later msgid, each once
    expect(new Set(busy.map((response) => response[1])).size).toBe(flood - 64);
    expect(busy.every((response) => (response[1] as number) >= 64)).toBeTrue();
    expect(started).toBe(64);
    expect(rpc.inFlight).toEqual({ calls: 0, serving: 64 });

    // the limit is per peer: an honest caller is served in the middle of the flood
    const honest = client({ id: 'honest' });
    const honestRpc = new Rpc<string>(honest.node);
    expect(await honest.node.connect(node.addresses()[0]!)).toBe('served');
    expect(await honestRpc.call('served', 'ping')).toBe('pong');

    // the flooder leaves: its 64 handlers are aborted and nothing of it is kept
    await hostile.close();
    await until(() => aborted.length === 64, 5000, 'the 64 handlers aborted');
    expect(aborted.every((reason) => reason instanceof NetError && reason.code === 'CONNECTION_ERROR')).toBeTrue();
    expect(rpc.inFlight).toEqual({ calls: 0, serving: 0 });
  });

  it('responses for ids not in flight, answers from another peer, and a second answer: all dropped', async () => {
    const { rpc, node, log, hostile, hostileLog } = await facingHostile();
    const other = client({ id: 'other' });
    expect(await other.node.connect(node.addresses()[0]!)).toBe('served');
    await until(() => node.isConnected('other'));

    // responses to nothing at all, before any call
    for (let msgid = 0; msgid < 100; msgid++) hostile.send('served', [1, msgid, null, `forged ${msgid}`]);
    hostile.send('served', [1, 0xffff_ffff, { code: 'X', message: 'forged' }, null]);
    // (a peer answering a call made to it is its answer, whenever it sends it: let those land first)
    hostile.send('served', 'landed');
    await log.next('message');

    const call = rpc.call<string>('hostile', 'question', ['?']);
    const request = (await hostileLog.next('message')).message as unknown[];
    expect(request.slice(0, 1)).toEqual([0]);
    expect(request.slice(2)).toEqual(['question', ['?']]);
    const msgid = request[1] as number;
    // the same msgid from another peer is no answer to a call made to this one
    other.node.send('served', [1, msgid, null, 'forged by other']);
    other.node.send('served', [1, msgid + 1, null, 'forged by other']);
    await sleep(50);
    expect(rpc.inFlight.calls).toBe(1);

    hostile.send('served', [1, msgid, null, 'the answer']);
    hostile.send('served', [1, msgid, null, 'a second answer']);
    hostile.send('served', [1, msgid, { code: 'LATE', message: 'a late error' }, null]);
    expect(await call).toBe('the answer');
    await sleep(50);
    expect(rpc.inFlight).toEqual({ calls: 0, serving: 0 });
    // none of the forged responses surfaced anywhere
    expect(log.ofType('message').map((event) => event.message)).toEqual(['landed']);
    expect(log.ofType('disconnected')).toEqual([]);
  });

  it('malformed envelopes are plain messages for events$: nothing answered, nothing served, the connection goes on', async () => {
    const { rpc, log, hostile, hostileLog } = await facingHostile();
    let served = 0;
    rpc.handle('m', () => ++served);
    const malformed: unknown[] = [
      [0, -1, 'm', []],
      [0, 1.5, 'm', []],
      [0, 2 ** 32, 'm', []],
      [0, '1', 'm', []],
      [0, 1, 7, []],
      [0, 1, 'm', { 0: 1 }],
      [0, 1, 'm', 'params'],
      [0, 1, 'm'],
      [0, 1, 'm', [], 'extra'],
      [1, 'x', null, null],
      [1, -5, null, null],
      [1, 1, null],
      [2, 'm'],
      [2, 5, []],
      [2, 'm', 'params'],
      [3, 1, 'm', []],
      [],
      [0],
      'text',
      { 0: 0, 1: 1, 2: 'm', 3: [] },
      null,
    ];
    for (const message of malformed) hostile.send('served', message);
    expect(await log.messages(malformed.length)).toEqual(malformed);
    expect(served).toBe(0);

    // well formed after all that: served as usual
    hostile.send('served', [0, 9, 'm', []]);
    await responsesReach(hostileLog, 1);
    expect(responses(hostileLog)).toEqual([[1, 9, null, 1]]);
    expect(log.ofType('disconnected')).toEqual([]);
  });

  it('methods named after Object.prototype members are no methods: NO_SUCH_METHOD', async () => {
    const { hostile, hostileLog } = await facingHostile();
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', ''];
    names.forEach((method, msgid) => hostile.send('served', [0, msgid, method, []]));
    await responsesReach(hostileLog, names.length);
    expect(responses(hostileLog).map((response) => [response[1], (response[2] as { code: string }).code])).toEqual(
      names.map((_method, msgid) => [msgid, 'NO_SUCH_METHOD']),
    );
  });

  it('a msgid reused while in flight is dropped: one handler runs, one answer; free again once answered', async () => {
    const { rpc, hostile, hostileLog } = await facingHostile();
    const calls: unknown[] = [];
    const answers: ((value: unknown) => void)[] = [];
    rpc.handle('wait', (params: unknown[]) => {
      calls.push(params[0]);
      return new Promise((resolve) => answers.push(resolve));
    });
    hostile.send('served', [0, 7, 'wait', ['first']]);
    hostile.send('served', [0, 7, 'wait', ['second']]);
    hostile.send('served', [0, 7, 'wait', ['third']]);
    await until(() => calls.length === 1);
    await sleep(50);
    expect(calls).toEqual(['first']);
    expect(rpc.inFlight.serving).toBe(1);
    answers[0]!('answered');
    await responsesReach(hostileLog, 1);
    hostile.send('served', [0, 7, 'wait', ['again']]);
    await until(() => calls.length === 2);
    answers[1]!('answered again');
    await responsesReach(hostileLog, 2);
    await sleep(50);
    expect(responses(hostileLog)).toEqual([
      [1, 7, null, 'answered'],
      [1, 7, null, 'answered again'],
    ]);
  });

  it('cancels that name nothing, or are malformed, abort nothing and are not notifications', async () => {
    const { rpc, hostile, hostileLog } = await facingHostile();
    const notifications: RpcNotification<string>[] = [];
    rpc.notifications$.subscribe((notification) => notifications.push(notification));
    const answers: ((value: unknown) => void)[] = [];
    let aborted = 0;
    rpc.handle('wait', (_params, call) => {
      call.signal.addEventListener('abort', () => aborted++);
      return new Promise((resolve) => answers.push(resolve));
    });
    hostile.send('served', [0, 3, 'wait', []]);
    await until(() => answers.length === 1);
    for (const params of [[], ['3'], [3, 3], [4], [-3], [3.5], [{ msgid: 3 }]]) {
      hostile.send('served', [2, '$/cancelRequest', params]);
    }
    hostile.send('served', [2, 'after', []]);
    await until(() => notifications.length === 1);
    expect(notifications).toEqual([{ from: 'hostile', method: 'after', params: [] }]);
    expect(aborted).toBe(0);
    answers[0]!('still served');
    await responsesReach(hostileLog, 1);
    expect(responses(hostileLog)).toEqual([[1, 3, null, 'still served']]);
  });

  it('odd error values in answers reject REMOTE_ERROR with the value as received', async () => {
    const { rpc, hostile, hostileLog } = await facingHostile();
    const oddErrors: unknown[] = ['a string', 42, false, [1, 2], { code: 5, message: ['x'] }, { nested: { deep: true } }];
    for (const oddError of oddErrors) {
      const call = rpc.call('hostile', 'q');
      const request = (await hostileLog.next('message')).message as unknown[];
      hostile.send('served', [1, request[1], oddError, 'a result beside an error']);
      const failure: unknown = await call.then(
        () => 'resolved',
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(NetError);
      expect((failure as NetError).code).toBe('REMOTE_ERROR');
      expect((failure as NetError).remoteError).toEqual(oddError);
    }
    expect(rpc.inFlight).toEqual({ calls: 0, serving: 0 });
  });

  it('huge params: within maxValueBytes served; beyond it the connection ends with a typed error, its calls fail', async () => {
    const { rpc, node, log, hostile, hostileLog } = await facingHostile({ maxValueBytes: 1 << 20 });
    rpc.handle('size', ([bytes]: [Uint8Array]) => bytes.length);
    const mine = rpc.call('hostile', 'never answered').then(
      () => 'resolved',
      (error: unknown) => error,
    );
    hostile.send('served', [0, 1, 'size', [new Uint8Array((1 << 20) - 64)]]);
    await responsesReach(hostileLog, 1);
    expect(responses(hostileLog)).toEqual([[1, 1, null, (1 << 20) - 64]]);

    hostile.send('served', [0, 2, 'size', [new Uint8Array(2 << 20)]]);
    const failure = await mine;
    expect(failure).toBeInstanceOf(NetError);
    expect((failure as NetError).code).toBe('CONNECTION_ERROR');
    const failed = await log.next('disconnected');
    expect(failed.error?.code).toBe('READ_ERROR');
    expect(node.isConnected('hostile')).toBeFalse();
    expect(rpc.inFlight).toEqual({ calls: 0, serving: 0 });
  });
});
