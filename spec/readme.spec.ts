import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { selfSignedArgs } from '../lib/cli/keygen.js';
import { transformSync } from 'esbuild';
import { itOnNode, programArgs, runtime } from './helpers/runtime.js';

/** The README's runnable examples: every ```ts block that imports from 'msgpacknet'. */
function examples(): { index: number; code: string; prints: string[] }[] {
  const readme = readFileSync('README.md', 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  return blocks
    .map((code, index) => ({ index, code, prints: [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((m) => m[1]!.trim()) }))
    .filter((example) => example.code.includes("from 'msgpacknet'"));
}

/**
 * Node's `console.log` of an object, loosely: Bun and Deno print objects their own way (quotes, line breaks),
 * so on them a `// prints: { ... }` line is compared without spaces, quotes, escapes and trailing commas.
 */
const loosely = (text: string): string => text.replace(/[\s'"\\]/g, '').replace(/,([}\]])/g, '$1');

/** Where the examples run: node.key and node.crt are there, as `msgpacknet keygen` writes them. */
const RUN_DIR = resolve('build/readme-run');

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, programArgs(resolve(file)), { timeout: 20_000, cwd: RUN_DIR }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('README examples', () => {
  const found = examples();

  beforeAll(() => {
    mkdirSync(RUN_DIR, { recursive: true });
    execFileSync('openssl', selfSignedArgs(`${RUN_DIR}/node.key`, `${RUN_DIR}/node.crt`, 2, 'readme'), { stdio: 'ignore' });
  });

  it('are there', () => {
    expect(found.length).toBeGreaterThanOrEqual(5);
  });

  itOnNode(
    'type-check, strict, against the published types',
    () => {
      mkdirSync('build/readme-types', { recursive: true });
      for (const example of found) writeFileSync(`build/readme-types/example-${example.index}.mts`, `${example.code}\nexport {};\n`);
      writeFileSync(
        'build/readme-types/tsconfig.json',
        JSON.stringify({ extends: '../../tsconfig.base.json', compilerOptions: { noEmit: true, types: ['node'] }, include: ['*.mts'] }),
      );
      // Throws, with tsc's report, on any type error.
      execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'build/readme-types/tsconfig.json'], { encoding: 'utf8' });
    },
    60_000,
  );

  for (const example of found) {
    it(`example ${example.index} runs against the built package on ${runtime} and prints what it says`, async () => {
      mkdirSync('build/readme', { recursive: true });
      // Inside the package folder, so `import 'msgpacknet'` resolves to this package's own exports (dist/).
      const file = `build/readme/example-${example.index}.mjs`;
      writeFileSync(file, transformSync(example.code, { loader: 'ts', format: 'esm', target: 'es2022' }).code);
      const result = await run(file);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const lines = result.stdout.split('\n').map((line) => line.trim());
      let from = 0;
      for (const expected of example.prints) {
        if (runtime !== 'node' && expected.startsWith('{')) {
          expect(loosely(lines.slice(from).join('\n')))
            .withContext(`prints: ${expected}\n--- stdout:\n${result.stdout}`)
            .toContain(loosely(expected));
          continue;
        }
        const at = lines.indexOf(expected, from);
        expect(at).withContext(`prints: ${expected}\n--- stdout:\n${result.stdout}`).toBeGreaterThanOrEqual(0);
        from = at + 1;
      }
    });
  }
});
