// The browser build's transport (the WHATWG WebSocket API) through the compliance suite, on Node.js:
// its connect with the ws package's WebSocket class (the same API as a browser's), against the
// Node.js ws:// listener. Nodes in the suite connect with it too (the `transports` option).
import { WebSocket } from 'ws';
import { DEFAULT_MAX_VALUE_BYTES } from '../../lib/defaults.js';
import type { Transport } from '../../lib/transport/Transport.js';
import { webSocketTransport } from '../../lib/transport/webSocket.js';
import { wsTransport } from '../../lib/transport/ws.js';
import { transportCompliance } from './compliance.js';

const listener = wsTransport({
  tls: {},
  authenticateIds: false,
  handshakeTimeout: 10_000,
  maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
  secure: false,
});
const client = webSocketTransport({ WebSocket });
const composed: Transport = { connect: client.connect, listen: listener.listen };

transportCompliance({
  name: 'WebSocket API (the browser build) to the ws:// listener',
  transport: composed,
  listenAddress: 'ws://127.0.0.1:0/msgpacknet',
  nodeOptions: { transports: { ws: composed } },
});
