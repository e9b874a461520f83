// `msgpacknet bench`: the benchmark with a progress bar on a terminal (plain lines otherwise), then the table.
import { runBench, table } from '../../bench/run.js';

export async function bench(options: { quick: boolean; smoke: boolean; print: (text: string) => void }): Promise<void> {
  const tty = process.stderr.isTTY;
  const width = 30;
  const result = await runBench({
    quick: options.quick,
    smoke: options.smoke,
    onProgress: (step, index, total) => {
      if (tty) {
        const done = Math.round((index / total) * width);
        process.stderr.write(`\r\x1b[K[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${index + 1}/${total} ${step}`);
      } else {
        process.stderr.write(`[${index + 1}/${total}] ${step}\n`);
      }
    },
  });
  if (tty) process.stderr.write(`\r\x1b[K[${'#'.repeat(width)}] done\n`);
  options.print(table(result));
  options.print('\nwritten: bench/results/latest.json, bench/results/latest.svg');
}
