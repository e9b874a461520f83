#!/usr/bin/env node
// The msgpacknet command-line tool: run nodes, send messages, demo.
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual, parseArgs, type ParseArgsConfig } from 'node:util';
import { NetError } from '../errors.js';
import { randomNodeId } from '../nodeId.js';
import type { NodeTlsOptions } from '../transport/tls.js';
import { demo } from './demo.js';
import { serveMetrics } from './metrics.js';
import { NotJsonError, parseArgument } from './json.js';
import { idOfCertificate, KEYGEN_DAYS, keygen, readTlsFlags, type TlsFlags } from './keygen.js';
import { sendOnce, session } from './session.js';

const TLS_HELP = `TLS (addresses tls://host:port and wss://host:port/path):
  --tls-key FILE       this node's private key (PEM), e.g. node.key from "msgpacknet keygen"
  --tls-cert FILE      this node's certificate (PEM), e.g. node.crt; needed to listen on tls:// or wss://
  --tls-ca FILE        trust only the CA or self-signed certificates in FILE (PEM; may be repeated)
  --authenticate-ids   key-bound node ids: this node's id is the certificate's id (the SHA-256 of its
                       public key; --id, if given, must equal it), it uses tls:// or wss:// only, and
                       every peer must present a certificate whose id is the node id it claims. Needs
                       --tls-key and --tls-cert. Without --tls-ca, self-signed peers are fine (the id
                       is the trust)`;

const HELP: Record<string, string> = {
  main: `msgpacknet: MessagePack messages between nodes, addressed by node id

usage: msgpacknet <command> [options]

commands:
  listen [ADDRESS]          run a node that listens (default 127.0.0.1:0)
  connect ADDRESS           run a node that connects to ADDRESS
  send ADDRESS JSON...      connect, send each JSON value, wait for the flush, exit
  demo [--seconds N]        a few nodes in a mesh on loopback, with a live view
  keygen [--out DIR]        make a key and a self-signed certificate for TLS; prints its node id

ADDRESS is host:port or [v6]:port (TCP), or a URL: tcp://host:port, tls://host:port,
ws://host:port/path or wss://host:port/path (WebSocket; the path is optional, default /).

Run "msgpacknet <command> --help" for a command's options. --verbose shows stack traces; --version the version.`,
  listen: `usage: msgpacknet listen [ADDRESS] [--id ID] [--init JSON] [--accept all|none|prompt] [TLS options]

Runs a node listening on ADDRESS until Ctrl-C: "host:port", "[v6]:port" (default 127.0.0.1:0), or a URL:
"tcp://host:port", "tls://host:port", "ws://host:port/path", "wss://host:port/path" (the path is optional).
Prints every event as one JSON line on stdout, and every connection that failed before it was registered
(a refused TLS client, plain TCP to a TLS port, a bad handshake) as one JSON line on stderr:
  {"event":"failure","error":CODE,"detail":"...","address":"host:port"}
Reads lines on stdin:
  {"to": ID, "message": VALUE}   sends VALUE to ID
  VALUE                          sends VALUE to the only connected peer
A line is JSON, or a plain word or phrase (hello world), sent as a string, as in arguments; a line that
looks like JSON but is not valid JSON ({bad) is not sent (a note on stderr says why).
With --accept prompt, the line after a connection request answers it: y (or yes) accepts, n (or no) rejects
and prints a "rejected" line, anything else asks again. With --accept none, each request is rejected so.
Binary shows as {"$base64": "..."}, 64-bit integers beyond 2^53 as {"$bigint": "..."}; both are read back.

  --id ID        this node's id, as JSON (e.g. [1,2] or '"x"'); a plain word such as server is a string
                 (default: random; with --authenticate-ids: the certificate's id)
  --init JSON    the init message sent in every handshake (default null); JSON as for --id
  --accept MODE  all (default), none, or prompt

${TLS_HELP}`,
  connect: `usage: msgpacknet connect ADDRESS [--retry [--max-delay MS]] [--id ID] [--init JSON] [TLS options]

Runs a node connected to ADDRESS (as for "listen": host:port, tcp://, tls://, ws:// or wss:// URLs);
events and stdin as for "listen". Lines read before the connection is up wait for it, then are sent in
order. Exits 0 when the connection ends, or when stdin ends: then after every line was sent and the
connection was closed gracefully (printf '"a"\\n"b"\\n' | msgpacknet connect ...).

  --retry        keep the connection: when it cannot be made or is lost, try again with exponential
                 backoff and jitter (100 ms, doubling, up to --max-delay), printing each step as
                 {"event":"link","state":"connecting"|"connected"|"disconnected",...} (a loss or failed attempt
                 with its error code and message: "error":CODE,"detail":"..."); outlives a
                 server restart. Lines read while it is down wait for it; a line sent just before a loss
                 may be lost with the connection (the wire has no acknowledgement). Runs until Ctrl-C,
                 or until stdin ends (then as above)
  --max-delay MS the longest delay between attempts with --retry (default 30000)

  --id ID        this node's id, as JSON (e.g. [1,2] or '"x"'); a plain word such as server is a string
                 (default: random; with --authenticate-ids: the certificate's id)
  --init JSON    the init message sent in the handshake (default null)
  --timeout MS   how long the TCP connect and the peer's handshake may take (default 10000)

${TLS_HELP}`,
  send: `usage: msgpacknet send ADDRESS JSON... [--string] [--wait MS] [--id ID] [--init JSON] [TLS options]

Connects to ADDRESS (as for "listen": host:port, tcp://, tls://, ws:// or wss:// URLs), sends each value
as one message, waits --wait ms, closes gracefully and exits 0, printing "sent N messages to ID" on
stderr. The wire has no acknowledgement, so "sent" means: the handshakes were exchanged, every message
was written, the peer did not close or reset the connection within --wait ms, and it closed its side
only after ours (our FIN, then its FIN). A peer that closes first (a listener that rejects the
connection: --accept none, or a prompt answered n) has not taken them: that is "not delivered" on
stderr and exit 1, as is a peer that does not close within 5 s of us.

A value is JSON ({"a":1}, 42, '"text"'); a plain word or phrase (hello world) is a string. Text that
looks like JSON but is not valid JSON ('{bad json') is a usage error (exit 2), not a string.

  --string       send each value as the string given, not as JSON
  --wait MS      how long to give the peer to refuse before closing (default 200)

  --id ID        this node's id, as JSON (e.g. [1,2] or '"x"'); a plain word such as server is a string
                 (default: random; with --authenticate-ids: the certificate's id)
  --init JSON    the init message sent in the handshake (default null)
  --timeout MS   how long the TCP connect and the peer's handshake may take (default 10000)

${TLS_HELP}`,
  demo: `usage: msgpacknet demo [--seconds N] [--nodes N] [--metrics PORT]

Starts N nodes (default 4) on loopback, connects them in a mesh, sends traffic, and shows a live view
for N seconds (default 10; 0 runs until Ctrl-C). Then closes everything and prints a summary.
--metrics PORT serves the nodes' metrics (instrument()) for Prometheus at http://127.0.0.1:PORT/metrics
(0 picks a free port); it needs @opentelemetry/sdk-metrics and @opentelemetry/exporter-prometheus installed.`,
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

/** A command-line JSON value (see parseArgument): a typo is a usage error, not a string. */
function argument(text: string, what: string, hint = ''): unknown {
  try {
    return parseArgument(text, what, hint);
  } catch (error) {
    throw error instanceof NotJsonError ? new UsageError(error.message) : error;
  }
}

/** A --timeout or --wait value in ms. */
function milliseconds(text: string | undefined, flag: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(text.trim() !== '' && Number.isFinite(value) && value >= min))
    throw new UsageError(`${flag} must be a number of ms >= ${min}, not ${text}`);
  return value;
}

