#!/usr/bin/env node
// The msgpacknet command-line tool: run nodes, send messages, demo.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { NetError } from '../errors.js';
import { randomNodeId } from '../nodeId.js';
import { demo } from './demo.js';
import { parseLoose } from './json.js';
import { sendOnce, session } from './session.js';

const HELP: Record<string, string> = {
  main: `msgpacknet: MessagePack messages between nodes, addressed by node id

usage: msgpacknet <command> [options]

commands:
  listen [ADDRESS]          run a node that listens (default 127.0.0.1:0)
  connect ADDRESS           run a node that connects to ADDRESS
  send ADDRESS JSON...      connect, send each JSON value, wait for the flush, exit
  demo [--seconds N]        a few nodes in a mesh on loopback, with a live view

Run "msgpacknet <command> --help" for a command's options. --verbose shows stack traces.`,
  listen: `usage: msgpacknet listen [ADDRESS] [--id ID] [--init JSON] [--accept all|none|prompt]

Runs a node listening on ADDRESS ("host:port", "[v6]:port"; default 127.0.0.1:0) until Ctrl-C.
Prints every event as one JSON line on stdout. Reads lines on stdin:
  {"to": ID, "message": VALUE}   sends VALUE to ID
  VALUE                          sends VALUE to the only connected peer
With --accept prompt, the line after a connection request answers it (y or n).
Binary shows as {"$base64": "..."}, 64-bit integers beyond 2^53 as {"$bigint": "..."}; both are read back.

  --id ID        this node's id: JSON when it parses (e.g. [1,2]), else a string (default: random)
  --init JSON    the init message sent in every handshake (default null)
  --accept MODE  all (default), none, or prompt`,
  connect: `usage: msgpacknet connect ADDRESS [--id ID] [--init JSON]

Runs a node connected to ADDRESS; events and stdin as for "listen". Exits when the connection ends.`,
  send: `usage: msgpacknet send ADDRESS JSON... [--id ID] [--init JSON]

Connects to ADDRESS, sends each JSON value as one message, waits until they are flushed, and exits.`,
  demo: `usage: msgpacknet demo [--seconds N] [--nodes N]

Starts N nodes (default 4) on loopback, connects them in a mesh, sends traffic, and shows a live view
for N seconds (default 10; 0 runs until Ctrl-C). Then closes everything and prints a summary.`,
};

const NODE_OPTIONS = {
  id: { type: 'string' },
  init: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean' },
} satisfies ParseArgsConfig['options'];

class UsageError extends Error {}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const print = (text: string): void => void process.stdout.write(`${text}\n`);
  const warn = (text: string): void => void process.stderr.write(`msgpacknet: ${text}\n`);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    print(HELP.main!);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'listen':
    case 'connect': {
      const { values, positionals } = parse(rest, { ...NODE_OPTIONS, accept: { type: 'string' } });
      if (values.help) return (print(HELP[command]!), 0);
      const address = positionals[0] ?? (command === 'listen' ? '127.0.0.1:0' : undefined);
      if (address === undefined) throw new UsageError('connect needs an ADDRESS');
      const accept = values.accept ?? 'all';
      if (accept !== 'all' && accept !== 'none' && accept !== 'prompt')
        throw new UsageError(`--accept must be all, none or prompt, not ${accept}`);
      await session(command, address, {
        id: values.id === undefined ? randomNodeId() : parseLoose(values.id),
        init: values.init === undefined ? null : parseLoose(values.init),
        accept,
        print,
        warn,
      });
      return 0;
    }
    case 'send': {
      const { values, positionals } = parse(rest, NODE_OPTIONS);
      if (values.help) return (print(HELP.send!), 0);
      const [address, ...messages] = positionals;
      if (address === undefined || messages.length === 0) throw new UsageError('send needs an ADDRESS and at least one JSON message');
      const peer = await sendOnce(
        address,
        messages.map(parseLoose),
        values.id === undefined ? randomNodeId() : parseLoose(values.id),
        values.init === undefined ? null : parseLoose(values.init),
      );
      warn(`sent ${messages.length} message${messages.length === 1 ? '' : 's'} to ${JSON.stringify(peer)}`);
      return 0;
    }
    case 'demo': {
      const { values } = parse(rest, {
        seconds: { type: 'string' },
        nodes: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        verbose: { type: 'boolean' },
      });
      if (values.help) return (print(HELP.demo!), 0);
      const seconds = Number(values.seconds ?? 10);
      const nodes = Number(values.nodes ?? 4);
      if (!(Number.isFinite(seconds) && seconds >= 0)) throw new UsageError('--seconds must be a number >= 0');
      if (!(Number.isInteger(nodes) && nodes >= 2 && nodes <= 26)) throw new UsageError('--nodes must be an integer from 2 to 26');
      const summary = await demo({ nodes, seconds, tty: process.stdout.isTTY, write: (text) => void process.stdout.write(text) });
      print(summary);
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}; run msgpacknet --help`);
  }
}

const verbose = process.argv.includes('--verbose');
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`msgpacknet: ${error.message}\n`);
    process.exitCode = 2;
  } else {
    const what = error instanceof NetError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    process.stderr.write(`msgpacknet: error: ${what}\n`);
    if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  }
}
