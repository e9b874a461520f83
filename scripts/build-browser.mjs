// The browser build: lib/browser.ts bundled by esbuild into dist/browser/index.js (ESM), with
// lib/platform.browser.ts in place of lib/platform.ts (and diagnostics.browser.ts for diagnostics.ts), so that the browser's WebSocket is the only
// transport and nothing from Node.js is imported. rxjs and @msgpack/msgpack stay imports (the app's
// bundler resolves them: one rxjs for the app and msgpacknet). `npm run build` runs it after tsc.
import { build } from 'esbuild';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lib = join(root, 'lib');

/** The modules with a browser version beside them: lib/X.js resolves to lib/X.browser.ts. */
const BROWSER_VERSIONS = ['platform', 'diagnostics'];

/**
 * Resolves lib/platform.js (imported by lib/node/nodeTransports.ts) to lib/platform.browser.ts, and
 * lib/diagnostics.js (node:diagnostics_channel) to lib/diagnostics.browser.ts.
 */
export const browserPlatform = {
  name: 'msgpacknet-browser-platform',
  setup(build) {
    build.onResolve({ filter: new RegExp(`(^|/)(${BROWSER_VERSIONS.join('|')})\\.js$`) }, (args) => {
      const path = resolve(args.resolveDir, args.path);
      const name = BROWSER_VERSIONS.find((module) => path === join(lib, `${module}.js`));
      return name === undefined ? undefined : { path: join(lib, `${name}.browser.ts`) };
    });
  },
};

/** Node.js modules must never be reached: this makes any such import a build error. */
export const noNodeModules = {
  name: 'msgpacknet-no-node-modules',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => ({
      errors: [{ text: `the browser build imports ${args.path} (from ${args.importer})` }],
    }));
  },
};

/** Bundles lib/browser.ts into `outfile`; resolves with esbuild's result (its metafile lists every input). */
export function buildBrowser(outfile = join(root, 'dist/browser/index.js')) {
  return build({
    absWorkingDir: root,
    entryPoints: ['lib/browser.ts'],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    sourcesContent: true,
    external: ['rxjs', 'rxjs/*', '@msgpack/msgpack'],
    plugins: [browserPlatform, noNodeModules],
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
}

// Run as a script (`npm run build:browser`, and by `npm run build`): silent on success, as tsc is
// (`npm pack --json` prints what prepack prints). No top-level await: karma require()s its config, and
// with it this module.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildBrowser().catch(() => (process.exitCode = 1));
}
