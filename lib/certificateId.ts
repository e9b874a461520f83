import { X509Certificate, createHash } from 'node:crypto';

/**
 * A node id bound to a key: the lower-case hex SHA-256 of the DER
 * SubjectPublicKeyInfo of an X.509 certificate (Node only). Self-signed
 * certificates are fine: the id is the trust anchor, as with Syncthing's
 * device ids. With the node option `authenticateIds`, a peer's handshake id
 * must equal the `certificateId` of the certificate it presented over TLS.
 * Throws a `TypeError` for something that is not a certificate.
 *
 * @example
 * ```ts
 * import { rootCertificates } from 'node:tls';
 * import { certificateId } from 'msgpacknet';
 * // any certificate: here one of node:tls's built-in roots (a node's own would come from `msgpacknet keygen`)
 * console.log(certificateId(rootCertificates[0]!).length); // 64
 * ```
 */
export function certificateId(cert: string | Uint8Array | X509Certificate): string {
  let x509: X509Certificate;
  try {
    x509 = cert instanceof X509Certificate ? cert : new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  } catch (error) {
    throw new TypeError(`not an X.509 certificate (PEM or DER): ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return createHash('sha256')
    .update(x509.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}
