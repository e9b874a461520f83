/**
 * The browser platform: the browser's own `WebSocket` (`ws://`, `wss://`) is
 * the only transport, and there is no `certificateId` (a page cannot see its
 * peers' certificates, so `authenticateIds` is refused). The browser build
 * (`scripts/build-browser.mjs`) puts this module where `platform.ts` is;
 * imports nothing from Node.js.
 */
import type { Platform, Transport } from './transport/Transport.js';
import { webSocketTransport } from './transport/webSocket.js';

/** The browser platform. */
export const platform: Platform = {
  name: 'browsers',
  transports(): Readonly<Record<string, Transport>> {
    const ws = webSocketTransport();
    return { ws, wss: ws };
  },
};
