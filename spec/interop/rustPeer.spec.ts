import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Lines } from '../helpers/lines.js';
import { client, listening } from '../helpers/nodes.js';

const PEER_DIR = 'interop/rust-peer';
const PEER_BIN = `${PEER_DIR}/target/release/msgpacknet-interop-peer`;

/** A Msg of the Rust peer: serde writes a struct as the array [seq, text, ts]. */
type Msg = [number, string, number | bigint];

/** The Rust peer as a child process, with its stdout lines. */
class RustPeer extends Lines<string> {
  constructor(child: ChildProcessWithoutNullStreams) {
    super(child, (text) => text, { echoStderr: true });
  }

  line(prefix: string, ms = 5000): Promise<string> {
    return this.wait((line) => line.startsWith(prefix), ms, `'${prefix}' line from the Rust peer`);
  }
}

describe('interop with an independent Rust peer (serde + rmp_serde, the crate codec)', () => {
  const peers: RustPeer[] = [];

  beforeAll(() => {
    // Fails loudly, never skips: the interop spec is the proof of wire compatibility.
    execFileSync('cargo', ['build', '--release', '--quiet'], { cwd: PEER_DIR, stdio: 'inherit' });
    expect(existsSync(PEER_BIN)).toBeTrue();
  }, 300_000);

  afterEach(() => {
    for (const peer of peers.splice(0)) peer.child.kill();
  });

  function start(...args: string[]): RustPeer {
    const peer = new RustPeer(spawn(PEER_BIN, args));
    peers.push(peer);
    return peer;
  }

  it('we connect to it: handshakes both ways, messages both ways, u64 values intact, its FIN detected', async () => {
    const peer = start('listen');
    const address = (await peer.line('LISTENING ')).slice('LISTENING '.length);
    const us = client<Msg>({ id: 'ts-node' });
    expect(await us.node.connect(address)).toBe('rust');
    expect(await peer.line('HANDSHAKE ')).toBe('HANDSHAKE init=None id=ts-node');
    us.node.send('rust', [1, 'hello', 2 ** 40]);
    us.node.send('rust', [2, 'bye', 2n ** 64n - 1n]);
    const replies = await us.log.messages(2);
    expect(replies).toEqual([
      [1001, 'HELLO', 2n ** 64n - 1n],
      [1002, 'BYE', 2n ** 64n - 1n],
    ]);
    expect(await peer.line('MSG 1 ')).toBe(`MSG 1 hello ${2 ** 40}`);
    expect(await peer.line('MSG 2 ')).toBe(`MSG 2 bye ${2n ** 64n - 1n}`);
    // "bye" makes it end its side: we see an orderly disconnect
    const gone = await us.log.next('disconnected');
    expect([gone.nodeId, gone.reason]).toEqual(['rust', 'remote-closed']);
    expect(await peer.line('EOF')).toMatch(/^EOF/);
  });

  it('it connects to us: its handshake in small writes is read, and our close reaches it as EOF', async () => {
    const us = await listening<Msg>({ id: 'ts-server' });
    const peer = start('connect', us.address);
    expect((await us.log.next('connected')).nodeId).toBe('rust');
    const request = us.log.ofType('connectionRequest')[0]!.request;
    expect(request.initMessage).toBeNull();
    expect(await peer.line('HANDSHAKE ')).toBe('HANDSHAKE init=None id=ts-server');
    for (let seq = 0; seq < 100; seq++) us.node.send('rust', [seq, `m${seq}`, seq]);
    const replies = await us.log.messages(100);
    expect(replies.map((r) => r[0])).toEqual(Array.from({ length: 100 }, (_, seq) => seq + 1000));
    await us.node.close();
    expect(await peer.line('EOF')).toMatch(/^EOF/);
    expect(await peer.exited).toBe(0);
  });
});
