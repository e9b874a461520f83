import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('the npm package', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'msgpacknet-pack-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('ships dist/, the README and the license only, and installs and imports in an empty folder', () => {
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], resolve('.'))) as {
      filename: string;
      files: { path: string }[];
    }[];
    const paths = packed!.files.map((file) => file.path);
    expect(paths).toContain('dist/lib/index.js');
    expect(paths).toContain('dist/lib/index.d.ts');
    expect(paths).toContain('README.md');
    expect(paths.filter((path) => !/^(dist\/|README\.md$|LICENSE$|package\.json$)/.test(path))).toEqual([]);

    const app = join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed!.filename)], app);
    writeFileSync(
      join(app, 'main.js'),
      `import { Node, decodeFrames, NetError } from 'msgpacknet';
const node = Node.createDefault();
node.send(node.nodeId, 'packed');
const event = await node.receive({ timeout: 1000 });
await node.close();
console.log(event.message, typeof decodeFrames, typeof NetError);`,
    );
    expect(execFileSync(process.execPath, ['main.js'], { cwd: app, encoding: 'utf8' }).trim()).toBe('packed function function');
    // the executable is installed too, as `npx msgpacknet` finds it
    expect(execFileSync(join(app, 'node_modules/.bin/msgpacknet'), ['--help'], { encoding: 'utf8' })).toContain(
      'usage: msgpacknet <command>',
    );
  }, 180_000);
});
