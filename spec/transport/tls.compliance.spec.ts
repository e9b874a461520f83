import { tlsTransport } from '../../lib/transport/tls.js';
import { certificateAuthority } from '../helpers/certificates.js';
import { transportCompliance } from './compliance.js';

// One CA; every node and raw stream of the suite has a certificate it signed (chains checked, names match 127.0.0.1).
const ca = certificateAuthority('compliance-ca');
const pair = ca.issue('compliance-node');
const tls = { key: pair.key, cert: pair.cert, ca: ca.cert };

transportCompliance({
  name: 'tls',
  transport: tlsTransport({ tls, authenticateIds: false, handshakeTimeout: 10_000 }),
  listenAddress: 'tls://127.0.0.1:0',
  nodeOptions: { tls },
});
