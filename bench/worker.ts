// One benchmark process. `node build/bench/worker.js ROLE ...`; it reports JSON lines on stdout.
// Roles come in pairs (a receiver or server in one process, a sender or client in another):
//   recv-mpn / send-mpn, recv-raw / send-raw      one-way throughput
//   recv-bare / send-bare                         a bare socket pipe: the bytes of the 64k row, no MessagePack
//   pong-mpn, pong-raw                            the pong side of round trips (the ping side: bench/peers/tcpPing.ts)
//   scale-mpn / scale-raw, scale-clients           N connections to one node
// With MPN_TLS=DIR (node.key, node.crt: a self-signed certificate for 127.0.0.1), the one-way roles
// run over TLS: msgpacknet on tls://, the raw baseline on node:tls, both trusting that certificate.
import { Encoder as MsgpackEncoder } from '@msgpack/msgpack';
import { readFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { createServer as tlsServer, connect as tlsConnect } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { Node } from '../lib/index.js';
import { payload, type PayloadKind } from './payloads.js';
import { END, Meter, report, sendLoop, turn } from './peers/common.js';
import { RawBatcher, rawReader } from './peers/rawStream.js';

const [role = '', ...args] = process.argv.slice(2);

const TLS_DIR = process.env['MPN_TLS'];
const TLS =
  TLS_DIR === undefined
    ? undefined
    : { key: readFileSync(`${TLS_DIR}/node.key`, 'utf8'), cert: readFileSync(`${TLS_DIR}/node.crt`, 'utf8') };
/** The node options and listen address of the one-way roles: plain TCP, or TLS with MPN_TLS. */
const NODE_TLS = TLS === undefined ? {} : { tls: { ...TLS, ca: TLS.cert } };
const LISTEN = TLS === undefined ? '127.0.0.1:0' : 'tls://127.0.0.1:0';

function rawListen(onSocket: (socket: Socket) => void): Promise<string> {
  return new Promise((resolve) => {
    const server = TLS === undefined ? createServer({ noDelay: true }, onSocket) : tlsServer({ ...TLS, ca: TLS.cert }, onSocket);
    server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as { port: number }).port}`));
  });
}

function rawConnect(address: string): Promise<Socket> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve) => {
    if (TLS !== undefined) {
      const secure = tlsConnect({ ...TLS, ca: TLS.cert, host, port: Number(port) }, () => resolve(secure));
      secure.setNoDelay(true);
      return;
    }
    const socket = netConnect({ host, port: Number(port), noDelay: true }, () => resolve(socket));
  });
}

async function main(): Promise<void> {
  switch (role) {
    case 'recv-mpn': {
      const node = new Node<unknown, string>({ nodeId: 'receiver', maxValueBytes: 1 << 20, ...NODE_TLS });
      const meter = new Meter();
      node.events$.subscribe((event) => {
        if (event.type === 'connectionRequest') event.request.accept();
        else if (event.type === 'message') {
          if (event.message === END) {
            meter.done(node.stats().connections[0]?.readTotal ?? 0);
            void node.close().then(() => process.exit(0));
          } else meter.message();
        }
      });
      report({ address: (await node.listen(LISTEN)).replace(/^tls:\/\//, '') });
      break;
    }
    case 'send-mpn': {
      const [address = '', kind, seconds] = args;
      const node = new Node<unknown, string>({ nodeId: 'sender', maxValueBytes: 1 << 20, ...NODE_TLS });
      const peer = await node.connect(TLS === undefined ? address : `tls://${address}`);
      let writable = true;
      node.writable$(peer).subscribe((value) => (writable = value));
      await sendLoop(
        kind as PayloadKind,
        Number(seconds),
        (value) => node.send(peer, value),
        () => (writable ? turn() : node.drain(peer)),
      );
      await node.close();
      process.exit(0);
      break;
    }
    case 'recv-raw': {
      const meter = new Meter();
      let bytes = 0;
      report({
        address: await rawListen((socket) => {
          const read = rawReader((value) => {
            if (value === END) {
              meter.done(bytes);
              process.exit(0);
            } else meter.message();
          });
          socket.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            read(chunk);
          });
        }),
      });
      break;
    }
    case 'send-raw': {
      const [address = '', kind, seconds] = args;
      const socket = await rawConnect(address);
      const batcher = new RawBatcher((out) =>
        socket.write(out) ? Promise.resolve() : new Promise<void>((resolve) => socket.once('drain', () => resolve())),
      );
      await sendLoop(
        kind as PayloadKind,
        Number(seconds),
        (value) => batcher.add(value),
        async () => {
          await batcher.flush();
          await turn();
        },
      );
      socket.end(() => process.exit(0));
      break;
    }
    case 'recv-bare': {
      // Bytes only: what a socket pipe moves on this machine, the ceiling of the 64k row.
      const meter = new Meter();
      let bytes = 0;
      report({
        address: await rawListen((socket) => {
          socket.on('data', (chunk: Buffer) => {
            if (bytes === 0) meter.message();
            bytes += chunk.length;
          });
          socket.on('end', () => {
            meter.count = Math.floor(bytes / payload('64k').size);
            meter.done(bytes);
            process.exit(0);
          });
        }),
      });
      break;
    }
    case 'send-bare': {
      const [address = '', , seconds] = args;
      const socket = await rawConnect(address);
      // The 64k row's batches: 256 KiB per turn, written as one buffer, waiting for drain as raw does.
      const batch = Buffer.alloc(Math.max(1, Math.floor((256 * 1024) / payload('64k').size)) * payload('64k').size, 7);
      const deadline = performance.now() + Number(seconds) * 1000;
      let sent = 0;
      while (performance.now() < deadline) {
        if (!socket.write(batch)) await new Promise((resolve) => socket.once('drain', resolve));
        sent += batch.length / payload('64k').size;
        await turn();
      }
      report({ sent });
      socket.end(() => process.exit(0));
      break;
    }
    case 'pong-mpn': {
      const node = new Node<unknown, string>({ nodeId: 'pong' });
      node.events$.subscribe((event) => {
        if (event.type === 'connectionRequest') event.request.accept();
        else if (event.type === 'message') node.send(event.from, event.message);
        else if (event.type === 'disconnected') void node.close().then(() => process.exit(0));
      });
      report({ address: await node.listen('127.0.0.1:0') });
      break;
    }
    case 'pong-raw': {
      const encoder = new MsgpackEncoder();
      report({
        address: await rawListen((socket) => {
          const read = rawReader((value) => socket.write(encoder.encode(value)));
          socket.on('data', read);
          socket.on('end', () => process.exit(0));
        }),
      });
      break;
    }
    case 'scale-mpn':
    case 'scale-raw': {
      const [connections = '0', rounds = '0'] = args;
      const n = Number(connections);
      global.gc?.();
      const before = process.memoryUsage().rss;
      let connected = 0;
      let firstAt = 0;
      const onConnected = (): void => {
        if (connected++ === 0) firstAt = performance.now();
        if (connected === n) {
          global.gc?.();
          report({
            connected,
            establishSeconds: (performance.now() - firstAt) / 1000,
            rssPerConnection: (process.memoryUsage().rss - before) / n,
          });
        }
      };
      const sockets: Socket[] = [];
      let node: Node<unknown, string> | undefined;
      if (role === 'scale-mpn') {
        node = new Node<unknown, string>({ nodeId: 'hub', maxConnections: n + 10, maxPendingHandshakes: n + 10 });
        node.events$.subscribe((event) => {
          if (event.type === 'connectionRequest') event.request.accept();
          else if (event.type === 'connected') onConnected();
        });
        report({ address: await node.listen('127.0.0.1:0') });
      } else {
        report({
          address: await rawListen((socket) => {
            sockets.push(socket);
            socket.write(Uint8Array.of(0x92, 0xc0, 0xa3, 0x68, 0x75, 0x62));
            onConnected();
          }),
        });
      }
      // the coordinator says "go" on stdin: fan out `rounds` tiny messages to every connection
      process.stdin.once('data', () => {
        const started = performance.now();
        const encoder = new MsgpackEncoder();
        const stats = node?.stats().connections ?? [];
        for (let round = 0; round < Number(rounds); round++) {
          if (node) for (const connection of stats) node.send(connection.nodeId, round & 0x7f);
          else for (const socket of sockets) socket.write(encoder.encode(round & 0x7f));
        }
        report({ fanoutQueuedSeconds: (performance.now() - started) / 1000 });
      });
      break;
    }
    case 'scale-clients': {
      const [address = '', connections = '0', rounds = '0'] = args;
      const n = Number(connections);
      let received = 0;
      let startedAt = 0;
      const sockets: Socket[] = [];
      const handshakeLength = 6;
      const open = async (i: number): Promise<void> => {
        const socket = await rawConnect(address);
        socket.write(Uint8Array.of(0x92, 0xc0, 0xcd, (i >> 8) & 0xff, i & 0xff));
        let skip = handshakeLength;
        socket.on('data', (chunk: Buffer) => {
          const skipped = Math.min(skip, chunk.length);
          skip -= skipped;
          if (received === 0 && chunk.length > skipped) startedAt = performance.now();
          received += chunk.length - skipped;
          if (received === n * Number(rounds)) report({ fanoutSeconds: (performance.now() - startedAt) / 1000, received });
        });
        sockets.push(socket);
      };
      for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, j) => open(i + j)));
      report({ opened: sockets.length });
      break;
    }
    default:
      throw new Error(`unknown role ${role}`);
  }
}

await main();
