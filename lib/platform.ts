/**
 * The Node.js platform: TCP, TLS and WebSocket (`ws://`, `wss://`: the `ws`
 * package is loaded only when such an address is used). The browser build
 * replaces this module with `platform.browser.ts` (see
 * `scripts/build-browser.mjs`).
 */
import { certificateId } from './certificateId.js';
import { tcpTransport } from './transport/tcp.js';
import { tlsTransport } from './transport/tls.js';
import type { Platform, Transport } from './transport/Transport.js';
import { wsTransport } from './transport/ws.js';

export const platform: Platform = {
  name: 'Node.js',
  transports(settings): Readonly<Record<string, Transport>> {
    const tls = tlsTransport(settings);
    const wss = wsTransport({ ...settings, secure: true });
    // Key-bound ids need the peer's certificate: only the transports that carry TLS.
    return settings.authenticateIds ? { tls, wss } : { tcp: tcpTransport, tls, ws: wsTransport({ ...settings, secure: false }), wss };
  },
  certificateId,
};
