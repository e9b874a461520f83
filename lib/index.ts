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

export * from './exports.js';

// Node.js only: TCP sockets as byte streams, TLS options, ids bound to certificate keys
export { fromSocket } from './transport/tcp.js';
export type { NodeTlsOptions } from './transport/tls.js';
export { certificateId } from './certificateId.js';
