import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:net';
import { Lines } from '../helpers/lines.js';

/** The real executable, as `npx msgpacknet` runs it. */
const CLI = 'dist/lib/cli/index.js';

/** A running msgpacknet process: its stdout as JSON lines (or `{ text }`), its stderr, its exit. */
class Cli extends Lines<Record<string, unknown>> {
  constructor(child: ChildProcessWithoutNullStreams) {
    super(child, (text) => {
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch {
        return { text };
      }
    });
  }

  line(match: (line: Record<string, unknown>) => boolean, ms = 8000): Promise<Record<string, unknown>> {
    return this.wait(match, ms, 'matching line');
  }

  async stderrShows(text: string, ms = 8000): Promise<void> {
    await this.until(() => (this.stderr.includes(text) ? true : undefined), ms, `'${text}' on stderr`);
  }

  type(text: string): void {
    this.send(text);
  }
}

const running: Cli[] = [];
function cli(...args: string[]): Cli {
  const process_ = new Cli(spawn(process.execPath, [CLI, ...args]));
  running.push(process_);
  return process_;
}

function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = cli(...args);
  child.child.stdin.end();
  let stdout = '';
  child.child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return child.exited.then((code) => ({
    code,
    stdout: stdout || child.lines.map((l) => JSON.stringify(l)).join('\n'),
    stderr: child.stderr,
  }));
}

const event = (name: string) => (line: Record<string, unknown>) => line.event === name;

describe('msgpacknet (the executable)', () => {
  afterEach(() => {
    for (const child of running.splice(0)) child.child.kill();
  });

  it('--help describes every command, and each command has its own --help', () => {
    const main = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    for (const command of ['listen', 'connect', 'send', 'demo']) {
      expect(main).toContain(command);
      expect(execFileSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' })).toContain(`usage: msgpacknet ${command}`);
    }
  });

  it('listen and connect: a message typed on one stdin appears as a JSON line on the other stdout', async () => {
    const server = cli('listen', '127.0.0.1:0', '--id', 'server', '--init', '{"v":1}');
    const { address } = await server.line(event('listening'));
    const client = cli('connect', address as string, '--id', '[1,2]');
    await client.line(event('connected'));
    expect(await server.line(event('connectionRequest'))).toEqual(jasmine.objectContaining({ nodeId: [1, 2], initMessage: null }));
    await server.line(event('connected'));
    client.type('"hello"');
    expect(await server.line(event('message'))).toEqual(jasmine.objectContaining({ from: [1, 2], message: 'hello' }));
    server.type('{"to": [1,2], "message": {"bytes": {"$base64": "AQID"}, "big": {"$bigint": "18446744073709551615"}}}');
    expect((await client.line(event('message'))).message).toEqual({ bytes: { $base64: 'AQID' }, big: { $bigint: '18446744073709551615' } });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect((await client.line(event('disconnected'))).reason).toBe('remote-closed');
    expect(await client.exited).toBe(0);
  });

  it('send: connects, sends, flushes and exits 0; the listener prints each message', async () => {
    const server = cli('listen', '--id', 'server');
    const { address } = await server.line(event('listening'));
    const result = await run('send', address as string, '{"a":1}', '42', 'plain text', '--id', 'sender');
    expect(result.code).toBe(0);
    await server.line((line) => line.event === 'message' && line.message === 'plain text');
    expect(server.lines.filter(event('message')).map((line) => line.message)).toEqual([{ a: 1 }, 42, 'plain text']);
    expect(server.lines.find(event('message'))!.from).toBe('sender');
  });

  it('--accept prompt: the next stdin line decides', async () => {
    const server = cli('listen', '--id', 'server', '--accept', 'prompt');
    const { address } = await server.line(event('listening'));
    const client = cli('connect', address as string, '--id', 'client');
    await server.line(event('connectionRequest'));
    await server.stderrShows('accept the connection');
    server.type('y');
    await server.line(event('connected'));
    await client.line(event('connected'));
  });

  it('a port in use: one line on stderr, exit 1, no stack trace', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const result = await run('listen', `127.0.0.1:${port}`);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n').length).toBe(1);
      expect(result.stderr).toMatch(/^msgpacknet: error: OPEN_ERROR: cannot listen on 127\.0\.0\.1:\d+/);
      expect(result.stderr).not.toContain('    at ');
      const verbose = await run('listen', `127.0.0.1:${port}`, '--verbose');
      expect(verbose.stderr).toContain('    at ');
    } finally {
      blocker.close();
    }
  });

  it('a refused connection: one line, exit 1', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    for (const args of [
      ['connect', `127.0.0.1:${port}`],
      ['send', `127.0.0.1:${port}`, '1'],
    ]) {
      const result = await run(...args);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^msgpacknet: error: CONNECTION_ERROR: cannot connect to 127\.0\.0\.1:\d+/);
      expect(result.stderr.trim().split('\n').length).toBe(1);
    }
  });

  it('a bad address or usage: one line, exit 2 for usage', async () => {
    const bad = await run('listen', 'nonsense');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^msgpacknet: error: OPEN_ERROR: invalid address/);
    const usage = await run('frobnicate');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown command');
    expect((await run('demo', '--seconds', 'x')).code).toBe(2);
  });

  it('demo: runs for the given time, closes everything and prints a summary (not a terminal: plain lines)', async () => {
    const result = await run('demo', '--seconds', '1.5', '--nodes', '3');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('3 nodes, 3 connections');
    expect(result.stdout).toMatch(/messages sent (\d+), received \1, lost 0, out of order 0/);
    expect(result.stdout).not.toContain('\x1b[');
  }, 20_000);
});
