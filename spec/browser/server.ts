// The real Node.js node the browser specs (spec/browser/*.karma.ts) talk to. karma.conf.js starts it
// for the run (bundled by esbuild) and hands its addresses to the browser. It listens on ws:// and on
// wss:// (a self-signed certificate made for the run; `rejectUnauthorized: false`, as browsers present
// no certificate), prints `listening <ws address> <wss address> <base64 SHA-256 of the certificate's key>`
// (karma tells Chromium to trust that key), and exits when its stdin closes (karma ended) or on SIGTERM.
//
// The browser drives it with messages, `[command, ...arguments]`, each answered to its sender:
//   ['echo', value]       -> ['echo', value]
//   ['big', bytes]        -> ['big', a Uint8Array of that many bytes, byte i = i % 251]
//   ['burst', count]      -> ['burst', 0] ... ['burst', count - 1]
//   ['seq', i]            -> nothing; ['seqReport'] -> ['seqReport', how many, all in order 0, 1, 2...]
//   ['rejectNext']        -> ['ok']; the next connection request is rejected
//   ['close']             -> the server disconnects the sender gracefully
//   ['seen', nodeId]      -> ['seen', ['connected', 'disconnected:remote-closed', ...]] (what the server saw of it)
//   ['stats']             -> ['stats', { readTotal, writeTotal, remoteAddress }] of the sender's connection
// and serves Rpc calls: 'upper' [text] -> the text in capitals; 'askBack' -> calls the caller's 'whoami', answers its answer.
import { X509Certificate, createHash } from 'node:crypto';
import { Node } from '../../lib/node/Node.js';
import { Rpc } from '../../lib/rpc/Rpc.js';
import { selfSigned } from '../helpers/certificates.js';

const { key, cert } = selfSigned('spec-server');
const spki = createHash('sha256')
  .update(new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' }))
  .digest('base64');
const server = new Node<unknown[], string>({ nodeId: 'node-server', tls: { key, cert, rejectUnauthorized: false } });
// Request/reply (msgpack-rpc): 'upper' [text] -> TEXT; 'askBack' [] -> what the caller's own 'whoami' answers.
const rpc = new Rpc(server);
rpc.handle('upper', ([text]: [string]) => text.toUpperCase());
rpc.handle('askBack', (_params, call) => rpc.call<string>(call.from, 'whoami'));
let rejectNext = false;
const seen = new Map<string, string[]>();
const sequences = new Map<string, number[]>();
const record = (nodeId: string, what: string): void => void seen.set(nodeId, [...(seen.get(nodeId) ?? []), what]);

function handle(from: string, message: unknown[]): void {
  const [command, argument] = message;
  switch (command) {
    case 'echo':
      return server.send(from, ['echo', argument]);
    case 'big':
      return server.send(from, ['big', new Uint8Array(argument as number).map((_, i) => i % 251)]);
    case 'burst':
      for (let i = 0; i < (argument as number); i++) server.send(from, ['burst', i]);
      return;
    case 'seq':
      sequences.set(from, [...(sequences.get(from) ?? []), argument as number]);
      return;
    case 'seqReport': {
      const numbers = sequences.get(from) ?? [];
      return server.send(from, ['seqReport', numbers.length, numbers.every((n, i) => n === i)]);
    }
    case 'rejectNext':
      rejectNext = true;
      return server.send(from, ['ok']);
    case 'close':
      void server.disconnect(from);
      return;
    case 'seen':
      return server.send(from, ['seen', seen.get(argument as string) ?? []]);
    case 'stats': {
      const stats = server.stats().connections.find((connection) => connection.nodeId === from);
      return server.send(from, [
        'stats',
        { readTotal: stats?.readTotal, writeTotal: stats?.writeTotal, remoteAddress: stats?.remoteAddress },
      ]);
    }
    default:
      return server.send(from, ['unknown', command]);
  }
}

server.events$.subscribe((event) => {
  switch (event.type) {
    case 'connectionRequest':
      if (rejectNext) {
        rejectNext = false;
        record(event.request.nodeId, 'rejected');
        event.request.reject();
      } else event.request.accept();
      break;
    case 'connected':
      record(event.nodeId, 'connected');
      break;
    case 'disconnected':
      record(event.nodeId, `disconnected:${event.reason}${event.error ? `:${event.error.code}` : ''}`);
      break;
    case 'message':
      handle(event.from, event.message);
      break;
  }
});

// Shown by karma.conf.js: connections that failed before they were accepted (a bad upgrade, TLS...).
server.failures$.subscribe((error) => console.log(`failure ${error.code}: ${error.message}`));

const ws = await server.listen('ws://127.0.0.1:0/msgpacknet');
const wss = await server.listen('wss://127.0.0.1:0/msgpacknet');
console.log(`listening ${ws} ${wss} ${spki}`);
const stop = (): void => void server.close().then(() => process.exit(0));
process.stdin.on('end', stop).resume();
process.on('SIGTERM', stop);
