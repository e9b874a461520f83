// A real etcd on loopback that a spec controls: Debian's /usr/bin/etcd (etcd-server), one member, its
// client and peer URLs on free 127.0.0.1 ports, its data in a temporary directory. It can be stopped and
// started again on the same ports and data (an etcd that goes away and comes back).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BINARY = '/usr/bin/etcd';
/** Whether this machine has etcd (scripts/ensure-system.mjs installs it). */
export const haveEtcd = existsSync(ETCD_BINARY);

const READY_WITHIN = 15_000;
const STOP_WITHIN = 5_000;

export class EtcdServer {
  private process: ChildProcess | undefined;
  /** The last lines etcd wrote (for failures). */
  private output: string[] = [];

  private constructor(
    private readonly dir: string,
    private readonly clientPort: number,
    private readonly peerPort: number,
  ) {}

  /** `http://127.0.0.1:PORT`: the client URL, as etcd3's `hosts` takes it. */
  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  /** An etcd started on free loopback ports with a fresh data directory; resolves once it answers. */
  static async start(): Promise<EtcdServer> {
    const dir = await mkdtemp(join(tmpdir(), 'msgpacknet-etcd-'));
    const server = new EtcdServer(dir, await freePort(), await freePort());
    await server.resume();
    return server;
  }

  /** Starts it again (same ports, same data): resolves once it answers. */
  async resume(): Promise<void> {
    if (this.process) throw new Error('etcd runs already');
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      ETCD_BINARY,
      [
        '--name=default',
        `--data-dir=${join(this.dir, 'data')}`,
        `--listen-client-urls=${this.url}`,
        `--advertise-client-urls=${this.url}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=default=${peer}`,
        '--listen-metrics-urls=',
        '--log-level=warn',
        '--logger=zap',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.process = child;
    const keep = (chunk: Buffer): void => {
      this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      this.output = this.output.slice(-30);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const started = performance.now();
    while (!(await this.healthy())) {
      if (child.exitCode !== null || performance.now() - started > READY_WITHIN) {
        await this.stop();
        throw new Error(`etcd did not start within ${READY_WITHIN} ms:\n${this.output.join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops it (SIGKILL with `kill`, else SIGTERM) and waits for the process to end; the data stays. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_WITHIN);
    await ended;
    clearTimeout(timer);
  }

  /** Stops it and removes its data directory. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }

  private async healthy(): Promise<boolean> {
    try {
      const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await response.json()) as { health?: unknown };
      return body.health === 'true';
    } catch {
      return false;
    }
  }
}

/** A TCP port free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
