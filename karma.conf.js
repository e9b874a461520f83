// The browser specs in real headless Chromium: the browser-safe specs (codec, operators, stats, errors,
// node ids), and the browser build's Node (spec/browser/*.karma.ts) against a real Node.js node that
// this config starts for the run (spec/browser/server.ts) and whose ws:// address it hands the page.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { browserPlatform, noNodeModules } from './scripts/build-browser.mjs';

process.env.CHROME_BIN ??= '/usr/bin/chromium';

const browserSpecs = [
  'spec/codec/**/*.spec.ts',
  'spec/operators/!(fromSocket)*.spec.ts',
  'spec/{errors,nodeId,stats,validate}.spec.ts',
  'spec/node/{duplicates,EventHub,ReadGate,Deadline,Registry,readFrames}.spec.ts',
  'spec/transport/address.spec.ts',
  // The browser build's Node over the browser's WebSocket, against the Node.js node below.
  'spec/browser/*.karma.ts',
];

/** Writes the pass/fail counts for scripts/test.mjs to total. */
function CountingReporter(baseReporterDecorator) {
  baseReporterDecorator(this);
  let passed = 0;
  let failed = 0;
  this.onSpecComplete = (_browser, result) => {
    if (result.skipped) return;
    if (result.success) passed++;
    else failed++;
  };
  this.onRunComplete = (_browsers, results) => {
    if (results.error || results.disconnected) failed++;
    mkdirSync('.test-results', { recursive: true });
    writeFileSync('.test-results/browser.json', JSON.stringify({ passed, failed }));
  };
}
CountingReporter.$inject = ['baseReporterDecorator'];

/**
 * Starts spec/browser/server.ts (bundled, run by this Node.js) on free ports of 127.0.0.1; resolves
 * with its ws:// and wss:// addresses and its certificate's key hash once it listens. It exits when its stdin closes, that is with karma at the
 * latest; the `node-server` framework below stops it when karma exits.
 */
async function startNodeServer() {
  const outfile = 'build/karma/server.mjs';
  await build({
    entryPoints: ['spec/browser/server.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  const child = spawn(process.execPath, [outfile], { stdio: ['pipe', 'pipe', 'inherit'] });
  nodeServer = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the spec server did not start within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`the spec server exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const listening = /^listening (ws:\/\/\S+) (wss:\/\/\S+) (\S+)$/.exec(line);
      if (!listening) return console.log(`[spec server] ${line}`);
      clearTimeout(timer);
      resolve({ ws: listening[1], wss: listening[2], spki: listening[3] });
    });
  });
}

/** The spec server's process, stopped when karma exits. */
let nodeServer;

function NodeServerFramework(emitter) {
  emitter.on('exit', (done) => {
    nodeServer?.stdin.end();
    nodeServer?.kill('SIGTERM');
    done();
  });
}
NodeServerFramework.$inject = ['emitter'];

export default async function (config) {
  const server = await startNodeServer();
  config.set({
    frameworks: ['jasmine', 'node-server'],
    files: browserSpecs.map((pattern) => ({ pattern, watched: false })),
    preprocessors: Object.fromEntries(browserSpecs.map((pattern) => [pattern, ['esbuild']])),
    // The browser platform in place of lib/platform.ts (as in the browser build); any node: import fails the bundle.
    esbuild: { singleBundle: false, target: 'es2022', sourcemap: true, plugins: [browserPlatform, noNodeModules] },
    plugins: [
      'karma-jasmine',
      'karma-chrome-launcher',
      'karma-esbuild',
      { 'reporter:counting': ['type', CountingReporter] },
      { 'framework:node-server': ['factory', NodeServerFramework] },
    ],
    reporters: ['dots', 'counting'],
    browsers: ['ChromiumHeadlessCI'],
    customLaunchers: {
      ChromiumHeadlessCI: {
        base: 'ChromeHeadless',
        flags: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-dev-shm-usage',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          '--disable-quic',
          // The spec server's self-signed certificate (wss://), trusted by its key for this run only.
          `--ignore-certificate-errors-spki-list=${server.spki}`,
        ],
      },
    },
    // The spec server's ws:// and wss:// addresses, as `__karma__.config.args` in the page.
    client: { jasmine: { random: true, timeoutInterval: 20_000 }, args: [server.ws, server.wss] },
    singleRun: true,
    browserNoActivityTimeout: 120000,
    logLevel: config.LOG_WARN,
  });
}
