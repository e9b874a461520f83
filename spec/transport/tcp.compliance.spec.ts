import { tcpTransport } from '../../lib/transport/tcp.js';
import { transportCompliance } from './compliance.js';

transportCompliance({ name: 'tcp', transport: tcpTransport, listenAddress: 'tcp://127.0.0.1:0' });
transportCompliance({ name: 'tcp (bare "host:port", IPv6)', transport: tcpTransport, listenAddress: '[::1]:0' });
