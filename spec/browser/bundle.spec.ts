// The browser build as an app's bundler sees it: `import { Node } from 'msgpacknet'` bundled by esbuild
// for the browser, resolved through the package's exports (the `browser` condition), from a project that
// has msgpacknet in its node_modules. Nothing from Node.js may be reached; the bundle then runs in a
// context without Node's globals and talks to a real Node.js node over ws:// on 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { build, type Message, type Metafile } from 'esbuild';
import { WebSocket } from 'ws';
import { EventLog, makeNode } from '../helpers/nodes.js';

const repo = resolve('.');
const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Bundles `entry` (in `dir`) for the browser as an app would; never throws: the errors, and every module path reached. */
async function bundleForBrowser(
  dir: string,
  entry: string,
): Promise<{ errors: string[]; inputs: string[]; imports: string[]; code: string }> {
  try {
    const result = await build({
      absWorkingDir: dir,
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      metafile: true,
      write: false,
      logLevel: 'silent',
      nodePaths: [join(repo, 'node_modules')], // rxjs, as the app's own dependency
    });
    return { errors: [], ...reached(result.metafile), code: result.outputFiles[0]!.text };
  } catch (error) {
    return { errors: (error as { errors: Message[] }).errors.map((message) => message.text), inputs: [], imports: [], code: '' };
  }
}

function reached(metafile: Metafile): { inputs: string[]; imports: string[] } {
  const inputs = Object.keys(metafile.inputs);
  const imports = Object.values(metafile.inputs).flatMap((input) => input.imports.map((imported) => imported.path));
  return { inputs, imports };
}

/** Node's modules among the paths a bundle reached: any is a failure. */
const nodeModulesIn = (paths: string[]): string[] => paths.filter((path) => path.startsWith('node:') || BUILTINS.has(path));

describe('the browser bundle (esbuild --platform=browser, through the package exports)', () => {
  let app: string;

  beforeAll(() => {
    // What `npm run build` does after tsc: dist/browser/index.js from the current lib/.
    execFileSync(process.execPath, ['scripts/build-browser.mjs'], { cwd: repo, stdio: 'pipe' });
    app = mkdtempSync(join(tmpdir(), 'msgpacknet-browser-'));
    mkdirSync(join(app, 'node_modules'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    symlinkSync(repo, join(app, 'node_modules/msgpacknet'), 'dir');
  }, 60_000);

  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it("resolves 'msgpacknet' and 'msgpacknet/browser' to dist/browser/index.js, and reaches no Node.js module", async () => {
    writeFileSync(
      join(app, 'imports.js'),
      `import { Node, decodeFrames, webSocketTransport } from 'msgpacknet';
import * as sub from 'msgpacknet/browser';
console.log(Node, decodeFrames, webSocketTransport, sub.Node === Node);`,
    );
    const { errors, inputs, imports } = await bundleForBrowser(app, 'imports.js');
    expect(errors).toEqual([]);
    expect(inputs.filter((path) => path.endsWith('dist/browser/index.js')).length).toBe(1);
    expect(inputs.filter((path) => path.includes('dist/lib/'))).toEqual([]);
    expect(nodeModulesIn([...inputs, ...imports])).toEqual([]);
    expect(inputs.some((path) => path.includes('node_modules/rxjs/'))).toBeTrue(); // external in the build, bundled by the app
  });

  it('fails for the Node.js entry: bundling dist/lib/index.js for the browser stops at node: modules', async () => {
    // The exports map does not expose that path: bundle the file itself, as a bundler without the condition would.
    const { errors } = await bundleForBrowser(repo, 'dist/lib/index.js');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.filter((text) => /^Could not resolve "node:/.test(text)).length).toBeGreaterThan(0);
  });

  it('runs without Node.js globals: a Node over the (injected) WebSocket talks to a Node.js node over ws://', async () => {
    const server = makeNode({ nodeId: 'node-side' });
    const serverLog = new EventLog(server);
    server.events$.subscribe((event) => {
      if (event.type === 'connectionRequest') event.request.accept();
      if (event.type === 'message') server.send(event.from, ['echo', event.message]);
    });
    const address = await server.listen('ws://127.0.0.1:0/bundle');
    writeFileSync(
      join(app, 'page.js'),
      `import { Node, NetError, decodeFrames, encodeFrames } from 'msgpacknet';
import { from, lastValueFrom, toArray } from 'rxjs';
globalThis.result = (async () => {
  const node = new Node({ nodeId: 'bundled-page' });
  const listened = await node.listen('ws://127.0.0.1:0/').then(() => 'listened', (error) => error.code);
  const reply = new Promise((resolve) => node.events$.subscribe((event) => event.type === 'message' && resolve(event.message)));
  const server = await node.connect(globalThis.serverAddress);
  node.send(server, { hello: 'from the bundle', bytes: Uint8Array.of(1, 2, 3) });
  const message = await reply;
  const values = await lastValueFrom(from([[1, 'two']]).pipe(encodeFrames(), decodeFrames(), toArray()));
  const stats = node.stats().connections[0];
  await node.close();
  return JSON.stringify({ server, listened, message, values, wrote: stats.writeTotal > 0, code: new NetError('TIMEOUT', 'late').code });
})();`,
    );
    const { errors, code } = await bundleForBrowser(app, 'page.js');
    expect(errors).toEqual([]);
    // What a page has, and no process, require, Buffer, setImmediate. WebSocket: the ws package's class,
    // without pause() and resume() (a browser's cannot pause).
    const BrowserWebSocket = function (url: string): WebSocket {
      return Object.assign(new WebSocket(url), { pause: undefined, resume: undefined });
    };
    const context: Record<string, unknown> = {
      console,
      TextEncoder,
      TextDecoder,
      crypto: globalThis.crypto,
      performance,
      queueMicrotask,
      setTimeout,
      clearTimeout,
      setInterval,
      clearInterval,
      AbortController,
      AbortSignal,
      EventTarget,
      Event,
      WebSocket: BrowserWebSocket,
      serverAddress: address,
    };
    runInNewContext(code, context);
    const result = JSON.parse(await (context['result'] as Promise<string>)) as Record<string, unknown>;
    expect(result).toEqual({
      server: 'node-side',
      listened: 'OPEN_ERROR',
      message: ['echo', { hello: 'from the bundle', bytes: { 0: 1, 1: 2, 2: 3 } }],
      values: [[1, 'two']],
      wrote: true,
      code: 'TIMEOUT',
    });
    const disconnected = await serverLog.next('disconnected');
    expect(disconnected.nodeId).toBe('bundled-page');
    expect(disconnected.reason).toBe('remote-closed');
  });
});
