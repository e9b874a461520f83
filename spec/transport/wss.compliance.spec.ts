import { wsTransport } from '../../lib/transport/ws.js';
import { certificateAuthority } from '../helpers/certificates.js';
import { transportCompliance } from './compliance.js';

// One CA; every node and raw stream of the suite has a certificate it signed (chains checked, names match 127.0.0.1).
const ca = certificateAuthority('wss-compliance-ca');
const pair = ca.issue('wss-compliance-node');
const tls = { key: pair.key, cert: pair.cert, ca: ca.cert };

transportCompliance({
  name: 'wss',
  transport: wsTransport({ tls, authenticateIds: false, handshakeTimeout: 10_000, maxValueBytes: 4 * 1024 * 1024, secure: true }),
  listenAddress: 'wss://127.0.0.1:0',
  nodeOptions: { tls },
});