/** A failure of a command that talks to `address`, naming it (a peer that is not a msgpacknet node says nothing useful itself). */
class PeerError extends Error {}

async function talkingTo<T>(address: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof NetError)) throw error;
    const where = error.address ?? address;
    const named = error.message.includes(where) ? '' : ` (${where})`;
    // Before the handshake: a wrong port, or a peer that speaks another protocol.
    const hint =
      (error.code === 'TIMEOUT' || error.code === 'READ_ERROR') && /handshake/i.test(error.message)
        ? `; is ${where} a msgpacknet node?`
        : '';
    throw new PeerError(`${error.code}: ${error.message}${named}${hint}`, { cause: error });
  }
}

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
  const given = values.id === undefined ? undefined : argument(values.id, '--id');
  if (!authenticateIds) return { id: given === undefined ? randomNodeId() : given, ...(tls ? { tls } : {}) };
  const id = idOfCertificate(tls!.cert as string, values['tls-cert']!);
  if (given !== undefined && !isDeepStrictEqual(given, id)) {
    throw new UsageError(
      `with --authenticate-ids the node id is the certificate's id ${id} (from ${values['tls-cert']!}); --id ${values.id!} does not match it (leave --id out)`,
    );
  }
  return { id, tls: tls!, authenticateIds };
}

/** The command whose arguments are being parsed, for the hint in a usage error. */
let parsing = '';

