// `ws` 8 + @msgpack/msgpack, one binary WebSocket message per value, as users write it: `ws.send(encode(value))`
// and `ws.on('message', (data) => decode(data))` (ws's README "Sending binary data" and "Simple server"; one
// Encoder and one Decoder reused, as @msgpack/msgpack's README advises for speed). Server and client with ws's
// defaults (no permessage-deflate on the server, so none on the connection).
//
// Backpressure: ws's docs give `send(data, cb)`, "cb ... invoked when data is written out", and
// `bufferedAmount`. The sender passes the callback to every `send` and, after each batch of values
// (PER_MESSAGE_BATCH values, at most 256 KiB), waits until all of them have been written out, so that no more than one
// batch waits in memory. Round trips: the server answers each message with `send(encode(decode(data)))`.
import { Decoder, Encoder } from '@msgpack/msgpack';
import { WebSocket, WebSocketServer } from 'ws';
import { END, Meter, PER_MESSAGE_BATCH, RoundTrips, report, sendLoop, turn, type PeerRoles } from './common.js';

const encoder = new Encoder();
const decoder = new Decoder();

/** Starts a ws server on 127.0.0.1 and reports its address. */
export function wsListen(onConnection: (ws: WebSocket) => void): Promise<void> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', onConnection);
  return new Promise((resolve) =>
    server.once('listening', () => {
      report({ address: `ws://127.0.0.1:${(server.address() as { port: number }).port}` });
      resolve();
    }),
  );
}

/** A ws client, open. */
export function wsConnect(address: string): Promise<WebSocket> {
  const ws = new WebSocket(address);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Sends with ws's write callback counted, and waits until every send so far has been written out. */
export class WrittenOut {
  private pending = 0;
  private wake: (() => void) | undefined;
  /** The callback to pass to `ws.send`. */
  readonly written = (): void => {
    if (--this.pending === 0) this.wake?.();
  };
  constructor(private readonly ws: WebSocket) {}
  send(bytes: Uint8Array): void {
    this.pending++;
    this.ws.send(bytes, this.written);
  }
  /** Resolves once every message sent so far is written out. */
  all(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }
}

export const roles: PeerRoles = {
  recv() {
    const meter = new Meter();
    let bytes = 0;
    return wsListen((ws) => {
      ws.on('message', (data) => {
        const bytesIn = data as Buffer;
        bytes += bytesIn.length;
        if (decoder.decode(bytesIn) === END) meter.done(bytes);
        else meter.message();
      });
      ws.on('close', () => process.exit(0));
    });
  },

  async send(address, kind, seconds) {
    const ws = await wsConnect(address);
    const out = new WrittenOut(ws);
    await sendLoop(
      kind,
      seconds,
      (value) => out.send(encoder.encode(value)),
      async () => {
        await out.all();
        await turn();
      },
      PER_MESSAGE_BATCH,
    );
    ws.close();
    ws.once('close', () => process.exit(0));
  },

  pong() {
    return wsListen((ws) => {
      ws.on('message', (data) => ws.send(encoder.encode(decoder.decode(data as Buffer))));
    });
  },

  async ping(address, count) {
    const ws = await wsConnect(address);
    const trips = new RoundTrips(count, () => ws.send(encoder.encode(42)));
    ws.on('message', (data) => {
      decoder.decode(data as Buffer);
      trips.reply();
    });
    trips.start();
    report({ rtts: await trips.done });
    ws.terminate();
    process.exit(0);
  },
};
