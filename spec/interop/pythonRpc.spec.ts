import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { firstValueFrom } from 'rxjs';
import { NetError } from '../../lib/errors.js';
import { Rpc, type RpcNotification } from '../../lib/rpc/Rpc.js';
import { Lines } from '../helpers/lines.js';
import { client, listening } from '../helpers/nodes.js';
import { rejection } from '../helpers/errors.js';

// Debian's interpreter: python3-msgpack is installed for it only (not for a python3 earlier on PATH).
const PYTHON = '/usr/bin/python3';
const PEER_SCRIPT = 'interop/python-rpc/peer.py';

/** The Python msgpack-rpc peer as a child process, with its stdout lines. */
class PythonPeer extends Lines<string> {
  constructor(child: ChildProcessWithoutNullStreams) {
    super(child, (text) => text, { echoStderr: true });
  }

  line(prefix: string, ms = 5000): Promise<string> {
    return this.wait((line) => line.startsWith(prefix), ms, `'${prefix}' line from the Python peer`);
  }

  /** The `[error, result]` of its call `msgid`, as it printed it (JSON). */
  async response(msgid: number): Promise<[unknown, unknown]> {
    const line = await this.line(`RESPONSE ${msgid} `);
    return JSON.parse(line.slice(`RESPONSE ${msgid} `.length)) as [unknown, unknown];
  }
}

describe('interop with an independent Python msgpack-rpc peer (python3-msgpack over a plain socket)', () => {
  const peers: PythonPeer[] = [];

  beforeAll(() => {
    // Fails loudly, never skips: a missing python3 or msgpack is a broken environment.
    const version = execFileSync(PYTHON, ['-c', 'import msgpack; print(msgpack.version)'], { encoding: 'utf8' });
    expect(version).toMatch(/^\(\d+, \d+, \d+\)/);
  });

  afterEach(() => {
    for (const peer of peers.splice(0)) peer.child.kill();
  });

  function start(...args: string[]): PythonPeer {
    const peer = new PythonPeer(spawn(PYTHON, [PEER_SCRIPT, ...args]));
    peers.push(peer);
    return peer;
  }

  it('it connects to us and calls: a result, NO_SUCH_METHOD, and a thrown error code and message', async () => {
    const us = await listening({ id: 'ts' });
    const rpc = new Rpc<string>(us.node);
    rpc.handle('add', ([a, b]: [number, number]) => a + b);
    rpc.handle('throws', () => {
      throw Object.assign(new Error('bad input from python'), { code: 'BAD_INPUT' });
    });
    const peer = start('connect', us.address);
    expect(await peer.line('HANDSHAKE ')).toBe('HANDSHAKE init=None id=ts');
    expect((await us.log.next('connected')).nodeId).toBe('py');
    expect(us.log.ofType('connectionRequest')[0]!.request.initMessage).toBeNull();

    expect(await peer.response(1)).toEqual([null, 5]);
    const [missing, missingResult] = await peer.response(2);
    expect(missingResult).toBeNull();
    expect(missing).toEqual({ code: 'NO_SUCH_METHOD', message: jasmine.stringContaining('nosuch') });
    expect(await peer.response(3)).toEqual([{ code: 'BAD_INPUT', message: 'bad input from python' }, null]);
    // the Rpc took its envelopes: none reached events$ as a plain message
    expect(us.log.ofType('message')).toEqual([]);
  });

  it('we connect to it and call: values intact, its error map as REMOTE_ERROR, notifications both ways', async () => {
    const peer = start('listen');
    const address = (await peer.line('LISTENING ')).slice('LISTENING '.length);
    const us = client({ id: 'ts' });
    const rpc = new Rpc<string>(us.node);
    expect(await us.node.connect(address)).toBe('py');
    expect(await peer.line('HANDSHAKE ')).toBe('HANDSHAKE init=None id=ts');

    const values: unknown[] = [
      null,
      true,
      false,
      -1,
      0,
      127,
      -129,
      1.5,
      'héllo ✓',
      '',
      [],
      [1, [2, [3]]],
      { a: 1, nested: { b: [1, 2, { c: 'd' }], e: null }, '': 'empty key' },
      Uint8Array.of(0, 1, 2, 254, 255),
      new Uint8Array(0),
      2 ** 40,
      -(2 ** 40),
      Number.MAX_SAFE_INTEGER,
      2n ** 64n - 1n,
      -(2n ** 63n),
    ];
    const echoed = await rpc.call<unknown[]>('py', 'echo', values);
    // binary arrives as a Buffer on Node.js (a Uint8Array subclass): compare the bytes
    expect(echoed.map((value) => (value instanceof Uint8Array ? Uint8Array.from(value) : value))).toEqual(values);
    expect(await peer.line('REQUEST ')).toMatch(/^REQUEST \d+ echo$/);

    const failed = await rejection(rpc.call('py', 'fail', ['x']));
    expect(failed).toBeInstanceOf(NetError);
    expect((failed as NetError).code).toBe('REMOTE_ERROR');
    expect((failed as NetError).remoteError).toEqual({ code: 'PY_FAIL', message: 'python says no', data: { why: [1, 2] } });
    expect((failed as NetError).message).toContain('python says no');

    const notified = firstValueFrom(rpc.notifications$);
    expect(await rpc.call('py', 'poke', [])).toBe('poked');
    const expected: RpcNotification<string> = { from: 'py', method: 'tick', params: ['from py', 7] };
    expect(await notified).toEqual(expected);

    rpc.notify('py', 'hello', ['world', 42, { k: [true] }]);
    expect(await peer.line('NOTIFY ')).toBe('NOTIFY hello ["world",42,{"k":[true]}]');
    // none of the envelopes reached events$ as a plain message
    expect(us.log.ofType('message')).toEqual([]);
  });

  it('our timeout cancels: the call rejects with TIMEOUT and it receives $/cancelRequest with the msgid', async () => {
    const peer = start('listen');
    const address = (await peer.line('LISTENING ')).slice('LISTENING '.length);
    const us = client({ id: 'ts' });
    const rpc = new Rpc<string>(us.node);
    expect(await us.node.connect(address)).toBe('py');

    const started = Date.now();
    const timedOut = await rejection(rpc.call('py', 'hang', [1], { timeout: 200 }));
    expect(timedOut).toBeInstanceOf(NetError);
    expect((timedOut as NetError).code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);

    const request = await peer.line('REQUEST ');
    const match = /^REQUEST (\d+) hang$/.exec(request);
    expect(match).not.toBeNull();
    const msgid = match![1]!;
    expect(await peer.line('CANCEL ')).toBe(`CANCEL ${msgid}`);
    expect(rpc.inFlight).toEqual({ calls: 0, serving: 0 });

    // the connection still serves calls after the cancel
    expect(await rpc.call('py', 'echo', ['after'])).toEqual(['after']);
  });
});
