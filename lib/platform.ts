/**
 * The Node.js platform: TCP and TLS (and, loading the `ws` package when such
 * an address is used, WebSocket). The browser build replaces this module with
 * `platform.browser.ts` (see `scripts/build-browser.mjs`).
 */
import { certificateId } from './certificateId.js';
import { tcpTransport } from './transport/tcp.js';
import { tlsTransport } from './transport/tls.js';
import type { Platform, Transport } from './transport/Transport.js';

export const platform: Platform = {
  name: 'Node.js',
  transports(settings): Readonly<Record<string, Transport>> {
    const tls = tlsTransport(settings);
    return settings.authenticateIds ? { tls } : { tcp: tcpTransport, tls };
  },
  certificateId,
};
