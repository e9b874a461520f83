// Loaded before the Node specs: the `N passed, N failed` line's counts, and no unhandled rejection goes unnoticed.
import { writeFileSync, mkdirSync } from 'node:fs';

let passed = 0;
let failed = 0;
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

jasmine.getEnv().addReporter({
  specDone(result) {
    if (result.status === 'passed') passed++;
    else if (result.status === 'failed') failed++;
  },
  jasmineDone() {
    if (unhandled.length > 0) {
      failed++;
      console.error('Unhandled rejections during the Node specs:', unhandled);
    }
    mkdirSync('.test-results', { recursive: true });
    writeFileSync('.test-results/node.json', JSON.stringify({ passed, failed }));
    console.log(`node specs: ${passed} passed, ${failed} failed`);
  },
});
jasmine.DEFAULT_TIMEOUT_INTERVAL = 20_000;
