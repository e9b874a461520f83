import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { transformSync } from 'esbuild';

/** Every `@example` in the TSDoc of lib/: each imports from 'msgpacknet' and must run. */
function examples(): { name: string; code: string }[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) files.push(path);
    }
  };
  walk('lib');
  const found: { name: string; code: string }[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const [index, match] of [...text.matchAll(/@example\n\s*\* ```ts\n([\s\S]*?)\n\s*\* ```/g)].entries()) {
      const code = match[1]!.replace(/^\s*\* ?/gm, '');
      found.push({ name: `${file}#${index}`, code });
    }
  }
  return found;
}

describe('TSDoc examples in lib/', () => {
  const found = examples();

  it('exist for the public surface and import from msgpacknet', () => {
    expect(found.length).toBeGreaterThanOrEqual(15);
    for (const example of found)
      expect(example.code)
        .withContext(example.name)
        .toMatch(/from 'msgpacknet(\/browser)?'/);
  });

  for (const [i, example] of found.entries()) {
    it(`${example.name} runs against the built package`, async () => {
      mkdirSync('build/examples', { recursive: true });
      const file = `build/examples/example-${i}.mjs`;
      writeFileSync(file, transformSync(example.code, { loader: 'ts', format: 'esm', target: 'es2022' }).code);
      const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(process.execPath, [file], { timeout: 20_000 }, (error, _stdout, stderr) => {
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr });
        });
      });
      expect(result.stderr).withContext(example.name).toBe('');
      expect(result.code).withContext(example.name).toBe(0);
    });
  }
});
