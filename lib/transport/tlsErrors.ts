/**
 * What a TLS listener says about a client it cut in the TLS handshake, for
 * `tls.ts` and `ws.ts` (`wss://`) alike.
 */
import type { TLSSocket } from 'node:tls';
import { errorText } from '../errors.js';

/**
 * OpenSSL's words for the certificate checks a client most often fails
 * (`X509_verify_cert_error_string`); node:tls gives a listener only the code
 * (`socket.authorizationError`).
 */
const VERIFY_TEXT: Readonly<Record<string, string>> = {
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_REVOKED: 'certificate revoked',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
  INVALID_CA: 'invalid CA certificate',
  INVALID_PURPOSE: 'unsupported certificate purpose',
  CERT_CHAIN_TOO_LONG: 'certificate chain too long',
  PATH_LENGTH_EXCEEDED: 'path length constraint exceeded',
};

/**
 * Why a listener's TLS handshake with a client failed, as the rest of a
 * sentence about the client's address: the certificate check's verdict when
 * node:tls refused the client's certificate (it then cuts the socket with
 * only "socket hang up"), else the TLS failure, on one line.
 *
 * @example "presented a certificate that did not verify: certificate has expired (CERT_HAS_EXPIRED)"
 */
export function tlsClientFailure(error: unknown, socket: TLSSocket | undefined): string {
  // A code string in fact, though typed as an Error.
  const found = socket?.authorizationError as unknown;
  const verdict = typeof found === 'string' ? found : (found as { code?: unknown } | null | undefined)?.code;
  if (typeof verdict === 'string' && verdict !== '') {
    return `presented a certificate that did not verify: ${VERIFY_TEXT[verdict] ?? 'refused'} (${verdict})`;
  }
  return `failed the TLS handshake: ${errorText(error)}`;
}
