import { NetError, describeValue, noCertificate, type NetErrorCode } from '../errors.js';
import { nodeIdKey } from '../nodeId.js';
import type { ResolvedNodeOptions } from '../options.js';
import { platform } from '../platform.js';
import { formatAddress, type Endpoint } from '../transport/address.js';
import type { ByteStream, Transport } from '../transport/Transport.js';

/**
 * A node's transports by URL scheme (a bare `"host:port"` is `tcp`): its
 * platform's (TCP, TLS and WebSocket on Node.js; the browser's WebSocket in
 * the browser build), then the `transports` option's. With key-bound ids
 * (`authenticateIds`) the node's own certificate must carry its id: checked
 * here, when the node is made (a `TypeError` otherwise).
 */
export class NodeTransports {
  private readonly bySchema: Readonly<Record<string, Transport>>;

  constructor(
    private readonly options: ResolvedNodeOptions<unknown, unknown, unknown>,
    key: string,
  ) {
    const { tls, authenticateIds, handshakeTimeout, limits } = options;
    this.bySchema = {
      ...platform.transports({ tls, authenticateIds, handshakeTimeout, maxValueBytes: limits.maxValueBytes }),
      ...options.transports,
    };
    if (!authenticateIds) return;
    const { cert } = tls;
    const { certificateId } = platform;
    if (certificateId === undefined)
      throw new TypeError(`authenticateIds is not available in ${platform.name}: peers' certificates cannot be seen`);
    if (cert === undefined) throw new TypeError('authenticateIds needs tls.cert (and tls.key): the node id is bound to its key');
    // Without its key the certificate is never presented: every peer would cut the node, as a peer without one.
    if (tls.key === undefined)
      throw new TypeError('authenticateIds needs tls.key, the private key of tls.cert: without it no peer can be shown the certificate');
    if (nodeIdKey(certificateId(cert)) !== key) {
      throw new TypeError(`with authenticateIds the node id must be certificateId(tls.cert) = ${certificateId(cert)}`);
    }
  }

  /** The transport of an endpoint's scheme; throws a `NetError` with `code` for one this node lacks. */
  for(endpoint: Endpoint, code: NetErrorCode): Transport {
    const transport = this.bySchema[endpoint.scheme];
    if (transport) return transport;
    const has = Object.keys(this.bySchema).join(', ');
    const why = this.options.authenticateIds ? ' (authenticateIds: tls and wss only)' : '';
    throw new NetError(code, `${endpoint.scheme}:// is not a transport of this node; it has ${has}${why}`, {
      address: `${endpoint.scheme}://${formatAddress(endpoint.host, endpoint.port)}`,
    });
  }
}

/** Key-bound ids: the id in a peer's handshake must be the certificateId of the certificate it presented. */
export function verifyPeer(nodeId: unknown, stream: ByteStream): NetError | undefined {
  const address = stream.remoteAddress;
  const certificate = stream.peerCertificate;
  if (certificate === undefined) return noCertificate(address, nodeId);
  const bound = platform.certificateId?.(certificate) ?? '';
  if (nodeIdKey(bound) === nodeIdKey(nodeId)) return undefined;
  return new NetError('CONNECTION_ERROR', `${address} claims the id ${describeValue(nodeId)}, but its certificate is bound to ${bound}`, {
    address,
    nodeId,
  });
}
