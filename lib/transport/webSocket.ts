import { NetError } from '../errors.js';
import { formatAddress, type Endpoint } from './address.js';
import type { ByteStream, Transport } from './Transport.js';
import { WEB_SOCKET_ABORT_CODE, WEB_SOCKET_MAX_MESSAGE_BYTES, WebSocketStream } from './webSocketStream.js';

export { WEB_SOCKET_ABORT_CODE, WEB_SOCKET_MAX_MESSAGE_BYTES };

/**
 * The part of the WHATWG `WebSocket` this transport uses: a browser's own
 * `WebSocket`, or any class with the same API (the `ws` package's
 * `WebSocket` on Node.js). Browser-safe (a type).
 */
export interface WebSocketLike {
  /** Set to `'arraybuffer'`, so that binary messages arrive as `ArrayBuffer`s. */
  binaryType: string;
  /** Bytes passed to `send` and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Queues one binary message. */
  send(data: Uint8Array): void;
  /** Starts the closing handshake (`code` 1000, or 3000-4999). */
  close(code?: number, reason?: string): void;
  /** `open`: the connection is open; `error`: it failed (a `close` event follows). */
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  /** A message arrived: `data` is an `ArrayBuffer` (binary), or a string (text). */
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  /** The connection is closed (always the last event). */
  addEventListener(
    type: 'close',
    listener: (event: { readonly code: number; readonly reason: string; readonly wasClean: boolean }) => void,
  ): void;
}

/** A `WebSocket` class: `new WebSocket(url)`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Options of {@link webSocketTransport}. */
export interface WebSocketTransportConfig {
  /**
   * The `WebSocket` class to connect with (an injected dependency): on
   * Node.js, the `ws` package's `WebSocket` runs this transport too.
   * @default globalThis.WebSocket
   */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Most bytes kept per connection while its reading is paused (a browser's
   * WebSocket reads on: what arrives is kept, then handed on in order);
   * beyond them the connection ends with `READ_ERROR` (limit `maxPausedBytes`).
   * @default 64 MiB
   */
  readonly maxPausedBytes?: number;
}

/** Default of {@link WebSocketTransportConfig.maxPausedBytes}: 64 MiB, as the node's `maxQueuedBytes`. */
export const DEFAULT_MAX_PAUSED_BYTES = 64 * 1024 * 1024;

/**
 * A transport over the WHATWG `WebSocket` API, the one a browser has:
 * `connect` opens `ws://host:port/path` or `wss://...` (browsers check the
 * certificate themselves; the node's `tls` option plays no part). Each binary
 * message is a chunk of one continuous byte stream (a value may span
 * messages); a text message ends the stream with `READ_ERROR`. A clean close
 * (1000, 1001, or none given) is the end of the stream; a cut connection
 * (no close frame: 1006) or {@link WEB_SOCKET_ABORT_CODE} is
 * `CONNECTION_ABORTED`, another code `CONNECTION_ERROR`, as on the Node.js
 * side. `listen` rejects with `OPEN_ERROR`: a WebSocket can
 * only connect. This is the only transport of the browser build; imports
 * nothing from Node.js.
 *
 * @example
 * ```ts
 * import { WebSocket } from 'ws';
 * import { Node, webSocketTransport } from 'msgpacknet/browser';
 * // On Node.js, with the ws package's class: what a browser does with its own.
 * const ws = webSocketTransport({ WebSocket });
 * await using server = new Node<string, string>({ nodeId: 'server' });
 * await using client = new Node<string, string>({ nodeId: 'client', transports: { ws } });
 * const address = await server.listen('ws://127.0.0.1:0/net');
 * server.events$.subscribe((event) => {
 *   if (event.type === 'connectionRequest') event.request.accept();
 *   if (event.type === 'message') console.log(event.from, event.message); // client hi
 * });
 * client.send(await client.connect(address), 'hi');
 * ```
 */
export function webSocketTransport(config: WebSocketTransportConfig = {}): Transport {
  const maxPausedBytes = config.maxPausedBytes ?? DEFAULT_MAX_PAUSED_BYTES;
  if (!(maxPausedBytes > 0)) throw new TypeError(`maxPausedBytes must be a positive number, got ${String(maxPausedBytes)}`);
  return {
    connect(endpoint, signal) {
      const WebSocketClass = config.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
      if (WebSocketClass === undefined) {
        const address = formatAddress(endpoint.host, endpoint.port);
        return Promise.reject(
          new NetError('CONNECTION_ERROR', 'this runtime has no WebSocket: pass one as webSocketTransport({ WebSocket })', { address }),
        );
      }
      return openStream(WebSocketClass, endpoint, signal, maxPausedBytes);
    },
    listen(endpoint) {
      const address = formatAddress(endpoint.host, endpoint.port);
      return Promise.reject(
        new NetError('OPEN_ERROR', `cannot listen on ${address}: browsers cannot listen (a WebSocket can only connect)`, { address }),
      );
    },
  };
}

/** Opens a WebSocket; resolves with its stream once it is open. */
async function openStream(
  WebSocketClass: WebSocketConstructor,
  endpoint: Endpoint,
  signal: AbortSignal,
  maxPausedBytes: number,
): Promise<ByteStream> {
  if (signal.aborted) throw signal.reason;
  const address = formatAddress(endpoint.host, endpoint.port);
  const url = `${endpoint.scheme}://${address}${endpoint.path}`;
  let socket: WebSocketLike;
  try {
    socket = new WebSocketClass(url);
  } catch (error) {
    throw new NetError('CONNECTION_ERROR', `cannot connect to ${url}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
      address,
    });
  }
  const stream = new WebSocketStream(socket, address, url, maxPausedBytes);
  const onAbort = (): void => stream.abortOpen(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await stream.opened;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return stream;
}
