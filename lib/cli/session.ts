// `msgpacknet listen` and `msgpacknet connect`: a node whose events are JSON lines on stdout,
// and whose stdin lines are messages to send.
import { createInterface } from 'node:readline';
import { Node, type NodeConfig } from '../Node.js';
import type { ConnectionRequest } from '../ConnectionRequest.js';
import { certificateId } from '../certificateId.js';
import { NetError } from '../errors.js';
import type { NodeTlsOptions } from '../transport/tls.js';
import { fromJson, line } from './json.js';

/** Who a node is: its id, init message and TLS settings. */
export interface NodeIdentity {
  readonly id: unknown;
  readonly init: unknown;
  readonly tls?: NodeTlsOptions;
  readonly authenticateIds?: boolean;
}

export interface SessionOptions extends NodeIdentity {
  readonly accept: 'all' | 'none' | 'prompt';
  readonly print: (text: string) => void;
  readonly warn: (text: string) => void;
}

/** Runs a node until SIGINT/SIGTERM (listen) or until its connection ends (connect). */
export async function session(mode: 'listen' | 'connect', address: string, options: SessionOptions): Promise<void> {
  const node = new Node<unknown, unknown, unknown>(nodeOptions(options));
  const { print, warn } = options;
  const prompts: ConnectionRequest[] = [];
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));

  node.events$.subscribe((event) => {
    switch (event.type) {
      case 'message':
        print(line({ event: 'message', from: event.from, message: event.message }));
        break;
      case 'connectionRequest': {
        const { request } = event;
        print(
          line({
            event: 'connectionRequest',
            nodeId: request.nodeId,
            initMessage: request.initMessage,
            remoteAddress: request.remoteAddress,
            ...(request.peerCertificate ? { certificateId: certificateId(request.peerCertificate) } : {}),
          }),
        );
        if (options.accept === 'all') request.accept();
        else if (options.accept === 'none') request.reject();
        else {
          prompts.push(request);
          warn(`accept the connection from ${JSON.stringify(line(request.nodeId))} at ${request.remoteAddress}? type y or n`);
        }
        break;
      }
      case 'connected':
        print(line({ event: 'connected', nodeId: event.nodeId }));
        break;
      case 'disconnected':
        print(
          line({
            event: 'disconnected',
            nodeId: event.nodeId,
            reason: event.reason,
            ...(event.error ? { error: event.error.code, detail: event.error.message } : {}),
          }),
        );
        if (mode === 'connect' && node.connectionCount === 0) done();
        break;
      case 'closing':
      case 'closed':
        print(line({ event: event.type }));
        break;
    }
  });

  const input = createInterface({ input: process.stdin });
  input.on('line', (text) => {
    if (text.trim() === '') return;
    const pending = prompts.shift();
    if (pending) {
      if (/^y(es)?$/i.test(text.trim())) pending.accept();
      else pending.reject();
      return;
    }
    try {
      const parsed = fromJson(JSON.parse(text));
      const peers = node.stats().connections.map((c) => c.nodeId);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && 'to' in parsed && 'message' in parsed) {
        const { to, message } = parsed;
        node.send(to, message);
      } else if (peers.length === 1) node.send(peers[0], parsed);
      else
        warn(`not sent: ${peers.length === 0 ? 'no peer is connected' : 'several peers are connected; write {"to": ID, "message": ...}'}`);
    } catch (error) {
      warn(
        `not sent: ${error instanceof SyntaxError ? `not JSON (${error.message})` : error instanceof NetError ? `${error.code}: ${error.message}` : String(error)}`,
      );
    }
  });

  const stop = (): void => done();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    if (mode === 'listen') print(line({ event: 'listening', address: await node.listen(address), nodeId: node.nodeId }));
    else print(line({ event: 'connecting', address, nodeId: node.nodeId }));
    if (mode === 'connect') await node.connect(address);
    await finished;
  } finally {
    input.close();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await node.close();
  }
}

function nodeOptions(identity: NodeIdentity): NodeConfig<unknown, unknown, unknown> {
  return {
    nodeId: identity.id,
    initMessage: identity.init,
    ...(identity.tls ? { tls: identity.tls } : {}),
    ...(identity.authenticateIds ? { authenticateIds: true } : {}),
  };
}

/** `msgpacknet send`: connect, send each message, flush, close. */
export async function sendOnce(address: string, messages: unknown[], identity: NodeIdentity): Promise<unknown> {
  await using node = new Node<unknown, unknown, unknown>(nodeOptions(identity));
  const peer = await node.connect(address);
  for (const message of messages) node.send(peer, message);
  return peer;
}
