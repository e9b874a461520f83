// `msgpacknet listen` and `msgpacknet connect`: a node whose events are JSON lines on stdout,
// and whose stdin lines are messages to send.
import { createInterface } from 'node:readline';
import type { Subscription } from 'rxjs';
import { Node, type NodeConfig } from '../node/Node.js';
import type { DisconnectReason } from '../events.js';
import type { ConnectionRequest } from '../node/ConnectionRequest.js';
import { certificateId } from '../certificateId.js';
import { NetError } from '../errors.js';
import type { NodeTlsOptions } from '../transport/tls.js';
import { NotJsonError, line, parseArgument } from './json.js';

/** Who a node is: its id, init message and TLS settings. */
export interface NodeIdentity {
  readonly id: unknown;
  readonly init: unknown;
  readonly tls?: NodeTlsOptions;
  readonly authenticateIds?: boolean;
  /** ms for the TCP connect and the peer's handshake together (the node's `handshakeTimeout`). */
  readonly timeout?: number;
}

export interface SessionOptions extends NodeIdentity {
  readonly accept: 'all' | 'none' | 'prompt';
  /** connect: keep the connection with `node.link()` (reconnect with backoff), up to this longest delay (ms). */
  readonly retry?: { readonly maxDelay?: number };
  /** One line on stdout (an event). */
  readonly print: (text: string) => void;
  /** A note for the person at the terminal, on stderr. */
  readonly warn: (text: string) => void;
  /** One JSON line on stderr (listen: a connection that failed before it was registered). */
  readonly report: (text: string) => void;
}

/** Runs a node until SIGINT/SIGTERM (listen) or until its connection ends (connect). */
export async function session(mode: 'listen' | 'connect', address: string, options: SessionOptions): Promise<void> {
  const node = new Node<unknown, unknown, unknown>(nodeOptions(options));
  const { print, warn, report } = options;
  // A listen that fails (a busy port) says only its error: no closing/closed lines for a node that never ran.
  let quiet = false;
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
        else if (options.accept === 'none') {
          request.reject();
          print(line({ event: 'rejected', nodeId: request.nodeId, remoteAddress: request.remoteAddress }));
        } else {
          prompts.push(request);
          warn(`accept the connection from ${line(request.nodeId)} at ${request.remoteAddress}? type y or n`);
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
        if (mode === 'connect' && options.retry === undefined && node.connectionCount === 0) done();
        break;
      case 'closing':
      case 'closed':
        if (!quiet) print(line({ event: event.type }));
        break;
    }
  });

  // Connections that fail before they are registered (a refused TLS client, plain TCP to a TLS port, a
  // bad handshake) are no events; listen shows each on stderr. connect's own failures reach it otherwise.
  if (mode === 'listen') node.failures$.subscribe((error) => report(line(failureLine(error))));

  // In connect mode, lines read before the connection is up wait for it, then go in order.
  let connected = mode === 'listen';
  let linkSubscription: Subscription | undefined;
  let linkError: Error | undefined;
  const waiting: string[] = [];
  let inputEnded = false;
  const sendLine = (text: string): void => {
    try {
      // As on the command line: JSON, or a bare word or phrase as a string.
      const parsed = parseArgument(text, 'the line', '', JSON.stringify);
      const peers = node.stats().connections.map((c) => c.nodeId);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && 'to' in parsed && 'message' in parsed) {
        const { to, message } = parsed;
        node.send(to, message);
      } else if (peers.length === 1) node.send(peers[0], parsed);
      else
        warn(`not sent: ${peers.length === 0 ? 'no peer is connected' : 'several peers are connected; write {"to": ID, "message": ...}'}`);
    } catch (error) {
      warn(
        `not sent: ${error instanceof NotJsonError ? error.message : error instanceof NetError ? `${error.code}: ${error.message}` : String(error)}`,
      );
    }
  };
  /** connect: once stdin has ended and every line is sent, close gracefully (flush, FIN, the peer's FIN). */
  const endIfInputEnded = (): void => {
    if (mode !== 'connect' || !connected || !inputEnded) return;
    if (linkSubscription) {
      // The link's unsubscribe closes its connection gracefully; wait for that close.
      const peer = node.stats().connections[0]?.nodeId;
      linkSubscription.unsubscribe();
      if (peer === undefined) return done();
      const watch = node.events$.subscribe((event) => {
        if (event.type === 'disconnected') {
          watch.unsubscribe();
          done();
        }
      });
      return;
    }
    const peer = node.stats().connections[0]?.nodeId;
    if (peer === undefined) return done();
    node.disconnect(peer).then(done, done);
  };

  const input = createInterface({ input: process.stdin });
  input.on('line', (text) => {
    if (text.trim() === '') return;
    // A line answers the oldest request still waiting; requests that timed out meanwhile are skipped.
    while (prompts.length > 0 && !prompts[0]!.isPending) prompts.shift();
    const pending = prompts[0];
    if (pending) {
      const answer = text.trim().toLowerCase();
      if (answer === 'y' || answer === 'yes') {
        prompts.shift();
        pending.accept();
      } else if (answer === 'n' || answer === 'no') {
        prompts.shift();
        pending.reject();
        print(line({ event: 'rejected', nodeId: pending.nodeId, remoteAddress: pending.remoteAddress }));
      } else warn(`answer y or n: accept the connection from ${line(pending.nodeId)} at ${pending.remoteAddress}?`);
      return;
    }
    if (connected) sendLine(text);
    else waiting.push(text);
  });
  input.on('close', () => {
    inputEnded = true;
    endIfInputEnded();
  });

  const stop = (): void => done();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    if (mode === 'listen') {
      const bound = await node.listen(address).catch((error: unknown) => {
        quiet = true;
        throw error;
      });
      print(line({ event: 'listening', address: bound, nodeId: node.nodeId }));
    } else print(line({ event: 'connecting', address, nodeId: node.nodeId }));
    if (mode === 'connect' && options.retry) {
      // --retry: the link reconnects with backoff; lines read while it is down wait for it (the library never queues).
      linkSubscription = node
        .link(address, { ...(options.timeout === undefined ? {} : { timeout: options.timeout }), ...options.retry })
        .subscribe({
          next: (event) => {
            if (event.state === 'disconnected') {
              connected = false;
              const { reason, retryIn, error } = event;
              print(
                line({
                  event: 'link',
                  state: 'disconnected',
                  reason,
                  retryIn: Math.round(retryIn),
                  ...(error ? { error: error.code, detail: error.message } : {}),
                }),
              );
              return;
            }
            print(line({ event: 'link', ...event }));
            if (event.state === 'connected') {
              connected = true;
              for (const text of waiting.splice(0)) sendLine(text);
              endIfInputEnded();
            }
          },
          error: (error: unknown) => {
            linkError = error instanceof Error ? error : new Error(String(error));
            done();
          },
        });
    } else if (mode === 'connect') {
      await node.connect(address, options.timeout === undefined ? {} : { timeout: options.timeout });
      connected = true;
      for (const text of waiting.splice(0)) sendLine(text);
      endIfInputEnded();
    }
    await finished;
    if (linkError !== undefined) throw linkError;
  } finally {
    linkSubscription?.unsubscribe();
    input.close();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await node.close();
  }
}