function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true });
  } catch (error) {
    const hint = `run msgpacknet ${parsing} --help`;
    const code = (error as { code?: string }).code;
    const option = /'(-[^']*)'/.exec(error instanceof Error ? error.message : '')?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined) throw new UsageError(`unknown option ${option}; ${hint}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) {
      throw new UsageError(`option ${option} needs a value (or takes none); ${hint}`);
    }
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}; ${hint}`);
  }
}

/** The package's version, from its package.json (two folders above dist/lib/cli). */
function version(): string {
  const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const print = (text: string): void => void process.stdout.write(`${text}\n`);
  const warn = (text: string): void => void process.stderr.write(`msgpacknet: ${text}\n`);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    print(HELP.main!);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    print(version());
    return 0;
  }
  parsing = command;
  switch (command) {
    case 'listen':
    case 'connect': {
      const { values, positionals } = parse(rest, {
        ...NODE_OPTIONS,
        accept: { type: 'string' },
        timeout: { type: 'string' },
        retry: { type: 'boolean' },
        'max-delay': { type: 'string' },
      });
      if (values.help) return (print(HELP[command]!), 0);
      const timeout = milliseconds(values.timeout, '--timeout', 1);
      const maxDelay = milliseconds(values['max-delay'], '--max-delay', 1);
      if (command === 'listen' && (values.retry !== undefined || maxDelay !== undefined)) {
        throw new UsageError('--retry and --max-delay are options of connect; run msgpacknet listen --help');
      }
      if (maxDelay !== undefined && values.retry !== true) throw new UsageError('--max-delay goes with --retry');
      const address = positionals[0] ?? (command === 'listen' ? '127.0.0.1:0' : undefined);
      if (address === undefined) throw new UsageError('connect needs an ADDRESS');
      const accept = values.accept ?? 'all';
      if (accept !== 'all' && accept !== 'none' && accept !== 'prompt')
        throw new UsageError(`--accept must be all, none or prompt, not ${accept}`);
      const options = {
        ...(await identity(values)),
        init: values.init === undefined ? null : argument(values.init, '--init'),
        ...(timeout === undefined ? {} : { timeout }),
        ...(values.retry === true ? { retry: maxDelay === undefined ? {} : { maxDelay } } : {}),
        accept,
        print,
        warn,
        report: (text: string) => void process.stderr.write(`${text}\n`),
      } as const;
      await talkingTo(address, () => session(command, address, options));
      return 0;
    }
    case 'send': {
      const { values, positionals } = parse(rest, {
        ...NODE_OPTIONS,
        string: { type: 'boolean' },
        wait: { type: 'string' },
        timeout: { type: 'string' },
      });
      if (values.help) return (print(HELP.send!), 0);
      const [address, ...messages] = positionals;
      if (address === undefined || messages.length === 0) throw new UsageError('send needs an ADDRESS and at least one JSON message');
      const values_ = values.string
        ? messages
        : messages.map((text, i) => argument(text, `message ${i + 1}`, ', or send every value as a string with --string'));
      const timeout = milliseconds(values.timeout, '--timeout', 1);
      const options = {
        ...(await identity(values)),
        init: values.init === undefined ? null : argument(values.init, '--init'),
        ...(timeout === undefined ? {} : { timeout }),
        wait: milliseconds(values.wait, '--wait', 0) ?? 200,
      };
      const peer = await talkingTo(address, () => sendOnce(address, values_, options));
      warn(`sent ${messages.length} message${messages.length === 1 ? '' : 's'} to ${JSON.stringify(peer)}`);
      return 0;
    }
    case 'demo': {
      const { values } = parse(rest, {
        seconds: { type: 'string' },
        nodes: { type: 'string' },
        metrics: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        verbose: { type: 'boolean' },
      });
      if (values.help) return (print(HELP.demo!), 0);
      const seconds = Number(values.seconds ?? 10);
      const nodes = Number(values.nodes ?? 4);
      if (!(Number.isFinite(seconds) && seconds >= 0)) throw new UsageError('--seconds must be a number >= 0');
      if (!(Number.isInteger(nodes) && nodes >= 2 && nodes <= 26)) throw new UsageError('--nodes must be an integer from 2 to 26');
      const port = values.metrics === undefined ? undefined : Number(values.metrics);
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
        throw new UsageError('--metrics must be a port number (0 picks a free port)');
      }
      const endpoint = port === undefined ? undefined : await serveMetrics(port);
      let scraped = '';
      const scraper = endpoint
        ? setInterval(() => {
            endpoint.scrape('msgpacknet_connection_count').then(
              (count) => (scraped = count === undefined ? '' : `   (scraped: ${count} connections)`),
              () => (scraped = '   (scrape failed)'),
            );
          }, 1000)
        : undefined;
      if (endpoint) print(`metrics: ${endpoint.url} (Prometheus)`);
      try {
        const summary = await demo({
          nodes,
          seconds,
          tty: process.stdout.isTTY,
          write: (text) => void process.stdout.write(text),
          size: () => ({ rows: process.stdout.rows, columns: process.stdout.columns }),
          ...(endpoint ? { onNode: endpoint.instrument, status: () => `metrics: ${endpoint.url}${scraped}` } : {}),
        });
        print(summary);
      } finally {
        clearInterval(scraper);
        await endpoint?.close();
      }
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
