// examples/browser/ as a person uses it: its server (as `npm run example:browser` builds and starts it),
// and the page loaded in headless Chromium, driven over the DevTools protocol (--remote-debugging-pipe):
// a line typed at the server shows on the page, a line typed on the page reaches the server, and a
// screenshot of the page is kept as .test-results/browser-example.png.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { build } from 'esbuild';
import { sleep } from '../helpers/nodes.js';

const CHROMIUM = process.env['CHROME_BIN'] ?? '/usr/bin/chromium';

/** A DevTools protocol client over Chromium's --remote-debugging-pipe (fd 3: commands in, fd 4: replies and events out, NUL-separated JSON). */
class DevTools {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  private buffered = '';

  constructor(
    private readonly input: Writable,
    output: Readable,
  ) {
    output.setEncoding('utf8');
    output.on('data', (text: string) => {
      this.buffered += text;
      for (let end = this.buffered.indexOf('\0'); end >= 0; end = this.buffered.indexOf('\0')) {
        const message = JSON.parse(this.buffered.slice(0, end)) as { id?: number; result?: unknown; error?: { message: string } };
        this.buffered = this.buffered.slice(end + 1);
        const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
        if (!waiter) continue; // an event
        this.pending.delete(message.id!);
        if (message.error) waiter.reject(new Error(message.error.message));
        else waiter.resolve(message.result);
      }
    });
  }

  send<T = Record<string, unknown>>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }
}

/** Lines a process prints, kept, and waited for. */
class Lines {
  readonly all: string[] = [];
  constructor(stream: Readable) {
    createInterface({ input: stream }).on('line', (line) => this.all.push(line));
  }
  async match(pattern: RegExp, ms = 15_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (const line of this.all) {
        const found = pattern.exec(line);
        if (found) return found;
      }
      if (Date.now() > deadline) throw new Error(`no line matching ${String(pattern)}; printed: ${this.all.join(' | ')}`);
      await sleep(25);
    }
  }
}

describe('examples/browser: the chat page in headless Chromium, served by a msgpacknet node', () => {
  let server: ChildProcess | undefined;
  let chromium: ChildProcess | undefined;
  let profile: string;

  beforeAll(async () => {
    // What `npm run example:browser` does after `npm run build`: the browser build, then the server program.
    execFileSync(process.execPath, ['scripts/build-browser.mjs'], { stdio: 'pipe' });
    await build({
      entryPoints: ['examples/browser/server.ts'],
      outfile: 'build/run/browser-example.mjs',
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      logLevel: 'warning',
    });
    profile = mkdtempSync(join(tmpdir(), 'msgpacknet-chromium-'));
  }, 60_000);

  afterEach(() => {
    // Both exit by themselves once the spec is through; a failed one may leave them running.
    if (chromium?.exitCode === null) chromium.kill('SIGKILL');
    server?.kill('SIGTERM');
    chromium = server = undefined;
  });

  afterAll(() => rmSync(profile, { recursive: true, force: true }));

  it('type-checks, strict, against the published types (the page with the DOM, the server with Node.js)', () => {
    expect(() =>
      execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'examples/browser/tsconfig.json'], { stdio: 'pipe' }),
    ).not.toThrow();
  }, 60_000);

  it('shows what the server says, sends what is typed on the page, and looks right (screenshot)', async () => {
    server = spawn(process.execPath, ['build/run/browser-example.mjs'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const printed = new Lines(server.stdout!);
    const [, url, wsAddress] = await printed.match(
      /^open (http:\/\/127\.0\.0\.1:\d+\/) in a browser \(the chat node listens on (ws:\/\/\S+)\)$/,
    );

    chromium = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
        `--user-data-dir=${profile}`,
        '--remote-debugging-pipe',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    chromium.stderr!.resume();
    const devtools = new DevTools(chromium.stdio[3] as Writable, chromium.stdio[4] as Readable);
    const { targetId } = await devtools.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await devtools.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    const page = <T = Record<string, unknown>>(method: string, params: object = {}): Promise<T> =>
      devtools.send<T>(method, params, sessionId);
    const evaluate = async <T>(expression: string): Promise<T> =>
      (await page<{ result: { value: T } }>('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })).result.value;
    const waitFor = async <T>(expression: string, what: string, ms = 15_000): Promise<T> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const value = await evaluate<T>(expression);
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`the page did not show ${what} within ${ms} ms`);
        await sleep(50);
      }
    };
    const listed = (): Promise<string[]> =>
      evaluate<string[]>(`[...document.querySelectorAll('#messages li')].map((li) => li.textContent)`);

    await page('Emulation.setDeviceMetricsOverride', { width: 900, height: 600, deviceScaleFactor: 1, mobile: false });
    await page('Page.navigate', { url });
    const status = await waitFor<string>(
      `document.querySelector('#status')?.className === 'connected' && document.querySelector('#status').textContent`,
      'connected',
    );
    const [, pageId] = /^connected as (page-[0-9a-f]{8}) to (ws:\/\/\S+)$/.exec(status) ?? [];
    expect(status).toBe(`connected as ${pageId} to ${wsAddress}`);
    await printed.match(new RegExp(`^${pageId} joined$`));
    const members = await waitFor<string[]>(
      `(() => { const ids = [...document.querySelectorAll('#members li')].map((li) => li.textContent); return ids.length === 2 && ids; })()`,
      'the members',
    );
    expect(members).toEqual(['chat-server', `${pageId} (you)`]);

    // The server side sends: a line typed at the server shows on the page.
    server.stdin!.write('hello from the terminal\n');
    await waitFor<boolean>(
      `[...document.querySelectorAll('#messages li')].some((li) => li.textContent === 'server:hello from the terminal')`,
      "the server's line",
    );

    // The page sends: typed into the input and sent with the button, it reaches the server, which relays it back.
    await evaluate(`document.querySelector('#text').focus()`);
    await page('Input.insertText', { text: 'hi from Chromium' });
    await evaluate(`document.querySelector('#send').click()`);
    await printed.match(new RegExp(`^${pageId}: hi from Chromium$`));
    await waitFor<boolean>(
      `document.querySelector('#messages li.mine')?.textContent === '${pageId}:hi from Chromium'`,
      'its own line, relayed',
    );
    expect(await listed()).toEqual(['server:hello from the terminal', `${pageId}:hi from Chromium`]);
    expect(await evaluate<string>(`document.querySelector('#text').value`)).toBe('');

    // What a person sees.
    const { data } = await page<{ data: string }>('Page.captureScreenshot', { format: 'png' });
    const png = Buffer.from(data, 'base64');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.readUInt32BE(16)).toBe(900); // the IHDR's width
    mkdirSync('.test-results', { recursive: true });
    writeFileSync('.test-results/browser-example.png', png);

    // Closing the tab: the page's node goes away, and the server sees it leave.
    await devtools.send('Target.closeTarget', { targetId });
    await printed.match(new RegExp(`^${pageId} left \\(remote-closed\\)$`));
    const exited = new Promise((resolve) => chromium!.once('exit', resolve));
    await devtools.send('Browser.close');
    await exited;
  }, 90_000);
});
