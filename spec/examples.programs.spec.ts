import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { transformSync } from 'esbuild';
import { itOnNode, programArgs, runtime } from './helpers/runtime.js';

/** What each program in examples/ must print: lines in this order (others may come between). */
const EXPECTED: Record<string, { inOrder: (string | RegExp)[][]; anywhere?: (string | RegExp)[] }> = {
  'worker-pool.ts': {
    inOrder: [
      [
        'worker-1 joined',
        /^worker-3 left \((error|remote-closed)\): [1-4] job\(s\) back in the queue$/,
        'all 24 jobs done, total 27600000',
      ],
      ['worker-2 joined', /^worker-3 left/],
      ['worker-3 joined', /^worker-3 left/],
      ['rejected intruder: bad token', 'all 24 jobs done, total 27600000'],
    ],
    anywhere: ['intruder: connect() resolved, then the connection ended (remote-closed): rejected'],
  },
  'cli-chat.ts': {
    inOrder: [['alice -> bob: hi bob', 'bob -> alice: hi alice, bye', 'bob left (remote-closed)']],
  },
  'rxjs-pipeline.ts': {
    inOrder: [
      ['alice: 1', 'alice: 2', 'alice: 3', 'alice sent 3', 'bob sent 2', 'carol sent 1'],
      ['bob: 1', 'bob: 2', 'alice sent 3'],
      ['carol: 1', 'alice sent 3'],
    ],
  },
};

const programs = readdirSync('examples').filter((name) => name.endsWith('.ts'));

function run(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, programArgs(file), { timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const matches = (line: string, expected: string | RegExp): boolean =>
  typeof expected === 'string' ? line === expected : expected.test(line);

describe('example programs in examples/', () => {
  it('each have their expected output here', () => {
    expect(programs.length).toBeGreaterThanOrEqual(3);
    expect(programs.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  itOnNode(
    'type-check, strict, against the published types',
    () => {
      mkdirSync('build/examples-types', { recursive: true });
      writeFileSync(
        'build/examples-types/tsconfig.json',
        JSON.stringify({
          extends: '../../tsconfig.base.json',
          compilerOptions: { noEmit: true, types: ['node'] },
          include: ['../../examples/*.ts'],
        }),
      );
      // Throws, with tsc's report, on any type error. No `paths`: 'msgpacknet' is the package's own exports (dist/).
      execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'build/examples-types/tsconfig.json'], { encoding: 'utf8' });
    },
    60_000,
  );

  for (const program of programs) {
    it(`${program} runs against the built package on ${runtime} and prints what it should`, async () => {
      mkdirSync('build/examples-programs', { recursive: true });
      // Inside the package folder, so `import 'msgpacknet'` resolves to this package's own exports (dist/).
      const file = `build/examples-programs/${program.replace(/\.ts$/, '.mjs')}`;
      const source = readFileSync(`examples/${program}`, 'utf8');
      writeFileSync(file, transformSync(source, { loader: 'ts', format: 'esm', target: 'es2022' }).code);
      const result = await run(file);
      const context = `--- stdout:\n${result.stdout}\n--- stderr:\n${result.stderr}`;
      expect(result.stderr).withContext(context).toBe('');
      expect(result.code).withContext(context).toBe(0);
      const lines = result.stdout.split('\n');
      const expected = EXPECTED[program] ?? { inOrder: [] };
      for (const sequence of expected.inOrder) {
        let from = 0;
        for (const line of sequence) {
          const at = lines.findIndex((candidate, index) => index >= from && matches(candidate, line));
          expect(at)
            .withContext(`${String(line)} (after line ${from})\n${context}`)
            .toBeGreaterThanOrEqual(0);
          from = at + 1;
        }
      }
      for (const line of expected.anywhere ?? []) {
        expect(lines.some((candidate) => matches(candidate, line)))
          .withContext(`${String(line)}\n${context}`)
          .toBeTrue();
      }
    }, 40_000);
  }
});
