import { wsTransport } from '../../lib/transport/ws.js';
import { transportCompliance } from './compliance.js';

const settings = { tls: {}, authenticateIds: false, handshakeTimeout: 10_000, maxValueBytes: 4 * 1024 * 1024 };

transportCompliance({ name: 'ws', transport: wsTransport({ ...settings, secure: false }), listenAddress: 'ws://127.0.0.1:0' });
transportCompliance({
  name: 'ws (a path, IPv6)',
  transport: wsTransport({ ...settings, secure: false }),
  listenAddress: 'ws://[::1]:0/msgpacknet',
});
