// The chaos spec's network: one namespace per node, each with a veth pair to a bridge that lives in a
// namespace of its own, on a private subnet that exists only inside these namespaces. Nothing in the
// root namespace is touched: every interface is made directly inside a namespace (`ip -n`).
// Faults are nftables tables (and `ss -K`) inside a node's namespace.
import { execFileSync, spawn } from 'node:child_process';

/** Every namespace of this rig is named `mpnc<pid of the driver><label>` + `br` or `n<index>`. */
export const PREFIX = 'mpnc';
const NAME = new RegExp(`^${PREFIX}(\\d+)[a-z]*(br|n\\d+)$`);

/** Runs a command; resolves with its stdout, rejects with its stderr. */
export function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')}: exit ${code}: ${stderr.trim()}`));
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // it may exit before it reads: its exit code tells
      child.stdin.end(input);
    }
  });
}

const runSync = (command: string, ...args: string[]): string =>
  execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });

/** What this spec needs and this machine lacks (empty when all is there). */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push(`Linux network namespaces (this is ${process.platform})`);
  if (process.getuid?.() !== 0) missing.push(`root (uid is ${process.getuid?.()}): network namespaces and nftables need it`);
  for (const [command, args] of [
    ['ip', ['-V']],
    ['nft', ['--version']],
    ['ss', ['-V']],
  ] as const) {
    try {
      runSync(command, ...args);
    } catch (error) {
      missing.push(`\`${command}\` (${command === 'ss' ? 'iproute2' : command === 'ip' ? 'iproute2' : 'nftables'}): ${String(error)}`);
    }
  }
  return missing;
}

/** Namespaces left by a run of this spec whose driver is gone (it crashed or was killed): deleted. */
export function deleteStaleNamespaces(): string[] {
  const deleted: string[] = [];
  for (const line of runSync('ip', 'netns', 'list').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = NAME.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || alive(pid)) continue;
    // Its processes (nodes of that run) exit by themselves when their driver's IPC channel closes.
    runSync('ip', 'netns', 'del', name);
    deleted.push(name);
  }
  return deleted;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type Direction = 'both' | 'in';

/** The mesh's namespaces and addresses, and the faults that can be put on them. */
export class ChaosNetwork {
  readonly tag: string;
  readonly bridge: string;
  private readonly made: string[] = [];

  /** `label` (lowercase letters) keeps the namespaces of two specs of one driver apart. */
  constructor(
    readonly size: number,
    label = '',
  ) {
    if (!/^[a-z]*$/.test(label)) throw new TypeError(`a network's label is lowercase letters, got ${label}`);
    this.tag = `${PREFIX}${process.pid}${label}`;
    this.bridge = `${this.tag}br`;
  }

  namespace(index: number): string {
    return `${this.tag}n${index}`;
  }

  address(index: number): string {
    return `10.77.0.${index + 1}`;
  }

  /** Makes the bridge namespace and one namespace per node, each with `eth0` on the bridge. */
  async create(): Promise<void> {
    const inBridge = (...args: string[]): Promise<string> => run('ip', ['-n', this.bridge, ...args]);
    await this.add(this.bridge);
    await inBridge('link', 'set', 'lo', 'up');
    await inBridge('link', 'add', 'br0', 'type', 'bridge');
    await inBridge('link', 'set', 'br0', 'up');
    for (let i = 0; i < this.size; i++) {
      const ns = this.namespace(i);
      await this.add(ns);
      // Made in the bridge's namespace, its peer straight in the node's: never in the root namespace.
      await inBridge('link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await inBridge('link', 'set', `v${i}`, 'master', 'br0');
      await inBridge('link', 'set', `v${i}`, 'up');
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${this.address(i)}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
  }

  private async add(name: string): Promise<void> {
    await run('ip', ['netns', 'add', name]);
    this.made.push(name);
  }

  /** Deletes every namespace this made (their interfaces go with them); returns what failed. */
  destroy(): string[] {
    const errors: string[] = [];
    for (const name of this.made.splice(0).reverse()) {
      try {
        runSync('ip', 'netns', 'del', name);
      } catch (error) {
        errors.push(String(error));
      }
    }
    return errors;
  }

  /** A table of its own in node `index`'s namespace; returns its name, for {@link removeTable}. */
  private async addTable(index: number, name: string, inRule: string, outRule?: string): Promise<string> {
    const chains = [`chain in { type filter hook input priority 0; policy accept; ${inRule}; }`];
    if (outRule !== undefined) chains.push(`chain out { type filter hook output priority 0; policy accept; ${outRule}; }`);
    await run('ip', ['netns', 'exec', this.namespace(index), 'nft', '-f', '-'], `table inet ${name} {\n${chains.join('\n')}\n}\n`);
    return name;
  }

  async removeTable(index: number, name: string): Promise<void> {
    await run('ip', ['netns', 'exec', this.namespace(index), 'nft', 'delete', 'table', 'inet', name]);
  }

  /** A silent cut in node `index`'s namespace: packets from `peer` (and, `both`, to it) are dropped. */
  drop(index: number, peer: number, direction: Direction): Promise<string> {
    const address = this.address(peer);
    return this.addTable(
      index,
      `chaos_drop_${peer}`,
      `ip saddr ${address} drop`,
      direction === 'both' ? `ip daddr ${address} drop` : undefined,
    );
  }

  /**
   * Resets in node `index`'s namespace: every TCP segment from `peer` (but a reset) is answered with a
   * reset, so the peer's end of each connection dies as soon as it sends, and a connect is refused.
   */
  reset(index: number, peer: number): Promise<string> {
    return this.addTable(index, `chaos_reset_${peer}`, `ip saddr ${this.address(peer)} tcp flags & rst == 0 reject with tcp reset`);
  }

  /** Kills (`ss -K`) every TCP socket of node `index` to or from `peer`: aborted here, a reset there. */
  async kill(index: number, peer: number): Promise<void> {
    await run('ip', ['netns', 'exec', this.namespace(index), 'ss', '-K', '-t', 'dst', this.address(peer)]);
  }

  /** Removes every fault from every node's namespace. */
  async clearFaults(): Promise<void> {
    for (let i = 0; i < this.size; i++) await run('ip', ['netns', 'exec', this.namespace(i), 'nft', 'flush', 'ruleset']);
  }

  /** The established TCP connections in node `index`'s namespace, as `local peer` pairs. */
  async established(index: number): Promise<string[]> {
    const out = await run('ip', ['netns', 'exec', this.namespace(index), 'ss', '-H', '-t', '-n', 'state', 'established']);
    return out
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields.length >= 4)
      .map((fields) => `${fields.at(-2)} ${fields.at(-1)}`);
  }
}
