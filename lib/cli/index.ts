#!/usr/bin/env node
// The msgpacknet command-line tool: run nodes, send messages, demo.
import { isDeepStrictEqual, parseArgs, type ParseArgsConfig } from 'node:util';
import { NetError } from '../errors.js';
import { randomNodeId } from '../nodeId.js';
import type { NodeTlsOptions } from '../transport/tls.js';
import { demo } from './demo.js';
import { parseLoose } from './json.js';
import { idOfCertificate, KEYGEN_DAYS, keygen, readTlsFlags, type TlsFlags } from './keygen.js';
import { sendOnce, session } from './session.js';

const TLS_HELP = `TLS (addresses tls://host:port):
  --tls-key FILE       this node's private key (PEM), e.g. node.key from "msgpacknet keygen"
  --tls-cert FILE      this node's certificate (PEM), e.g. node.crt; needed to listen on tls://
  --tls-ca FILE        trust only the CA or self-signed certificates in FILE (PEM; may be repeated)
  --authenticate-ids   key-bound node ids: this node's id is the certificate's id (the SHA-256 of its
                       public key; --id, if given, must equal it), it uses tls:// only, and every peer
                       must present a certificate whose id is the node id it claims. Needs --tls-key
                       and --tls-cert. Without --tls-ca, self-signed peers are fine (the id is the trust)`;

const HELP: Record<string, string> = {
  main: `msgpacknet: MessagePack messages between nodes, addressed by node id

usage: msgpacknet <command> [options]

commands:
  listen [ADDRESS]          run a node that listens (default 127.0.0.1:0)
  connect ADDRESS           run a node that connects to ADDRESS
  send ADDRESS JSON...      connect, send each JSON value, wait for the flush, exit
  demo [--seconds N]        a few nodes in a mesh on loopback, with a live view
  keygen [--out DIR]        make a key and a self-signed certificate for TLS; prints its node id

Run "msgpacknet <command> --help" for a command's options. --verbose shows stack traces.`,
  listen: `usage: msgpacknet listen [ADDRESS] [--id ID] [--init JSON] [--accept all|none|prompt] [TLS options]

Runs a node listening on ADDRESS ("host:port", "[v6]:port", "tls://host:port"; default 127.0.0.1:0) until Ctrl-C.
Prints every event as one JSON line on stdout. Reads lines on stdin:
  {"to": ID, "message": VALUE}   sends VALUE to ID
  VALUE                          sends VALUE to the only connected peer
With --accept prompt, the line after a connection request answers it (y or n).
Binary shows as {"$base64": "..."}, 64-bit integers beyond 2^53 as {"$bigint": "..."}; both are read back.

  --id ID        this node's id: JSON when it parses (e.g. [1,2]), else a string (default: random;
                 with --authenticate-ids: the certificate's id)
  --init JSON    the init message sent in every handshake (default null)
  --accept MODE  all (default), none, or prompt

${TLS_HELP}`,
  connect: `usage: msgpacknet connect ADDRESS [--id ID] [--init JSON] [TLS options]

Runs a node connected to ADDRESS; events and stdin as for "listen". Exits when the connection ends.

  --id ID        this node's id: JSON when it parses (e.g. [1,2]), else a string (default: random;
                 with --authenticate-ids: the certificate's id)
  --init JSON    the init message sent in the handshake (default null)

${TLS_HELP}`,
  send: `usage: msgpacknet send ADDRESS JSON... [--id ID] [--init JSON] [TLS options]

Connects to ADDRESS, sends each JSON value as one message, waits until they are flushed, and exits.

  --id ID        this node's id: JSON when it parses (e.g. [1,2]), else a string (default: random;
                 with --authenticate-ids: the certificate's id)
  --init JSON    the init message sent in the handshake (default null)

${TLS_HELP}`,
  demo: `usage: msgpacknet demo [--seconds N] [--nodes N]

Starts N nodes (default 4) on loopback, connects them in a mesh, sends traffic, and shows a live view
for N seconds (default 10; 0 runs until Ctrl-C). Then closes everything and prints a summary.`,
  keygen: `usage: msgpacknet keygen [--out DIR] [--force]

Makes a P-256 private key and a self-signed certificate for 127.0.0.1, ::1 and localhost, valid
${KEYGEN_DAYS / 365} years, with the openssl command, and writes them to DIR/node.key (mode 0600) and DIR/node.crt.
Prints one JSON line with the node id they give (certificateId: the SHA-256 of the public key), for
--authenticate-ids:
  {"event":"keygen","nodeId":"...","key":"DIR/node.key","cert":"DIR/node.crt"}

  --out DIR   where to write (default: the current directory; created if missing)
  --force     overwrite node.key and node.crt if they exist (default: refuse)`,
};

const NODE_OPTIONS = {
  id: { type: 'string' },
  init: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean' },
  'tls-key': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-ca': { type: 'string', multiple: true },
  'authenticate-ids': { type: 'boolean' },
} satisfies ParseArgsConfig['options'];

class UsageError extends Error {}

interface Identity {
  readonly id: unknown;
  readonly tls?: NodeTlsOptions;
  readonly authenticateIds?: boolean;
}

/** The node id and TLS options from --id and the --tls-* flags. */
async function identity(values: TlsFlags & { id?: string | undefined }): Promise<Identity> {
  const authenticateIds = values['authenticate-ids'] === true;
  if (authenticateIds && (values['tls-key'] === undefined || values['tls-cert'] === undefined)) {
    throw new UsageError('--authenticate-ids needs --tls-key and --tls-cert (make them with: msgpacknet keygen)');
  }
  const tls = await readTlsFlags(values);
  const given = values.id === undefined ? undefined : parseLoose(values.id);
  if (!authenticateIds) return { id: given === undefined ? randomNodeId() : given, ...(tls ? { tls } : {}) };
  const id = idOfCertificate(tls!.cert as string, values['tls-cert']!);
  if (given !== undefined && !isDeepStrictEqual(given, id)) {
    throw new UsageError(
      `with --authenticate-ids the node id is the certificate's id ${id} (from ${values['tls-cert']!}); --id ${values.id!} does not match it (leave --id out)`,
    );
  }
  return { id, tls: tls!, authenticateIds };
}

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
        ...(await identity(values)),
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
      const peer = await sendOnce(address, messages.map(parseLoose), {
        ...(await identity(values)),
        init: values.init === undefined ? null : parseLoose(values.init),
      });
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
    case 'keygen': {
      const { values, positionals } = parse(rest, {
        out: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        verbose: { type: 'boolean' },
      });
      if (values.help) return (print(HELP.keygen!), 0);
      if (positionals.length > 0) throw new UsageError(`keygen takes no arguments (--out DIR says where), not ${positionals[0]!}`);
      print(JSON.stringify({ event: 'keygen', ...(await keygen(values.out ?? '.', values.force === true)) }));
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
