// The chaos driver's side of its nodes: each a child process (chaosNode.js) started in its namespace
// with `ip netns exec`, talking over the IPC channel.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChaosNetwork } from './network.js';
import type { Command, Counters, NodeConfig, NodeState, Report } from './protocol.js';

const CHAOS_NODE = fileURLToPath(new URL('./chaosNode.js', import.meta.url));

/** What every program run as an {@link Incarnation} is given (the rest of its config is its own). */
export interface ChildConfig {
  readonly id: string;
  /** Counts the starts of this node. */
  readonly incarnation: number;
}

/** A memory sample of one incarnation, with the counters it reported then. */
export interface Sample {
  readonly at: number;
  readonly heapUsed: number;
  readonly rss: number;
  readonly counters: Counters;
}

/**
 * One run of a node's program (a restart is a new incarnation): chaosNode.js by default, or another
 * program that takes its config as JSON in argv[2] and reports over IPC as chaosNode.js does
 * (`listening`, `violation`, `event`; other reports are the caller's, on `child`).
 */
export class Incarnation<C extends ChildConfig = NodeConfig> {
  readonly child: ChildProcess;
  readonly samples: Sample[] = [];
  /** The last lines it reported (events, links), for a failure's story. */
  readonly recent: string[] = [];
  readonly exited: Promise<void>;
  readonly listening: Promise<number>;
  exitedAt: number | undefined;
  /** Set when the driver ends it (kill, close): any other exit is a crash. */
  private ending = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (report: Report) => void>();

  constructor(
    readonly config: C,
    namespace: string,
    onViolation: (text: string) => void,
    onNote: (note: Extract<Report, { type: 'note' }>) => void = () => undefined,
    program = CHAOS_NODE,
  ) {
    this.child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--expose-gc', program, JSON.stringify(config)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const name = `${config.id}#${config.incarnation}`;
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exitedAt = Date.now();
        this.remember(`exit ${code ?? signal}`);
        if (!this.ending) onViolation(`${name} exited by itself (${code ?? signal}); its last lines: ${this.story()}`);
        resolve();
      }),
    );
    let listened!: (at: number) => void;
    let failed!: (error: Error) => void;
    this.listening = new Promise((resolve, reject) => {
      listened = resolve;
      failed = reject;
    });
    void this.exited.then(() => failed(new Error(`${name} exited before it listened`)));
    void this.listening.catch(() => undefined);
    this.child.on('error', (error) => {
      onViolation(`${name}: cannot start: ${String(error)}`);
      failed(error);
    });
    this.child.on('message', (report: Report) => {
      switch (report.type) {
        case 'listening':
          listened(report.at);
          break;
        case 'sample':
          this.samples.push(report);
          break;
        case 'violation':
          onViolation(report.text);
          break;
        case 'note':
          this.remember(`${report.at} note: ${report.text}`);
          onNote(report);
          break;
        case 'event':
          this.remember(
            `${report.at} ${report.event} ${report.peer}${report.reason ? ` ${report.reason}` : ''}${report.code ? ` ${report.code}` : ''} up=${report.up}`,
          );
          break;
        case 'link':
          this.remember(`${report.at} link ${report.peer} ${report.state} ${report.detail}`);
          break;
        case 'fresh':
        case 'state':
        case 'final':
          this.waiting.get(report.id)?.(report);
          this.waiting.delete(report.id);
          break;
      }
    });
  }

  get name(): string {
    return `${this.config.id}#${this.config.incarnation}`;
  }

  get alive(): boolean {
    return this.exitedAt === undefined;
  }

  /** The counters it reported last. */
  get counters(): Counters | undefined {
    return this.samples.at(-1)?.counters;
  }

  command(command: Command): void {
    if (this.child.connected) this.child.send(command);
  }

  /** Sends a command with a fresh id; resolves with its answer, or `undefined` after `ms` (or when the process ends). */
  private ask(make: (id: number) => Command, ms: number): Promise<Report | undefined> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, ms);
      this.waiting.set(id, (report) => {
        clearTimeout(timer);
        resolve(report);
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(undefined);
      });
      this.command(make(id));
    });
  }

  /** When it first receives a message from `peer` sent at or after `since` (ms since the epoch), or `undefined`. */
  async fresh(peer: string, since: number, ms: number): Promise<number | undefined> {
    const report = await this.ask((id) => ({ cmd: 'watch', id, peer, since }), ms);
    return report?.type === 'fresh' ? report.at : undefined;
  }

  async state(ms = 3000): Promise<NodeState | undefined> {
    const report = await this.ask((id) => ({ cmd: 'state', id }), ms);
    return report?.type === 'state' ? report.state : undefined;
  }

  /** Sends `[1, token]` to every peer; resolves with the peers it received the same from (within `ms`) and its send errors. */
  async final(token: number, ms: number): Promise<{ from: string[]; sendErrors: string[] } | undefined> {
    const report = await this.ask((id) => ({ cmd: 'final', id, token, ms }), ms + 3000);
    return report?.type === 'final' ? report : undefined;
  }

  kill(): void {
    this.ending = true;
    if (this.alive) this.child.kill('SIGKILL');
  }

  /** Asks it to close its node and exit. */
  close(): void {
    this.ending = true;
    this.command({ cmd: 'close' });
  }

  /** Its last lines, for a failure's message. */
  story(lines = 25): string {
    return `\n      ${this.name}: ${this.recent.slice(-lines).join(`\n      ${this.name}: `)}`;
  }

  private remember(line: string): void {
    this.recent.push(line);
    if (this.recent.length > 60) this.recent.shift();
  }
}

/** SIGKILLs every one of `incarnations` still running (also from a process `exit` handler: it is synchronous). */
export function killAll(incarnations: readonly Incarnation<ChildConfig>[]): void {
  for (const incarnation of incarnations) incarnation.kill();
}

/** The end of a rig's run: every process SIGKILLed and waited for (5 s at most), then its namespaces deleted. */
export async function tearDown(incarnations: readonly Incarnation<ChildConfig>[], network: ChaosNetwork, name: string): Promise<void> {
  killAll(incarnations);
  await Promise.race([
    Promise.all(incarnations.map((incarnation) => incarnation.exited)),
    new Promise((resolve) => setTimeout(resolve, 5000)),
  ]);
  const errors = network.destroy();
  if (errors.length > 0) console.error(`${name}: cleanup failed:`, errors);
}
