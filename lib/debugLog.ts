/**
 * Debug logging as the `debug` package's convention has it, without the
 * package: `DEBUG=msgpacknet:*` (or a list: `msgpacknet:connection,msgpacknet:rpc`;
 * `*` matches anything; a leading `-` excludes) prints lines to stderr,
 * `<ISO time> <namespace> <what happened>`. It listens on the diagnostics
 * channels, so with `DEBUG` unset nothing subscribes and nothing is done.
 * Namespaces: `msgpacknet:connection` (opened, closed), `msgpacknet:handshake`
 * (failed), `msgpacknet:limit` (a limit ended or refused a connection),
 * `msgpacknet:rpc` (each call's outcome and time).
 */
import { subscribe, tracingChannel } from 'node:diagnostics_channel';
import {
  DIAGNOSTICS_CHANNELS,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  type HandshakeFailedMessage,
  type LimitMessage,
  type RpcCallMessage,
} from './diagnosticsChannels.js';
import { describeValue } from './errors.js';

/** The debug namespaces. */
export const DEBUG_NAMESPACES = ['msgpacknet:connection', 'msgpacknet:handshake', 'msgpacknet:limit', 'msgpacknet:rpc'] as const;

/** Is `namespace` on in `pattern` (the value of `DEBUG`), as the `debug` package decides it? */
export function debugEnabled(pattern: string, namespace: string): boolean {
  let enabled = false;
  for (const part of pattern.split(/[\s,]+/)) {
    if (part === '') continue;
    const excluded = part.startsWith('-');
    const glob = excluded ? part.slice(1) : part;
    if (!globMatches(glob, namespace)) continue;
    if (excluded) return false;
    enabled = true;
  }
  return enabled;
}

/**
 * Does `glob` (`*` for any run of characters, everything else literal) match all of `text`? Greedy
 * with one backtrack point, as the `debug` package matches since 4.3.6: linear in practice, where a
 * regex of `.*?` per star backtracks polynomially on a pattern with many stars.
 */
function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = t;
    } else if (g < glob.length && glob[g] === text[t]) {
      g++;
      t++;
    } else if (star >= 0) {
      g = star + 1;
      t = ++resume;
    } else return false;
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}

let started = false;

/**
 * Subscribes the loggers `DEBUG` asks for, once per process (the first
 * node made calls it); with no `msgpacknet` namespace in `DEBUG`, nothing.
 */
export function startDebugLog(
  pattern: string | undefined = process.env['DEBUG'],
  write: (line: string) => void = (line) => process.stderr.write(line),
): void {
  if (started || !pattern?.includes('msgpacknet')) return;
  started = true;
  const on = (namespace: string): boolean => debugEnabled(pattern, namespace);
  const log = (namespace: string, text: string): void => write(`${new Date().toISOString()} ${namespace} ${text}\n`);
  const id = (value: unknown): string => describeValue(value);
  if (on('msgpacknet:connection')) {
    subscribe(DIAGNOSTICS_CHANNELS.connectionOpen, (message) => {
      const { node, nodeId, remoteAddress, outgoing } = message as ConnectionOpenMessage;
      log('msgpacknet:connection', `${id(node.nodeId)} ${outgoing ? '->' : '<-'} ${id(nodeId)} (${remoteAddress}): open`);
    });
    subscribe(DIAGNOSTICS_CHANNELS.connectionClose, (message) => {
      const { node, nodeId, remoteAddress, outgoing, reason, error, bytesRead, bytesWritten } = message as ConnectionCloseMessage;
      const why = error ? `${reason}: ${error.code}: ${error.message}` : reason;
      log(
        'msgpacknet:connection',
        `${id(node.nodeId)} ${outgoing ? '->' : '<-'} ${id(nodeId)} (${remoteAddress}): closed, ${why} (read ${bytesRead} B, wrote ${bytesWritten} B)`,
      );
    });
  }
  if (on('msgpacknet:handshake')) {
    subscribe(DIAGNOSTICS_CHANNELS.handshakeFailed, (message) => {
      const { node, error } = message as HandshakeFailedMessage;
      log('msgpacknet:handshake', `${id(node.nodeId)}: failed: ${error.code}: ${error.message}`);
    });
  }
  if (on('msgpacknet:limit')) {
    subscribe(DIAGNOSTICS_CHANNELS.limit, (message) => {
      const { node, limit, max, nodeId, error } = message as LimitMessage;
      const peer = nodeId === undefined ? (error.address ?? 'a peer') : id(nodeId);
      log('msgpacknet:limit', `${id(node.nodeId)}: ${limit}${max === undefined ? '' : ` (${max})`} cut ${peer}: ${error.message}`);
    });
  }
  if (on('msgpacknet:rpc') && typeof tracingChannel === 'function') {
    const started = new WeakMap<object, number>();
    const outcome = (context: RpcCallMessage, what: string): void => {
      const since = started.get(context);
      const ms = since === undefined ? '' : ` in ${(performance.now() - since).toFixed(1)} ms`;
      log('msgpacknet:rpc', `${id(context.node.nodeId)} -> ${id(context.to)} ${context.method}: ${what}${ms}`);
    };
    tracingChannel<unknown, RpcCallMessage>(DIAGNOSTICS_CHANNELS.rpcCall).subscribe({
      start: (context) => void started.set(context, performance.now()),
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: (context) => {
        if (!('error' in context)) outcome(context, 'answered');
      },
      error: (context) => {
        const error = context.error as { code?: unknown; message?: unknown } | undefined;
        const message = typeof error?.message === 'string' ? error.message : describeValue(error);
        outcome(context, `failed: ${typeof error?.code === 'string' ? `${error.code}: ` : ''}${message}`);
      },
    });
  }
}
