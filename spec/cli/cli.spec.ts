import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateId } from '../../lib/certificateId.js';
import { fitView } from '../../lib/cli/demo.js';
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

/** What JSON.parse says of `text`, as the CLI quotes it. */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

const event = (name: string) => (line: Record<string, unknown>) => line.event === name;

const scratch: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpn-cli-'));
  scratch.push(dir);
  return dir;
}

/** `msgpacknet keygen --out DIR` into a new folder: its JSON line, and the --tls-* flags of that key. */
async function keygen(): Promise<{ nodeId: string; dir: string; flags: string[] }> {
  const dir = tempDir();
  const result = await run('keygen', '--out', dir);
  expect(result.code).withContext(result.stderr).toBe(0);
  const printed = JSON.parse(result.stdout) as { nodeId: string };
  return { nodeId: printed.nodeId, dir, flags: ['--tls-key', join(dir, 'node.key'), '--tls-cert', join(dir, 'node.crt')] };
}

describe('msgpacknet (the executable)', () => {
  afterEach(() => {
    for (const child of running.splice(0)) child.child.kill();
  });

  afterAll(() => {
    for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('--help describes every command, and each command has its own --help', () => {
    const main = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    for (const command of ['listen', 'connect', 'send', 'demo', 'keygen']) {
      expect(main).toContain(command);
      expect(execFileSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' })).toContain(`usage: msgpacknet ${command}`);
    }
    for (const command of ['listen', 'connect', 'send']) {
      const help = execFileSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' });
      for (const flag of ['--tls-key FILE', '--tls-cert FILE', '--tls-ca FILE', '--authenticate-ids']) expect(help).toContain(flag);
    }
    expect(execFileSync(process.execPath, [CLI, 'keygen', '--help'], { encoding: 'utf8' })).toContain('--force');
  });

  it('--help names every address form, ws:// and wss:// too, and its printf example is one line that works', () => {
    const help = (...args: string[]): string => execFileSync(process.execPath, [CLI, ...args, '--help'], { encoding: 'utf8' });
    for (const text of [help(), help('listen'), help('connect'), help('send')]) {
      for (const scheme of ['tcp://', 'tls://', 'ws://', 'wss://']) expect(text).toContain(scheme);
    }
    // The example as typed in a shell: printf turns its \n into the line ends.
    expect(help('connect')).toContain(`(printf '"a"\\n"b"\\n' | msgpacknet connect ...)`);
    expect(help('listen')).toContain('{"event":"failure","error":CODE');
  });

  it('keygen: writes node.key (0600) and a self-signed P-256 node.crt into --out and prints their node id', async () => {
    const dir = join(tempDir(), 'new-folder');
    const result = await run('keygen', '--out', dir);
    expect(result.code).withContext(result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n').length).toBe(1);
    const printed = JSON.parse(result.stdout) as Record<string, unknown>;
    const cert = readFileSync(join(dir, 'node.crt'), 'utf8');
    expect(printed).toEqual({ event: 'keygen', nodeId: certificateId(cert), key: join(dir, 'node.key'), cert: join(dir, 'node.crt') });
    expect(printed.nodeId).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(dir, 'node.key'), 'utf8')).toContain('PRIVATE KEY-----');
    expect(statSync(join(dir, 'node.key')).mode & 0o777).toBe(0o600);
    const text = execFileSync('openssl', ['x509', '-in', join(dir, 'node.crt'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toContain('prime256v1');
    expect(text).toMatch(/IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost/);
    const notAfter = /Not After : (.*)/.exec(text)![1]!;
    expect(new Date(notAfter).getTime() - Date.now()).toBeGreaterThan(9 * 365 * 86_400_000);
  });

  it('keygen: refuses to overwrite node.key or node.crt (exit 1, files unchanged) unless --force', async () => {
    const dir = tempDir();
    const first = await run('keygen', '--out', dir);
    expect(first.code).toBe(0);
    const key = readFileSync(join(dir, 'node.key'), 'utf8');
    const again = await run('keygen', '--out', dir);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/^msgpacknet: error: .*node\.key exists; keygen does not overwrite it without --force\n$/);
    expect(readFileSync(join(dir, 'node.key'), 'utf8')).toBe(key);
    rmSync(join(dir, 'node.key'));
    const certOnly = await run('keygen', '--out', dir);
    expect(certOnly.code).toBe(1);
    expect(certOnly.stderr).toContain('node.crt exists');
    expect(existsSync(join(dir, 'node.key'))).toBeFalse();
    const forced = await run('keygen', '--out', dir, '--force');
    expect(forced.code).withContext(forced.stderr).toBe(0);
    const { nodeId } = JSON.parse(forced.stdout) as { nodeId: string };
    expect(nodeId).not.toBe((JSON.parse(first.stdout) as { nodeId: string }).nodeId);
    expect(nodeId).toBe(certificateId(readFileSync(join(dir, 'node.crt'))));
    expect(statSync(join(dir, 'node.key')).mode & 0o777).toBe(0o600);
  });

  it('keygen without openssl on the PATH: one clear line, exit 1, nothing written', () => {
    const dir = join(tempDir(), 'out');
    const result = spawnSync(process.execPath, [CLI, 'keygen', '--out', dir], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'msgpacknet: error: keygen needs the openssl command, which is not on the PATH (Debian/Ubuntu: apt-get install openssl)\n',
    );
    expect(existsSync(dir)).toBeFalse();
  });

  it('listen and connect over tls:// with --authenticate-ids: the ids are the keygen ids, and messages go both ways', async () => {
    const [serverKey, clientKey] = [await keygen(), await keygen()];
    const server = cli('listen', 'tls://127.0.0.1:0', ...serverKey.flags, '--authenticate-ids');
    const listening = await server.line(event('listening'));
    expect(listening.nodeId).toBe(serverKey.nodeId);
    expect(listening.address).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
    const client = cli('connect', listening.address as string, ...clientKey.flags, '--authenticate-ids');
    expect((await client.line(event('connecting'))).nodeId).toBe(clientKey.nodeId);
    expect((await client.line(event('connected'))).nodeId).toBe(serverKey.nodeId);
    expect(await server.line(event('connectionRequest'))).toEqual(
      jasmine.objectContaining({ nodeId: clientKey.nodeId, certificateId: clientKey.nodeId }),
    );
    expect((await server.line(event('connected'))).nodeId).toBe(clientKey.nodeId);
    client.type('{"over": "tls"}');
    expect(await server.line(event('message'))).toEqual(jasmine.objectContaining({ from: clientKey.nodeId, message: { over: 'tls' } }));
    server.type('"back"');
    expect((await client.line(event('message'))).message).toBe('back');
    client.child.kill('SIGTERM');
    expect(await client.exited).toBe(0);
    expect((await server.line(event('disconnected'))).nodeId).toBe(clientKey.nodeId);
  });

  it('listen, connect and send over ws:// and wss:// (with the TLS flags): the address keeps its scheme and path', async () => {
    const server = cli('listen', 'ws://127.0.0.1:0/mpn', '--id', 'server');
    const listening = await server.line(event('listening'));
    expect(listening.address).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mpn$/);
    const client = cli('connect', listening.address as string, '--id', 'client');
    await client.line(event('connected'));
    client.type('over ws');
    expect(await server.line(event('message'))).toEqual(jasmine.objectContaining({ from: 'client', message: 'over ws' }));

    const [serverKey, clientKey] = [await keygen(), await keygen()];
    const secure = cli('listen', 'wss://127.0.0.1:0', ...serverKey.flags, '--authenticate-ids');
    const { address } = await secure.line(event('listening'));
    expect(address).toMatch(/^wss:\/\/127\.0\.0\.1:\d+/);
    const sent = await run('send', address as string, '"over wss"', ...clientKey.flags, '--authenticate-ids');
    expect(sent.code).withContext(sent.stderr).toBe(0);
    expect(await secure.line(event('message'))).toEqual(jasmine.objectContaining({ from: clientKey.nodeId, message: 'over wss' }));
  });

  it('send over tls://: --authenticate-ids, or --tls-ca to trust a self-signed listener; without either it is refused', async () => {
    const [serverKey, clientKey] = [await keygen(), await keygen()];
    const server = cli('listen', 'tls://127.0.0.1:0', ...serverKey.flags, '--id', 'server', '--tls-ca', join(clientKey.dir, 'node.crt'));
    const { address } = await server.line(event('listening'));
    const trusted = await run('send', address as string, '"trusted"', ...clientKey.flags, '--tls-ca', join(serverKey.dir, 'node.crt'));
    expect(trusted.code).withContext(trusted.stderr).toBe(0);
    expect(trusted.stderr).toContain('sent 1 message to "server"');
    expect((await server.line(event('message'))).message).toBe('trusted');
    const untrusted = await run('send', address as string, '"no"', ...clientKey.flags);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/^msgpacknet: error: CONNECTION_ERROR: .*self-signed certificate/);

    const authenticated = cli('listen', 'tls://127.0.0.1:0', ...serverKey.flags, '--authenticate-ids');
    const listening = await authenticated.line(event('listening'));
    const sent = await run('send', listening.address as string, '7', ...clientKey.flags, '--authenticate-ids');
    expect(sent.code).withContext(sent.stderr).toBe(0);
    expect(sent.stderr).toContain(`sent 1 message to "${serverKey.nodeId}"`);
    expect(await authenticated.line(event('message'))).toEqual(jasmine.objectContaining({ from: clientKey.nodeId, message: 7 }));
  });

  it('--authenticate-ids: a different --id, or no key and certificate, is a usage error (exit 2); an unreadable file exits 1', async () => {
    const key = await keygen();
    const wrong = await run('connect', 'tls://127.0.0.1:1', ...key.flags, '--authenticate-ids', '--id', 'me');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toBe(
      `msgpacknet: with --authenticate-ids the node id is the certificate's id ${key.nodeId} (from ${join(key.dir, 'node.crt')}); --id me does not match it (leave --id out)\n`,
    );
    const same = cli('listen', 'tls://127.0.0.1:0', ...key.flags, '--authenticate-ids', '--id', key.nodeId);
    expect((await same.line(event('listening'))).nodeId).toBe(key.nodeId);
    const bare = await run('listen', 'tls://127.0.0.1:0', '--authenticate-ids');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('--authenticate-ids needs --tls-key and --tls-cert');
    const missing = await run('send', 'tls://127.0.0.1:1', '1', '--tls-cert', join(key.dir, 'missing.crt'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`msgpacknet: error: cannot read --tls-cert ${join(key.dir, 'missing.crt')}: ENOENT\n`);
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

  it('stdin lines read as arguments do: JSON, or a bare word or phrase as a string; a JSON typo is not sent, and says why', async () => {
    const server = cli('listen', '--id', 'server');
    const { address } = await server.line(event('listening'));
    const client = cli('connect', address as string, '--id', 'client');
    await client.line(event('connected'));
    await server.line(event('connected'));
    client.type('hello world');
    client.type('{bad');
    client.type('671e80ab');
    client.type('{"to": "server", "message": [1, "two"]}');
    await server.line((line) => line.event === 'message' && Array.isArray(line.message));
    expect(server.lines.filter(event('message')).map((line) => line.message)).toEqual(['hello world', '671e80ab', [1, 'two']]);
    expect(client.stderr).toBe(
      `msgpacknet: not sent: the line: "{bad" is not valid JSON (${jsonError('{bad')}); to pass it as a string, write it as a JSON string: "{bad"\n`,
    );
    server.type('back again');
    expect((await client.line(event('message'))).message).toBe('back again');
  });

  it('listen prints each connection that failed before it was registered as a JSON line on stderr: plain TCP to tls://, a refused TLS client', async () => {
    const [serverKey, clientKey] = [await keygen(), await keygen()];
    const server = cli('listen', 'tls://127.0.0.1:0', ...serverKey.flags, '--tls-ca', join(clientKey.dir, 'node.crt'));
    const { address } = await server.line(event('listening'));
    const port = (address as string).replace('tls://', '');
    const failures = (): Record<string, unknown>[] =>
      server.stderr
        .split('\n')
        .filter((text) => text !== '')
        .map((text) => JSON.parse(text) as Record<string, unknown>);

    // Plain TCP to the TLS port.
    expect((await run('send', port, '1', '--timeout', '2000')).code).toBe(1);
    await server.until(() => (failures().length >= 1 ? true : undefined), 8000, 'a failure line');
    // A client with no certificate, where the listener asks for one signed by --tls-ca.
    expect((await run('send', address as string, '1', '--tls-ca', join(serverKey.dir, 'node.crt'))).code).toBe(1);
    await server.until(() => (failures().length >= 2 ? true : undefined), 8000, 'a second failure line');
    for (const failure of failures()) {
      expect(failure).toEqual({
        event: 'failure',
        error: 'CONNECTION_ERROR',
        detail: jasmine.stringMatching(/TLS handshake/),
        address: jasmine.stringMatching(/^127\.0\.0\.1:\d+$/),
      });
    }
    expect(server.lines.filter(event('connectionRequest'))).toEqual([]);
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

  it('send to a listener that rejects (--accept none): "not delivered" on stderr, exit 1, never "sent"', async () => {
    const server = cli('listen', '--id', 'server', '--accept', 'none');
    const { address } = await server.line(event('listening'));
    for (let i = 0; i < 3; i++) {
      const result = await run('send', address as string, '"are you there"');
      expect(result.code).withContext(result.stderr).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^msgpacknet: error: not delivered: .*${address as string} \\("server"\\)`));
      expect(result.stderr).not.toContain('sent 1 message');
    }
    expect(server.lines.filter(event('message'))).toEqual([]);
  });

  it('send to --accept prompt: answered n is "not delivered" (exit 1); answered y is "sent" (exit 0)', async () => {
    const server = cli('listen', '--id', 'server', '--accept', 'prompt');
    const { address } = await server.line(event('listening'));
    const refused = cli('send', address as string, '"are you there"', '--wait', '5000');
    refused.child.stdin.end();
    await server.stderrShows('accept the connection');
    server.type('n');
    expect(await refused.exited)
      .withContext(refused.stderr)
      .toBe(1);
    expect(refused.stderr).toContain('not delivered');
    expect(refused.stderr).not.toContain('sent 1 message');

    server.stderr = '';
    const welcome = cli('send', address as string, '"welcome"', '--wait', '2000');
    welcome.child.stdin.end();
    await server.stderrShows('accept the connection');
    server.type('y');
    expect(await welcome.exited)
      .withContext(welcome.stderr)
      .toBe(0);
    expect(welcome.stderr).toBe('msgpacknet: sent 1 message to "server"\n');
    expect((await server.line(event('message'))).message).toBe('welcome');
    expect(server.lines.filter(event('message')).length).toBe(1);
  }, 20_000);

  it('--accept prompt: the id is shown once, an answer other than y or n asks again, n prints a rejected line', async () => {
    const server = cli('listen', '--id', 'server', '--accept', 'prompt');
    const { address } = await server.line(event('listening'));
    const client = cli('send', address as string, '"hello"', '--id', 'alice', '--wait', '5000');
    client.child.stdin.end();
    await server.stderrShows('accept the connection');
    expect(server.stderr).toContain('from "alice" at');
    expect(server.stderr).not.toContain('\\"alice\\"');
    server.stderr = '';
    server.type('maybe');
    await server.stderrShows('answer y or n');
    server.type('n');
    expect((await server.line(event('rejected'))).nodeId).toBe('alice');
    expect(await client.exited).toBe(1);
    expect(server.lines.filter(event('message')).length).toBe(0);
  }, 20_000);

  it('an unknown option names it and points to --help (exit 2); --version prints the version', async () => {
    const unknown = await run('listen', '--frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('msgpacknet: unknown option --frobnicate; run msgpacknet listen --help\n');
    const version = await run('--version');
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('connect with piped stdin: lines read before the connection is up wait for it, and the end of stdin ends it (exit 0)', async () => {
    const server = cli('listen', '--id', 'server');
    const { address } = await server.line(event('listening'));
    const client = cli('connect', address as string, '--id', 'piped');
    client.child.stdin.end('"a"\n"b"\n{"to": "server", "message": 3}\n');
    const code = await Promise.race([client.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 8000))]);
    expect(code).withContext(client.stderr).toBe(0);
    expect(client.stderr).not.toContain('not sent');
    expect(client.lines.find(event('disconnected'))).toEqual(jasmine.objectContaining({ nodeId: 'server', reason: 'closed' }));
    await server.line(event('disconnected'));
    expect(server.lines.filter(event('message')).map((line) => line.message)).toEqual(['a', 'b', 3]);
    expect(server.lines.find(event('disconnected'))).toEqual(jasmine.objectContaining({ nodeId: 'piped', reason: 'remote-closed' }));
  });

  it('connect --retry outlives a server restart: it waits for the server, reconnects after it restarts, and messages flow again', async () => {
    // No server yet on this port: the client retries with backoff.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const address = `127.0.0.1:${port}`;
    const client = cli('connect', address, '--retry', '--max-delay', '400', '--id', 'client');
    await client.line((line) => line.event === 'link' && line.state === 'disconnected' && line.error === 'CONNECTION_ERROR');
    client.type('"sent while down"');

    const first = cli('listen', address, '--id', 'server');
    await first.line(event('listening'));
    // The line typed while no server was up went as soon as the link was up.
    expect((await first.line(event('message'), 10_000)).message).toBe('sent while down');
    await client.line((line) => line.event === 'link' && line.state === 'connected');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(await client.line((line) => line.event === 'link' && line.state === 'disconnected' && line.reason !== 'error')).toEqual(
      jasmine.objectContaining({ reason: 'remote-closed', retryIn: jasmine.any(Number) }),
    );

    const second = cli('listen', address, '--id', 'server');
    await second.line(event('listening'));
    await second.line(event('connected'), 10_000);
    await client.line((line) => line.event === 'link' && line.state === 'connected' && line.nodeId === 'server', 10_000);
    client.type('"after the restart"');
    expect((await second.line(event('message'))).message).toBe('after the restart');
    // The client outlived the restart; stdin's end closes it gracefully (exit 0).
    client.child.stdin.end();
    expect(await client.exited).toBe(0);
    expect((await second.line(event('disconnected'))).reason).toBe('remote-closed');
    expect(client.lines.filter((line) => line.event === 'link' && line.state === 'connecting').length).toBeGreaterThanOrEqual(3);
  });

  it('connect --retry: a failed attempt prints its error code and its message', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const client = cli('connect', `127.0.0.1:${port}`, '--retry', '--max-delay', '400');
    const failed = await client.line((line) => line.event === 'link' && line.state === 'disconnected');
    expect(failed).toEqual(
      jasmine.objectContaining({ error: 'CONNECTION_ERROR', detail: jasmine.stringMatching(`127\\.0\\.0\\.1:${port}`) }),
    );
    client.child.kill('SIGTERM');
    expect(await client.exited).toBe(0);
  });

  it('--retry and --max-delay: usage errors where they do not apply (exit 2)', async () => {
    expect((await run('listen', '--retry')).code).toBe(2);
    const lonely = await run('connect', '127.0.0.1:1', '--max-delay', '100');
    expect(lonely.code).toBe(2);
    expect(lonely.stderr).toContain('--max-delay goes with --retry');
  });

  it('a value that looks like JSON but is not is a usage error (exit 2), not a string; --string sends text as it is', async () => {
    const server = cli('listen', '--id', 'server');
    const { address } = await server.line(event('listening'));
    const bad = await run('send', address as string, '{bad json');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      `msgpacknet: message 1: "{bad json" is not valid JSON (${jsonError('{bad json')}); to pass it as a string, write it as a JSON string: '"{bad json"', or send every value as a string with --string\n`,
    );
    const id = await run('send', address as string, '1', '--id', '{"a":');
    expect(id.code).toBe(2);
    expect(id.stderr).toContain('msgpacknet: --id: "{\\"a\\":" is not valid JSON');
    for (const args of [['--init', '[1,'], ['1.2.3'], ['']]) {
      const result = await run('send', address as string, ...(args.length === 1 ? args : ['1', ...args]));
      expect(result.code).withContext(args.join(' ')).toBe(2);
      expect(result.stderr).toContain('is not valid JSON');
    }
    const connectId = await run('connect', address as string, '--id', '[1,2');
    expect(connectId.code).toBe(2);
    expect(server.lines.filter(event('connectionRequest'))).toEqual([]);

    const text = await run('send', address as string, '--string', '{bad json', '42');
    expect(text.code).withContext(text.stderr).toBe(0);
    await server.line((line) => line.event === 'message' && line.message === '42');
    // Words, phrases and hex ids (keygen's) are strings still.
    const words = await run('send', address as string, 'hello world', '671e80ab', '--id', '9f3e2a');
    expect(words.code).withContext(words.stderr).toBe(0);
    await server.line((line) => line.event === 'message' && line.message === '671e80ab');
    expect(server.lines.filter(event('message')).map((line) => line.message)).toEqual(['{bad json', '42', 'hello world', '671e80ab']);
    expect(server.lines.filter(event('message')).at(-1)!.from).toBe('9f3e2a');
  });

  it('a peer that is not a msgpacknet node (silent, or speaking HTTP): the error names its address', async () => {
    const silent = createServer(() => undefined);
    const http = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const servers = [silent, http];
    for (const server of servers) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const [quiet, talker] = servers.map((server) => `127.0.0.1:${(server.address() as { port: number }).port}`) as [string, string];
    try {
      const timeout = await run('connect', quiet, '--timeout', '300');
      expect(timeout.code).toBe(1);
      expect(timeout.stderr).toMatch(/^msgpacknet: error: TIMEOUT: /);
      expect(timeout.stderr).toContain(`is ${quiet} a msgpacknet node?`);
      expect(timeout.stderr.trim().split('\n').length).toBe(1);
      for (const args of [
        ['connect', talker],
        ['send', talker, '1'],
      ]) {
        const result = await run(...args);
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/^msgpacknet: error: READ_ERROR: /);
        // The address once in the reason (the decoder's error names it), then the hint.
        expect(result.stderr).toContain(`READ_ERROR: from ${talker}: `);
        expect(result.stderr).toContain(`; is ${talker} a msgpacknet node?`);
      }
      const sendTimeout = await run('send', quiet, '1', '--timeout', '300');
      expect(sendTimeout.stderr).toContain(`is ${quiet} a msgpacknet node?`);
    } finally {
      for (const server of servers) server.close();
    }
  });

  it('the demo view fits the terminal: the header stays, the connections and events that fit, no line wider than it', () => {
    const header = ['title', '', 'columns'];
    const connections = Array.from({ length: 12 }, (_, i) => `connection ${i}`);
    const events = Array.from({ length: 10 }, (_, i) => `event ${i} ${'x'.repeat(100)}`);
    const fitted = fitView(header, connections, events, 20, 40);
    expect(fitted.length).toBe(19);
    expect(fitted.slice(0, 15)).toEqual([...header, ...connections]);
    expect(fitted.slice(15, 17)).toEqual(['', 'events:']);
    expect(fitted.slice(17).map((text) => text.slice(0, 7))).toEqual(['event 8', 'event 9']);
    expect(Math.max(...fitted.map((text) => text.length))).toBe(39);
    const small = fitView(header, connections, events, 10, 200);
    expect(small).toEqual([...header, ...connections.slice(0, 5), '... 7 more connections']);
    expect(fitView(header, connections, events, 100, 200).length).toBe(3 + 12 + 2 + 10);
  });

  it('a port in use: one line on stderr, exit 1, no stack trace', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const result = await run('listen', `127.0.0.1:${port}`);
      expect(result.code).toBe(1);
      // The node never ran: no closing/closed lines before the error.
      expect(result.stdout).toBe('');
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
    // Every message sent is received, but for those in flight to the node that went down (told apart).
    const [, sent, received, inFlight] =
      /messages sent (\d+), received (\d+), lost 0, out of order 0\n\s+(\d+) were in flight/.exec(result.stdout) ?? [];
    expect(Number(sent)).toBe(Number(received) + Number(inFlight));
    expect(result.stdout).not.toContain('\x1b[');
  }, 20_000);

  it('demo: the node that goes down and is restarted comes back by itself (its links heal), and nothing is lost on healthy links', async () => {
    const result = await run('demo', '--seconds', '4', '--nodes', '3');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/node-c went down and was restarted: 2 links healed by themselves, in \d+\.\d s at most/);
    expect(result.stdout).toMatch(/lost 0, out of order 0/);
    // The last view, drawn as the run ends, shows the mesh whole again.
    const progress = result.stdout.split('\n').filter((line) => /^\d+\.\ds: /.test(line));
    expect(progress.at(-1)).toMatch(/: 3 connections,/);
  }, 20_000);

  it("demo --metrics: serves the nodes' metrics for Prometheus while it runs, then stops serving", async () => {
    const demo = cli('demo', '--seconds', '4', '--nodes', '3', '--metrics', '0');
    demo.child.stdin.end();
    const announced = await demo.line((line) => typeof line['text'] === 'string' && line['text'].startsWith('metrics: '));
    const url = /^metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics) \(Prometheus\)$/.exec(announced['text'] as string)?.[1];
    expect(url).withContext(String(announced['text'])).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const text = await (await fetch(url!)).text();
    const value = (pattern: RegExp): number =>
      text
        .split('\n')
        .filter((line) => pattern.test(line))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    expect(value(/^msgpacknet_connection_count\{/))
      .withContext(text)
      .toBe(6); // 3 connections, counted on both ends
    expect(value(/^msgpacknet_message_count_total\{.*network_io_direction="receive"/)).toBeGreaterThan(0);
    expect(value(/^msgpacknet_io_total\{.*network_io_direction="transmit"/)).toBeGreaterThan(0);
    expect(await demo.exited).toBe(0);
    await expectAsync(fetch(url!)).toBeRejected(); // no longer served
    expect((await run('demo', '--metrics', 'x')).code).toBe(2);
  }, 20_000);
});
