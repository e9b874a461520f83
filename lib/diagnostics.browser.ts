/**
 * The browser build's `diagnostics.ts` (see `scripts/build-browser.mjs`):
 * browsers have no `diagnostics_channel`, so nothing is published.
 */
import type { diagnostics as published } from './diagnostics.js';

/** As in `diagnostics.ts`, publishing nothing. */
export const diagnostics: typeof published = {
  debugFromEnv() {},
  connectionOpen() {},
  connectionClose() {},
  failure() {},
  limit() {},
  rpcCall: (_context, call) => call(),
};
