/**
 * msgpacknet: MessagePack messages between processes and machines,
 * addressed by node id instead of socket, with an RxJS API. Wire-compatible
 * with the Rust crate `msgpacknet`.
 *
 * @example
 * ```ts
 * import { Node } from 'msgpacknet';
 * await using server = new Node<string, string>({ nodeId: 'server' });
 * await using client = new Node<string, string>({ nodeId: 'client' });
 * const address = await server.listen('127.0.0.1:0');
 * server.events$.subscribe((event) => {
 *   if (event.type === 'connectionRequest') event.request.accept();
 *   if (event.type === 'message') server.send(event.from, `echo: ${event.message}`);
 * });
 * const peer = await client.connect(address);
 * client.send(peer, 'hello');
 * ```
 *
 * @packageDocumentation
 */

import type { X509Certificate } from 'node:crypto';

export * from './exports.js';

// On Node.js, a peer's certificate is node:crypto's (these types are the Node.js entry's only, so that
// msgpacknet/browser's need no @types/node).
declare module './peerCertificate.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- an interface, so that it merges
  interface PeerCertificate extends X509Certificate {}
}

// Node.js only: TCP sockets as byte streams, TLS options, ids bound to certificate keys
export { fromSocket } from './transport/tcp.js';
export type { NodeTlsOptions } from './options.js';
export { certificateId } from './certificateId.js';

// Node.js only: etcd as a cluster's discovery source (the etcd3 client is Node.js-only)
export { etcdDiscovery, type EtcdDiscovery, type EtcdDiscoveryOptions } from './cluster/etcdDiscovery.js';

// Node.js, Bun, Deno only (diagnostics_channel): a node's metrics on an OpenTelemetry meter
export {
  instrument,
  METRICS,
  type InstrumentOptions,
  type MetricAttributes,
  type MetricCounter,
  type MetricHistogram,
  type MetricInstrumentOptions,
  type MetricMeter,
  type MetricObservableCounter,
  type MetricObservation,
} from './instrument.js';
