/**
 * `msgpacknet/browser`, and what `import ... from 'msgpacknet'` resolves to
 * in a browser (the `browser` export condition: `dist/browser/index.js`, a
 * bundle built by `scripts/build-browser.mjs`). It has the {@link Node}, whose
 * only transport in a browser is the browser's own `WebSocket` (`ws://` and
 * `wss://` addresses; `listen` rejects with `OPEN_ERROR`), and the parts that
 * import nothing from Node.js: the RxJS operators, the codec, errors, node
 * ids, stats, defaults and validator types. The TCP and TLS transports,
 * `fromSocket` and `certificateId` are in the Node.js build only. On Node.js
 * this entry is the same code with the Node.js transports.
 *
 * @example
 * ```ts
 * import { from } from 'rxjs';
 * import { decodeFrames } from 'msgpacknet/browser';
 * from([Uint8Array.of(0x92, 0x07), Uint8Array.of(0x01)])
 *   .pipe(decodeFrames())
 *   .subscribe((value) => console.log(value)); // prints: [ 7, 1 ]
 * ```
 *
 * @packageDocumentation
 */

export * from './exports.js';

// The browser's WebSocket as a transport
export {
  webSocketTransport,
  WEB_SOCKET_MAX_MESSAGE_BYTES,
  WEB_SOCKET_ABORT_CODE,
  DEFAULT_MAX_PAUSED_BYTES,
  type WebSocketTransportConfig,
  type WebSocketConstructor,
  type WebSocketLike,
} from './transport/webSocket.js';
