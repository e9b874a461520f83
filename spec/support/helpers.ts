// Loaded before the specs (on Node.js, Bun or Deno): the `N passed, N failed` line's counts, and no unhandled rejection goes unnoticed.
import { writeFileSync, mkdirSync } from 'node:fs';
import { runtime } from '../helpers/runtime.js';

let passed = 0;
let failed = 0;
let skipped = 0;
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

jasmine.getEnv().addReporter({
  specDone(result) {
    if (result.status === 'passed') passed++;
    else if (result.status === 'failed') failed++;
    else if (result.status === 'pending') skipped++;
  },
  jasmineDone() {
    if (unhandled.length > 0) {
      failed++;
      console.error(`Unhandled rejections during the ${runtime} specs:`, unhandled);
    }
    mkdirSync('.test-results', { recursive: true });
    writeFileSync(`.test-results/${runtime}.json`, JSON.stringify({ passed, failed, skipped }));
    console.log(`${runtime} specs: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
  },
});
jasmine.DEFAULT_TIMEOUT_INTERVAL = 20_000;
