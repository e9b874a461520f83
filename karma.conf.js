// The browser-safe specs (codec, operators, stats, errors, node ids) in real headless Chromium.
import { mkdirSync, writeFileSync } from 'node:fs';

process.env.CHROME_BIN ??= '/usr/bin/chromium';

const browserSpecs = [
  'spec/codec/**/*.spec.ts',
  'spec/operators/!(fromSocket)*.spec.ts',
  'spec/{errors,nodeId,stats,validate,duplicates,EventHub,ReadGate,Deadline,Registry,readFrames}.spec.ts',
  'spec/transport/address.spec.ts',
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

export default function (config) {
  config.set({
    frameworks: ['jasmine'],
    files: browserSpecs.map((pattern) => ({ pattern, watched: false })),
    preprocessors: Object.fromEntries(browserSpecs.map((pattern) => [pattern, ['esbuild']])),
    esbuild: { singleBundle: false, target: 'es2022', sourcemap: true },
    plugins: ['karma-jasmine', 'karma-chrome-launcher', 'karma-esbuild', { 'reporter:counting': ['type', CountingReporter] }],
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
        ],
      },
    },
    client: { jasmine: { random: true } },
    singleRun: true,
    browserNoActivityTimeout: 120000,
    logLevel: config.LOG_WARN,
  });
}
