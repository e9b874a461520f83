import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A child process seen through its stdout lines (parsed by `parse`), its
 * stderr and its exit, with waits that wake on output and fail, never hang,
 * after their deadline.
 */
export class Lines<T> {
  readonly lines: T[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly child: ChildProcessWithoutNullStreams,
    parse: (text: string) => T,
    options: { echoStderr?: boolean } = {},
  ) {
    createInterface({ input: child.stdout }).on('line', (text) => {
      this.lines.push(parse(text));
      this.wake();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      if (options.echoStderr === true) process.stderr.write(chunk);
      this.wake();
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** The first line that matches, once there is one. */
  wait(match: (line: T) => boolean, ms: number, what: string): Promise<T> {
    return this.until(() => this.lines.find(match), ms, what);
  }

  /** Resolves with what `probe` finds, re-probing on every output; rejects after `ms`. */
  async until<R>(probe: () => R | undefined, ms: number, what: string): Promise<R> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(`no ${what} within ${ms} ms; stdout: ${JSON.stringify(this.lines.slice(-10))}; stderr: ${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Writes one line to its stdin. */
  send(text: string): void {
    this.child.stdin.write(`${text}\n`);
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}
