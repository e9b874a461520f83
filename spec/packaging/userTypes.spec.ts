// The public types as a user's strict `tsc` sees them: without `skipLibCheck`, every .d.ts the package
// reaches is checked too. Two user projects get the packed tarball: a Node.js one (`lib: ["es2022"]` and
// @types/node) and a browser one (`lib: ["es2022", "dom"]`, no @types/node). No registry is asked: the
// tarball is unpacked into each project's node_modules, beside links to this repository's own copies of
// its dependencies.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** What a project's `tsc` printed, and whether it passed. */
interface TscResult {
  readonly ok: boolean;
  readonly output: string;
}

/** Runs this repository's TypeScript on `project` (a tsconfig.json). */
function tsc(project: string, ...args: string[]): TscResult {
  try {
    const output = execFileSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', project, ...args], {
      cwd: dirname(project), // file names in errors relative to the project
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    return { ok: true, output };
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${stdout ?? ''}${stderr ?? ''}` };
  }
}

/** The error lines of a tsc output (`file(line,col): error TSnnnn: ...`). */
const errorLines = (output: string): string[] => output.split('\n').filter((line) => / error TS\d+:/.test(line));

/** A user project in `dir`: the tarball unpacked as node_modules/msgpacknet, and `links` to this repository's node_modules. */
function makeProject(dir: string, tarball: string, links: string[], compilerOptions: Record<string, unknown>): void {
  const installed = join(dir, 'node_modules/msgpacknet');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], { stdio: 'ignore' });
  for (const name of links) {
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true });
    symlinkSync(resolve('node_modules', name), join(dir, 'node_modules', name), 'dir');
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user', private: true, type: 'module' }));
  const tsconfig = (file: string) =>
    JSON.stringify({
      compilerOptions: {
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        target: 'es2022',
        typeRoots: ['./node_modules/@types'], // not a node_modules/@types above the temporary folder
        ...compilerOptions,
      },
      files: [file],
    });
  writeFileSync(join(dir, 'tsconfig.json'), tsconfig('main.ts'));
  writeFileSync(join(dir, 'tsconfig.wrong.json'), tsconfig('wrong.ts'));
}

/** The packages the installed msgpacknet imports (types included), as npm would have put them beside it. */
const DEPENDENCIES = ['rxjs', '@msgpack/msgpack', 'p-timeout'];

/** A Node.js user's program: the Node entry's API, its Node.js-only parts, and msgpacknet/browser beside it. */
const NODE_PROGRAM = `import type { X509Certificate } from 'node:crypto';
import { connect } from 'node:net';
import { from, type Observable } from 'rxjs';
import {
  Node,
  Rpc,
  ExtData,
  Encoder,
  FrameDecoder,
  NetError,
  certificateId,
  decodeFrames,
  encodeFrames,
  etcdDiscovery,
  fromSocket,
  type ConnectionRequest,
  type EtcdDiscovery,
  type EncoderConfig,
  type NodeEvent,
  type NodeTlsOptions,
} from 'msgpacknet';
import { decodeFrames as decodeInBrowser } from 'msgpacknet/browser';

const tls: NodeTlsOptions = { cert: 'PEM', key: Uint8Array.of(1), ca: ['PEM'], rejectUnauthorized: false };
const node = new Node<string, string>({ nodeId: 'server', tls });
const rpc = new Rpc(node);
const events: Observable<NodeEvent<string, string>> = node.events$;
const closed: Promise<void> = node[Symbol.asyncDispose]();
// etcdDiscovery's types name nothing of etcd3 (an optional peer dependency, not installed here)
const etcd: EtcdDiscovery<string> = etcdDiscovery<string>({ hosts: ['http://127.0.0.1:2379'], prefix: '/p/', ttl: 2 });
const revoked: Promise<void> = etcd.close();

function decide(request: ConnectionRequest<string, string>): string | undefined {
  const certificate: X509Certificate | undefined = request.peerCertificate;
  if (certificate === undefined) return undefined;
  return certificateId(certificate) + certificate.subject;
}

const ext = new ExtData(1, Uint8Array.of(2));
const payload: Uint8Array | ((pos: number) => Uint8Array) = ext.data;
const isExt: boolean = (payload as unknown) instanceof ExtData;
const config: EncoderConfig = { extensionCodec: { tryToEncode: () => ext, decode: (data: Uint8Array, type: number) => [type, data] } };
const encoded: Uint8Array = new Encoder(config).encode([1, ext]);
const decoder = new FrameDecoder({ maxValueBytes: 1024 });
const values: Observable<unknown> = from([encoded]).pipe(decodeFrames());
const inBrowser: Observable<unknown> = from([encoded]).pipe(decodeInBrowser());
const frames: Observable<Uint8Array> = from([[7, 1]]).pipe(encodeFrames());
const chunks: Observable<Uint8Array> = fromSocket(connect(1));
const code: string = new NetError('TIMEOUT', 'late').code;

export { rpc, events, closed, revoked, decide, isExt, decoder, values, inBrowser, frames, chunks, code };
`;

/** A browser user's program: msgpacknet/browser, and \`msgpacknet\` under the bundler's \`browser\` condition. */
const BROWSER_PROGRAM = `import { from, type Observable } from 'rxjs';
import {
  Node,
  Rpc,
  ExtData,
  Encoder,
  NetError,
  decodeFrames,
  encodeFrames,
  webSocketTransport,
  type ConnectionRequest,
  type NodeEvent,
} from 'msgpacknet/browser';
import { Node as SameNode } from 'msgpacknet';

const node: SameNode<string, string> = new Node<string, string>({ nodeId: 'page' });
const rpc = new Rpc(node);
const events: Observable<NodeEvent<string, string>> = node.events$;
const connected: Promise<string> = node.connect('wss://example.org/msgpacknet');
const closed: Promise<void> = node[Symbol.asyncDispose]();
const transport = webSocketTransport({ WebSocket });

function decide(request: ConnectionRequest<string, string>): boolean {
  return request.peerCertificate === undefined && request.accept();
}

const ext = new ExtData(1, Uint8Array.of(2));
const isExt: boolean = (ext as unknown) instanceof ExtData;
const encoded: Uint8Array = new Encoder().encode([1, ext]);
const values: Observable<unknown> = from([encoded]).pipe(decodeFrames());
const frames: Observable<Uint8Array> = from([[7, 1]]).pipe(encodeFrames());
const code: string = new NetError('TIMEOUT', 'late').code;
const socket: WebSocket | undefined = undefined; // DOM's types are there

export { rpc, events, connected, closed, transport, decide, isExt, values, frames, code, socket };
`;

/** A mistake in each user's program, which their \`tsc\` must report: the check can fail. */
const WRONG_PROGRAM = (entry: string): string => `import { ExtData, decodeFrames } from '${entry}';
export const ext = new ExtData('1', Uint8Array.of(2));
export const operator = decodeFrames({ maxValueBytes: '1k' });
`;

/** A program with two deliberate type errors, importing `from`: refused with exactly those two. */
function expectWrongProgramRefused(project: string, from: string): void {
  writeFileSync(join(project, 'wrong.ts'), WRONG_PROGRAM(from));
  const wrong = tsc(join(project, 'tsconfig.wrong.json'));
  expect(wrong.ok).toBeFalse();
  expect(errorLines(wrong.output).map((line) => line.replace(/\(.*?\): error (TS\d+).*/, ' $1'))).toEqual([
    'wrong.ts TS2345', // new ExtData('1', ...)
    'wrong.ts TS2322', // maxValueBytes: '1k'
  ]);
}

describe('the public types in a strict user project (no skipLibCheck)', () => {
  let dir: string;
  let tarball: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'msgpacknet-types-'));
    const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    tarball = join(dir, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
  }, 180_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('type-checks a Node.js program against `msgpacknet` with lib es2022 and @types/node', () => {
    const project = join(dir, 'node');
    makeProject(project, tarball, [...DEPENDENCIES, '@types/node'], {
      lib: ['es2022'],
      module: 'nodenext',
      moduleResolution: 'nodenext',
    });
    writeFileSync(join(project, 'main.ts'), NODE_PROGRAM);
    const checked = tsc(join(project, 'tsconfig.json'));
    expect(errorLines(checked.output)).toEqual([]);
    expect(checked.ok).withContext(checked.output).toBeTrue();

    expectWrongProgramRefused(project, 'msgpacknet');
  }, 90_000);

  it('type-checks a browser program against `msgpacknet/browser` with lib es2022 and dom, no @types/node', () => {
    const project = join(dir, 'browser');
    makeProject(project, tarball, DEPENDENCIES, {
      lib: ['es2022', 'dom'],
      module: 'esnext',
      moduleResolution: 'bundler',
      customConditions: ['browser'], // as a bundler resolves `msgpacknet` for a page
    });
    writeFileSync(join(project, 'main.ts'), BROWSER_PROGRAM);
    const checked = tsc(join(project, 'tsconfig.json'), '--listFiles');
    expect(errorLines(checked.output)).toEqual([]);
    expect(checked.ok).withContext(checked.output).toBeTrue();
    // no Node.js types slipped in (through a `/// <reference types="node" />` in some dependency, say)
    expect(checked.output.split('\n').filter((path) => path.includes('@types/'))).toEqual([]);
    expect(checked.output).toContain('/msgpacknet/dist/lib/browser.d.ts');
    expect(checked.output).not.toContain('/msgpacknet/dist/lib/index.d.ts');

    expectWrongProgramRefused(project, 'msgpacknet/browser');
  }, 90_000);
});
