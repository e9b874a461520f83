import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Lines } from '../helpers/lines.js';

/**
 * Partitions between real separate hosts: two network namespaces made by this
 * spec, joined by a veth pair on a private subnet that exists only inside them.
 * A silent cut is an nftables drop rule (no RST, no FIN), as a pulled cable.
 * Needs root (CI runs as root). No traffic leaves the namespaces.
 */
const TAG = `mpn${process.pid % 10000}`;
const A = `${TAG}a`;
const B = `${TAG}b`;
const ADDRESS_A = '10.213.7.1';
const ADDRESS_B = '10.213.7.2';
const PEER = 'build/spec/robustness/partitionPeer.js';
const TIMEOUT = 2000;

const sh = (...args: string[]): string => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (ns: string, ...args: string[]): string => sh('ip', 'netns', 'exec', ns, ...args);

interface Line {
  at: number;
  event: string;
  [key: string]: unknown;
}

/** A node in a namespace (partitionPeer.js): its event lines, and commands on its stdin. */
class Peer extends Lines<Line> {
  constructor(child: ChildProcessWithoutNullStreams) {
    super(child, (text) => JSON.parse(text) as Line, { echoStderr: true });
  }

  command(value: Record<string, unknown>): void {
    this.send(JSON.stringify(value));
  }

  /** The first line of that event. */
  event(name: string, ms: number): Promise<Line> {
    return this.wait((line) => line.event === name, ms, `'${name}' event`);
  }

  seqs(): number[] {
    return this.lines.filter((line) => line.event === 'message' && (line.seq as number) >= 0).map((line) => line.seq as number);
  }
}

function cut(): void {
  // Drop everything both ways inside A, silently.
  inNs(A, 'nft', 'add table inet cut');
  inNs(A, 'nft', 'add chain inet cut in { type filter hook input priority 0; policy drop; }');
  inNs(A, 'nft', 'add chain inet cut out { type filter hook output priority 0; policy drop; }');
}

function heal(): void {
  inNs(A, 'nft', 'delete table inet cut');
}

describe('partitions between network namespaces (silent cuts)', () => {
  const peers: Peer[] = [];

  beforeAll(() => {
    for (const ns of [A, B]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        // not there: fine
      }
      sh('ip', 'netns', 'add', ns);
      inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    }
    sh('ip', 'link', 'add', `${TAG}va`, 'type', 'veth', 'peer', 'name', `${TAG}vb`);
    sh('ip', 'link', 'set', `${TAG}va`, 'netns', A);
    sh('ip', 'link', 'set', `${TAG}vb`, 'netns', B);
    inNs(A, 'ip', 'addr', 'add', `${ADDRESS_A}/24`, 'dev', `${TAG}va`);
    inNs(B, 'ip', 'addr', 'add', `${ADDRESS_B}/24`, 'dev', `${TAG}vb`);
    inNs(A, 'ip', 'link', 'set', `${TAG}va`, 'up');
    inNs(B, 'ip', 'link', 'set', `${TAG}vb`, 'up');
  });

  afterAll(() => {
    for (const ns of [A, B]) sh('ip', 'netns', 'del', ns);
  });

  afterEach(() => {
    for (const peer of peers.splice(0)) peer.child.kill();
    try {
      heal();
    } catch {
      // no cut in place
    }
  });

  async function pair(): Promise<{ a: Peer; b: Peer }> {
    const b = new Peer(spawn('ip', ['netns', 'exec', B, process.execPath, PEER, 'listen', `${ADDRESS_B}:0`, 'b', String(TIMEOUT)]));
    peers.push(b);
    const listening = await b.event('listening', 5000);
    const a = new Peer(
      spawn('ip', ['netns', 'exec', A, process.execPath, PEER, 'connect', listening.address as string, 'a', String(TIMEOUT)]),
    );
    peers.push(a);
    await a.event('connected', 5000);
    await b.event('connected', 5000);
    return { a, b };
  }

  it('an idle link cut silently is detected by both sides within about connectionTimeout', async () => {
    const { a, b } = await pair();
    // keep it alive both ways until the cut: both stream slowly
    a.command({ cmd: 'stream', interval: 100 });
    b.command({ cmd: 'stream', interval: 100 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const cutAtA = a.lines.at(-1)!.at;
    const cutAtB = b.lines.at(-1)!.at;
    cut();
    const goneA = await a.event('disconnected', 4 * TIMEOUT);
    const goneB = await b.event('disconnected', 4 * TIMEOUT);
    expect([goneA.reason, goneB.reason]).toEqual(['idle', 'idle']);
    const detection = [goneA.at - cutAtA, goneB.at - cutAtB];
    console.log(`\n  silent cut, light traffic both ways: detected after ${detection.join(' / ')} ms (connectionTimeout ${TIMEOUT})`);
    for (const ms of detection) expect(ms).toBeLessThan(2 * TIMEOUT + 1000);
  }, 30_000);

  it('a side that keeps streaming into a cut link still detects it (its timer counts received bytes)', async () => {
    const { a, b } = await pair();
    a.command({ cmd: 'stream', interval: 1 }); // a streams, b answers every 10th
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = a.lines.at(-1)!.at;
    cut();
    const goneA = await a.event('disconnected', 4 * TIMEOUT);
    const goneB = await b.event('disconnected', 4 * TIMEOUT);
    expect([goneA.reason, goneB.reason]).toEqual(['idle', 'idle']);
    console.log(`\n  silent cut while streaming: the writer detected it after ${goneA.at - before} ms`);
    expect(goneA.at - before).toBeLessThan(2 * TIMEOUT + 1000);
  }, 30_000);

  it('a cut healed before the timeout loses nothing: every message arrives once, in order', async () => {
    const { a, b } = await pair();
    a.command({ cmd: 'stream', count: 3000, interval: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    cut();
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT / 3));
    heal();
    await a.event('streamed', 30_000);
    const deadline = Date.now() + 15_000;
    while (b.seqs().length < 3000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(b.seqs()).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(a.lines.some((line) => line.event === 'disconnected')).toBeFalse();
    expect(b.lines.some((line) => line.event === 'disconnected')).toBeFalse();
  }, 60_000);
});
