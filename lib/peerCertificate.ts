/**
 * The certificate a peer presented on a TLS connection (a
 * {@link ConnectionRequest}'s `peerCertificate`). In the `msgpacknet` entry's
 * types it is node:crypto's `X509Certificate` (`lib/index.ts` says so, for
 * Node.js projects only); `msgpacknet/browser`'s types name nothing from
 * Node.js, and browsers never see a peer's certificate, so there it is an
 * opaque object.
 *
 * @example
 * ```ts
 * import { Node, certificateId } from 'msgpacknet';
 * const node = Node.createDefault();
 * node.events$.subscribe((event) => {
 *   if (event.type !== 'connectionRequest') return;
 *   const certificate = event.request.peerCertificate; // an X509Certificate on tls:// and wss://
 *   if (certificate === undefined) event.request.reject();
 *   else console.log(certificate.subject, certificateId(certificate));
 * });
 * await node.close();
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in per entry (see above)
export interface PeerCertificate {}
