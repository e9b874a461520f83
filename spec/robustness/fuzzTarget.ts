// The node under the network fuzzer (netFuzz.spec.ts), in its own process so that a crash is seen, not suffered.
// A Node with default options, listening on 127.0.0.1:0, accepting every request and echoing every message to
// its sender. stdout, one line each: {"address"} once listening; {"stats"} for each `stats` line on stdin (after
// a forced GC when run with --expose-gc); `CRASH <stack as a JSON string>` before exiting 1 on an uncaught error.
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Node } from '../../lib/node/Node.js';

// Deep enough to see where a recursion started; the CRASH line keeps the head and the tail of it.
Error.stackTraceLimit = 2000;

/** Synchronous, so the line is out before `exit`. */
const print = (line: string): void => void writeSync(1, `${line}\n`);

function crash(error: unknown): void {
  const lines = (error instanceof Error ? (error.stack ?? String(error)) : `non-Error thrown: ${String(error)}`).split('\n');
  if (lines.length > 40) lines.splice(16, lines.length - 40, `    ... ${lines.length - 40} frames ...`);
  print(`CRASH ${JSON.stringify(lines.join('\n'))}`);
  process.exit(1);
}
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

const node = new Node<unknown, unknown, unknown>({ nodeId: 'target' });
const failures: Record<string, number> = {};
const limits: Record<string, number> = {};
const disconnected: Record<string, number> = {};
const echoErrors: Record<string, number> = {};
const counts = { requests: 0, connected: 0, messages: 0 };
const bump = (table: Record<string, number>, key: string): void => void (table[key] = (table[key] ?? 0) + 1);

node.failures$.subscribe((error) => {
  bump(failures, error.code);
  if (error.limit !== undefined) bump(limits, error.limit);
});

node.events$.subscribe((event) => {
  switch (event.type) {
    case 'connectionRequest':
      counts.requests++;
      event.request.accept();
      break;
    case 'connected':
      counts.connected++;
      break;
    case 'disconnected':
      bump(disconnected, event.error ? `${event.reason}:${event.error.code}` : event.reason);
      if (event.error?.limit !== undefined) bump(limits, event.error.limit);
      break;
    case 'message':
      counts.messages++;
      try {
        node.send(event.from, event.message);
      } catch (error) {
        // The sender may be gone already (NOT_CONNECTED); anything else is counted for the report.
        bump(echoErrors, (error as { code?: string }).code ?? String(error));
      }
      break;
    default:
      break;
  }
});

function stats(): Record<string, unknown> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const { heapUsed, rss } = process.memoryUsage();
  const handles: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) bump(handles, kind);
  return { heapUsed, rss, connectionCount: node.connectionCount, failures, limits, disconnected, echoErrors, ...counts, handles };
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() === 'stats') print(JSON.stringify({ stats: stats() }));
  })
  // The spec is gone (or done): leave no orphan behind.
  .on('close', () => void node.close().then(() => process.exit(0)));

print(JSON.stringify({ address: await node.listen('127.0.0.1:0') }));
