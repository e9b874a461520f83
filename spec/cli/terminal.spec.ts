import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The live view and the progress bar under a real pseudo-terminal: tmux runs the
 * executable in a detached session and capture-pane reads the screen.
 */
const SESSION = `mpn-spec-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = (): string => tmux('capture-pane', '-p', '-t', SESSION);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: (text: string) => boolean, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = screen();
    if (condition(text)) return text;
    if (Date.now() > deadline) throw new Error(`the screen never showed what was expected:\n${text}`);
    await sleep(100);
  }
}

function start(command: string, script = 'dist/lib/cli/index.js'): void {
  // `; sleep` keeps the pane open after the command, so its last screen can be read.
  tmux('new-session', '-d', '-s', SESSION, '-x', '120', '-y', '40', `${process.execPath} ${script} ${command}; echo EXIT=$?; sleep 30`);
}

describe('msgpacknet on a terminal (tmux)', () => {
  afterEach(() => {
    try {
      tmux('kill-session', '-t', SESSION);
    } catch {
      // already gone
    }
  });

  it('demo refreshes its live view in place, then prints the summary and exits 0', async () => {
    start('demo --seconds 3');
    const live = await until((text) => text.includes('node-c -> node-a'), 8000);
    expect(live).toContain('msgpacknet demo: 4 nodes on loopback');
    expect(live).toMatch(/connection\s+msgs\/s in\s+bytes\/s in/);
    await sleep(800); // several refreshes later...
    const later = screen();
    expect(later.split('msgpacknet demo:').length - 1).toBe(1); // ...still one view: redrawn in place, not appended
    const done = await until((text) => text.includes('EXIT='), 10_000);
    expect(done).toContain('EXIT=0');
    expect(done).toMatch(/lost 0, out of order 0/);
  }, 30_000);

  it('the benchmark (npm run bench) shows a progress bar on a terminal, then the table, writing where --out says', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mpn-bench-'));
    start(`--smoke --out ${out}`, 'dist/bench/run.js');
    const running = await until((text) => /\[[#.]+\] \d+\/\d+ /.test(text), 15_000);
    expect(running).toMatch(/\[[#.]{30}\] \d+\/\d+ (throughput|ping-pong|\d+ connections)/);
    const done = await until((text) => text.includes('EXIT='), 60_000);
    expect(done).toContain('EXIT=0');
    expect(done).toContain('| tiny |');
    expect(done).toContain('ratio p50');
    expect(existsSync(join(out, 'latest.json'))).toBeTrue();
    rmSync(out, { recursive: true, force: true });
  }, 90_000);
});