/** A failure on `failures$` as a JSON object: its code, its message and its context. */
function failureLine(error: NetError): Record<string, unknown> {
  return {
    event: 'failure',
    error: error.code,
    detail: error.message,
    ...(error.address === undefined ? {} : { address: error.address }),
    ...('nodeId' in error ? { nodeId: error.nodeId } : {}),
    ...(error.limit === undefined ? {} : { limit: error.limit }),
  };
}

function nodeOptions(identity: NodeIdentity): NodeConfig<unknown, unknown, unknown> {
  return {
    nodeId: identity.id,
    initMessage: identity.init,
    ...(identity.tls ? { tls: identity.tls } : {}),
    ...(identity.authenticateIds ? { authenticateIds: true } : {}),
    ...(identity.timeout === undefined ? {} : { handshakeTimeout: identity.timeout }),
  };
}

/** How long `send` lets the peer take to close its side after ours before it stops waiting (the node's `linger`). */
const SEND_LINGER = 5_000;

/** `msgpacknet send` could not tell that its messages were taken (exit 1). */
export class NotDeliveredError extends Error {}

export interface SendOptions extends NodeIdentity {
  /** ms to wait after the messages are written, before our own close, for the peer to refuse them. */
  readonly wait: number;
}

/**
 * `msgpacknet send`: connect, send each message, wait `wait` ms (less if the connection ends),
 * then close gracefully: flush, FIN, and read on until the peer's FIN. The wire has no
 * acknowledgement; what can be seen is that the peer closed (or reset) the connection before our
 * own close completed, which a peer that took the messages never does: a rejected connection
 * ends that way. Then, or when the peer does not close its side within {@link SEND_LINGER} ms of
 * ours, or when the connection breaks, this throws {@link NotDeliveredError}. Resolves with the
 * peer's id.
 */
export async function sendOnce(address: string, messages: unknown[], options: SendOptions): Promise<unknown> {
  await using node = new Node<unknown, unknown, unknown>({ ...nodeOptions(options), linger: SEND_LINGER });
  let ended: { reason: DisconnectReason; error?: NetError | undefined; duringOurClose: boolean } | undefined;
  let ourClose = false;
  let wake: () => void = () => undefined;
  node.events$.subscribe((event) => {
    if (event.type !== 'disconnected' || ended) return;
    ended = { reason: event.reason, error: event.error, duringOurClose: ourClose };
    wake();
  });
  const peer = await node.connect(address, options.timeout === undefined ? {} : { timeout: options.timeout });
  const who = `${address} (${line(peer)})`;
  const count = messages.length === 1 ? 'the message was' : `the ${messages.length} messages were`;
  try {
    for (const message of messages) node.send(peer, message);
  } catch (error) {
    if (!(error instanceof NetError && error.code === 'NOT_CONNECTED')) throw error;
  }
  if (!ended && options.wait > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.wait);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  let lingered = false;
  if (!ended) {
    ourClose = true;
    const started = Date.now();
    await node.disconnect(peer).catch(() => undefined);
    lingered = Date.now() - started >= SEND_LINGER - 50;
  }
  if (ended && !ended.duringOurClose) {
    throw new NotDeliveredError(
      ended.reason === 'remote-closed'
        ? `not delivered: ${who} closed the connection before we did (it rejected the connection, or was closing), so ${count} not taken`
        : `not delivered: the connection to ${who} ended before we closed it, so ${count} not taken (${ended.reason}${ended.error ? `, ${ended.error.code}: ${ended.error.message}` : ''})`,
    );
  }
  if (ended && ended.reason !== 'closed') {
    throw new NotDeliveredError(
      `not confirmed: the connection to ${who} broke while we closed it (${ended.reason}${ended.error ? `, ${ended.error.code}: ${ended.error.message}` : ''}); ${count.replace(/ (was|were)$/, '')} may not have been taken`,
    );
  }
  if (lingered) {
    throw new NotDeliveredError(
      `not confirmed: ${who} did not close its side within ${SEND_LINGER / 1000} s of ours (still deciding whether to accept?); ${count.replace(/ (was|were)$/, '')} may not have been taken`,
    );
  }
  return peer;
}
