// The whole test run: build, Node specs under c8, browser specs in headless Chromium, the runtime specs on
// Bun and Deno, then one summary line.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, existsSync } from 'node:fs';

rmSync('.test-results', { recursive: true, force: true });
const run = (command, args) => spawnSync(command, args, { stdio: 'inherit', shell: false }).status ?? 1;
const npx = (args) => run('npx', ['--no-install', ...args]);

// The package (dist/: the CLI and README examples run it) and the specs (build/).
const built = npx(['tsc', '-p', 'tsconfig.json']) === 0 && npx(['tsc', '-p', 'tsconfig.spec.json']) === 0;
if (!built) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const nodeStatus = npx([
  'c8',
  '--reporter=text-summary',
  '--reporter=lcov',
  '--check-coverage',
  '--lines',
  '90',
  '--include',
  'build/lib/**',
  '--exclude',
  'build/lib/cli/**',
  'node',
  '--max-old-space-size=512',
  'node_modules/jasmine/bin/jasmine.js',
  '--config=spec/support/jasmine.json',
]);
const browserStatus = npx(['karma', 'start', 'karma.conf.js', '--single-run']);
// The same build on Bun and Deno (the dev dependencies' binaries): the transport compliance suite and the
// README's programs (spec/support/jasmine.runtimes.json); known runtime failures are left out there, each named with its reason.
const runtimeSpecs = ['node_modules/jasmine/bin/jasmine.js', '--config=spec/support/jasmine.runtimes.json'];
const bunStatus = run('node_modules/.bin/bun', runtimeSpecs);
const denoStatus = run('node_modules/.bin/deno', ['run', '--allow-all', ...runtimeSpecs]);

const read = (name) => (existsSync(name) ? JSON.parse(readFileSync(name, 'utf8')) : { passed: 0, failed: 1, skipped: 0 });
const node = read('.test-results/node.json');
const browser = read('.test-results/browser.json');
const bun = read('.test-results/bun.json');
const deno = read('.test-results/deno.json');
// A skipped (pending) spec hides what it would check: it counts as a failure.
const skipped = [node, browser, bun, deno].reduce((sum, result) => sum + (result.skipped ?? 0), 0);
let failed = node.failed + browser.failed + bun.failed + deno.failed + skipped;
// A crash, or coverage under 90%.
if (failed === 0 && [nodeStatus, browserStatus, bunStatus, denoStatus].some((status) => status !== 0)) failed = 1;
console.log(`browser specs (Chromium): ${browser.passed} passed, ${browser.failed} failed`);
console.log(`bun specs: ${bun.passed} passed, ${bun.failed} failed`);
console.log(`deno specs: ${deno.passed} passed, ${deno.failed} failed (the cases it leaves out are named above: "not run on deno")`);
if (skipped > 0) console.log(`${skipped} skipped (pending) spec(s), counted as failed`);
console.log(`node specs: ${node.passed} passed, ${node.failed} failed`);
console.log(`${node.passed + browser.passed + bun.passed + deno.passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
