// The npm package as a user gets it: `npm pack`, installed from the tarball into fresh projects.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { runInNewContext } from 'node:vm';

/** The oldest rxjs a project of ours is pinned to: the peer range's floor is 7.5.5 (the first with `types` in `exports`). */
const OLD_RXJS = '7.5.7';

const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
const node = (args: string[], cwd: string): string =>
  execFileSync(process.execPath, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
const tsc = (project: string): string => node([resolve('node_modules/typescript/bin/tsc'), '-p', project], resolve('.'));
const install = (cwd: string, specs: string[]): string =>
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--save-exact', ...specs], cwd);
const version = (packageDir: string): string =>
  (JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string }).version;

/** Every file under `dir`, relative to it. */
const walk = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1));

/** The README's marble example over idleTimeout, as the README shows it. */
function readmeMarbleExample(): string {
  const readme = readFileSync('README.md', 'utf8');
  const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((match) => match[1]!)
    .find((code) => code.includes('TestScheduler') && code.includes('idleTimeout'));
  if (block === undefined) throw new Error('the README has no marble example over idleTimeout');
  return block;
}

describe('the npm package', () => {
  let dir: string;
  let tarball: string;
  let packedPaths: string[];
  /** A module project pinned to an older rxjs, with the tarball installed; cjs/ in it is a CommonJS project. */
  let app: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'msgpacknet-pack-'));
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], resolve('.'))) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarball = join(dir, packed!.filename);
    packedPaths = packed!.files.map((file) => file.path);

    app = join(dir, 'app');
    mkdirSync(join(app, 'cjs'), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    writeFileSync(join(app, 'cjs/package.json'), JSON.stringify({ type: 'commonjs' }));
    install(app, [`rxjs@${OLD_RXJS}`, tarball]);
  }, 180_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ships dist/lib, dist/browser, the README, the changelog and the license only: no benchmark, and source maps that carry their sources', () => {
    expect(packedPaths).toContain('dist/lib/index.js');
    expect(packedPaths).toContain('dist/lib/index.d.ts');
    expect(packedPaths).toContain('dist/lib/browser.js');
    expect(packedPaths).toContain('dist/lib/browser.d.ts');
    expect(packedPaths).toContain('dist/browser/index.js'); // the browser build (the `browser` export condition)
    expect(packedPaths).toContain('README.md');
    expect(packedPaths).toContain('CHANGELOG.md');
    expect(packedPaths.filter((path) => !/^(dist\/(lib|browser)\/|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$)/.test(path))).toEqual(
      [],
    );
    expect(packedPaths.filter((path) => /bench/i.test(path))).toEqual([]);

    // Every map a stack trace or a debugger follows has its TypeScript inside (lib/ is not shipped).
    const installed = join(app, 'node_modules/msgpacknet');
    const maps = walk(installed).filter((path) => path.endsWith('.map'));
    expect(maps.filter((path) => !path.endsWith('.js.map'))).toEqual([]); // no declaration maps: they would point to lib/
    expect(maps.length).toBe(walk(installed).filter((path) => path.endsWith('.js')).length);
    for (const path of maps) {
      const map = JSON.parse(readFileSync(join(installed, path), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      expect(map.sourcesContent?.length).withContext(path).toBe(map.sources.length);
      expect(map.sourcesContent?.every((source) => typeof source === 'string' && source.length > 0))
        .withContext(path)
        .toBeTrue();
    }
  });

  it('takes rxjs as a peer: alone in an empty folder npm installs one rxjs next to it, and a node runs, and the executable', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'package.json'), JSON.stringify({ name: 'empty', private: true, type: 'module' }));
    install(empty, [tarball]);
    expect(existsSync(join(empty, 'node_modules/rxjs/package.json'))).toBeTrue();
    expect(existsSync(join(empty, 'node_modules/msgpacknet/node_modules/rxjs'))).toBeFalse();
    writeFileSync(
      join(empty, 'main.js'),
      `import { Node, decodeFrames, NetError } from 'msgpacknet';
const node = Node.createDefault();
node.send(node.nodeId, 'packed');
const event = await node.receive({ timeout: 1000 });
await node.close();
console.log(event.message, typeof decodeFrames, typeof NetError);`,
    );
    expect(node(['main.js'], empty).trim()).toBe('packed function function');
    // the executable is installed too, as `npx msgpacknet` finds it
    expect(execFileSync(join(empty, 'node_modules/.bin/msgpacknet'), ['--help'], { encoding: 'utf8' })).toContain('usage: msgpacknet');
  }, 60_000);

  it(`shares the project's rxjs ${OLD_RXJS}: the README's marble example over idleTimeout passes on the project's TestScheduler`, () => {
    expect(version(join(app, 'node_modules/rxjs'))).toBe(OLD_RXJS);
    expect(existsSync(join(app, 'node_modules/msgpacknet/node_modules'))).toBeFalse(); // no second rxjs
    writeFileSync(join(app, 'marbles.js'), readmeMarbleExample());
    expect(node(['marbles.js'], app).trim()).toBe('marbles match');
  }, 30_000);

  it(`type-checks .pipe(decodeFrames()) and friends against the project's rxjs ${OLD_RXJS} (tsc strict, the installed types)`, () => {
    writeFileSync(
      join(app, 'check.ts'),
      `import { from, type Observable, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { decodeFrames, encodeFrames, handshake, idleTimeout, type Handshake } from 'msgpacknet';
import { decodeFrames as decodeInBrowser } from 'msgpacknet/browser';

const values: Observable<unknown> = from([Uint8Array.of(0x92, 0x07, 0x01)]).pipe(decodeFrames());
const handshakes: Observable<Handshake<number, string>> = from([Uint8Array.of(0x92, 0x07, 0xa1, 0x61)]).pipe(
  decodeFrames({ maxValueBytes: 1024 }),
  handshake<number, string>(),
);
const frames: Observable<Uint8Array> = from([[7, 1]]).pipe(encodeFrames());
const operator: OperatorFunction<Uint8Array, unknown> = decodeInBrowser();
const scheduler = new TestScheduler(() => undefined);
const idle: Observable<number> = from([1]).pipe(idleTimeout({ each: 3, scheduler }));
export { values, handshakes, frames, operator, idle };
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'esnext.disposable', 'dom'],
          typeRoots: [resolve('node_modules/@types')], // @types/node, as a Node project has it
          types: ['node'],
        },
        files: ['check.ts'],
      }),
    );
    expect(() => tsc(join(app, 'tsconfig.json'))).not.toThrow();

    // and the check can fail: a wrong limit type is caught
    writeFileSync(join(app, 'check.ts'), `import { decodeFrames } from 'msgpacknet';\ndecodeFrames({ maxValueBytes: '1k' });\n`);
    let output = '';
    try {
      tsc(join(app, 'tsconfig.json'));
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output).toContain('TS2322');
  }, 60_000);

  it(`is require()d from CommonJS on Node ${process.versions.node}, in JavaScript and in TypeScript compiled to CommonJS`, () => {
    const cjs = join(app, 'cjs');
    writeFileSync(
      join(cjs, 'plain.js'),
      `const { Node, NetError, nodeIdKey } = require('msgpacknet');
const browser = require('msgpacknet/browser');
const node = Node.createDefault();
node.send(node.nodeId, 'required');
node.receive({ timeout: 1000 }).then(async (event) => {
  await node.close();
  console.log(event.message, typeof NetError, nodeIdKey('a'), typeof browser.decodeFrames, 'Node' in browser);
});`,
    );
    // On Node.js, msgpacknet/browser is the same code with the Node.js transports: it has the Node too.
    expect(node(['plain.js'], cjs).trim()).toBe('required function sa function true');

    writeFileSync(
      join(cjs, 'typed.ts'),
      `import { Node, isNetError } from 'msgpacknet';
const node = Node.createDefault<string>();
node.send(node.nodeId, 'typed');
void node.receive({ timeout: 1000 }).then(async (event) => {
  await node.close();
  if (event.type === 'message') console.log(event.message, isNetError(new Error('not one')));
});
`,
    );
    writeFileSync(
      join(cjs, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'esnext.disposable'],
          skipLibCheck: true, // as \`tsc --init\` writes it (spec/packaging/userTypes.spec.ts checks without)
          typeRoots: [resolve('node_modules/@types')],
          types: ['node'],
        },
        files: ['typed.ts'],
      }),
    );
    tsc(join(cjs, 'tsconfig.json'));
    expect(readFileSync(join(cjs, 'typed.js'), 'utf8')).toContain('require("msgpacknet")');
    expect(node(['typed.js'], cjs).trim()).toBe('typed false');
  }, 60_000);

  it('bundles msgpacknet/browser with esbuild --platform=browser, no node: import reached, and the bundle runs without Node', async () => {
    writeFileSync(
      join(app, 'browser-entry.js'),
      `import { from, lastValueFrom, toArray } from 'rxjs';
import { decodeFrames, encodeFrames, randomNodeId, DecayingRate, NetError, DEFAULT_MAX_VALUE_BYTES } from 'msgpacknet/browser';
globalThis.result = lastValueFrom(
  from([[7, randomNodeId().length], 'hi', Uint8Array.of(1, 2)]).pipe(encodeFrames(), decodeFrames(), toArray()),
).then((values) => JSON.stringify([values, typeof DecayingRate, new NetError('TIMEOUT', 'late').code, DEFAULT_MAX_VALUE_BYTES]));`,
    );
    const bundled = await build({
      absWorkingDir: app,
      entryPoints: ['browser-entry.js'],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    const imports = Object.values(bundled.metafile.inputs).flatMap((input) => input.imports.map((imported) => imported.path));
    expect(imports.filter((path) => path.startsWith('node:') || /^(net|tls|dns|crypto|fs)$/.test(path))).toEqual([]);
    expect(Object.keys(bundled.metafile.inputs).filter((path) => path.includes('msgpacknet/dist/lib/transport/tcp'))).toEqual([]);

    // A context with only what a browser has too: no process, require, Buffer.
    const context: Record<string, unknown> = { console, TextEncoder, TextDecoder, crypto: globalThis.crypto, setTimeout, clearTimeout };
    runInNewContext(bundled.outputFiles[0]!.text, context);
    expect(await (context['result'] as Promise<string>)).toBe(`[[[7,32],"hi",{"0":1,"1":2}],"function","TIMEOUT",${4 * 1024 * 1024}]`);

    // the Node.js entry reaches node:net and friends, so it does not bundle for a browser (a bundler gets the
    // browser build through the `browser` condition instead; spec/browser/bundle.spec.ts bundles that)
    writeFileSync(join(app, 'main-entry.js'), `import { Node } from './node_modules/msgpacknet/dist/lib/index.js';\nconsole.log(Node);\n`);
    let errors: string[] = [];
    try {
      await build({
        absWorkingDir: app,
        entryPoints: ['main-entry.js'],
        bundle: true,
        platform: 'browser',
        write: false,
        logLevel: 'silent',
      });
    } catch (error) {
      errors = (error as { errors: { text: string }[] }).errors.map((message) => message.text);
    }
    expect(errors).toContain('Could not resolve "node:net"');
  }, 30_000);
});
