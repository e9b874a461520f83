// socket.io 4 beside msgpacknet, with socket.io-msgpack-parser on both sides (its README: "you MUST use the
// parser on both sides") and the WebSocket transport only (`transports: ['websocket']` on the server and the
// client, as socket.io's docs show for skipping HTTP long-polling). One `emit('m', value)` per value.
//
// Backpressure: `emit` has none (it queues without bound); socket.io's how-to "How to implement back pressure"
// says to wait for acknowledgements. The sender therefore ends each batch of values (PER_MESSAGE_BATCH values,
// at most 256 KiB) with `emitWithAck('sync')` and keeps at most two batches unacknowledged, so that the pipe
// stays full while the queue stays bounded. Round trips: the server answers each `m` with `emit('m', value)`.
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import * as parser from 'socket.io-msgpack-parser';
import { createServer } from 'node:http';
import { END, Meter, PER_MESSAGE_BATCH, RoundTrips, report, sendLoop, turn, type PeerRoles } from './common.js';

/** Starts a socket.io server on 127.0.0.1 and reports its address. */
function listen(onConnection: (socket: ServerSocket) => void): void {
  const http = createServer();
  const server = new Server(http, { parser, transports: ['websocket'] });
  server.on('connection', onConnection);
  http.listen(0, '127.0.0.1', () => report({ address: `http://127.0.0.1:${(http.address() as { port: number }).port}` }));
}

/** A socket.io client, connected. */
function connect(address: string): Promise<ClientSocket> {
  const socket = io(address, { parser, transports: ['websocket'] });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

export const roles: PeerRoles = {
  recv() {
    const meter = new Meter();
    let bytes = 0;
    listen((socket) => {
      // What the receiver read of socket.io's own packets (the engine's message packets, as the wire carries them).
      socket.conn.on('packet', (packet: { type: string; data?: unknown }) => {
        if (packet.type === 'message' && Buffer.isBuffer(packet.data)) bytes += packet.data.length;
      });
      socket.on('m', (value: unknown) => {
        if (value === END) meter.done(bytes);
        else meter.message();
      });
      socket.on('sync', (ack: () => void) => ack());
      socket.on('disconnect', () => process.exit(0));
    });
    return Promise.resolve();
  },

  async send(address, kind, seconds) {
    const socket = await connect(address);
    const unacknowledged: Promise<unknown>[] = [];
    await sendLoop(
      kind,
      seconds,
      (value) => {
        socket.emit('m', value);
      },
      async () => {
        unacknowledged.push(socket.emitWithAck('sync'));
        if (unacknowledged.length >= 2) await unacknowledged.shift();
        await turn();
      },
      PER_MESSAGE_BATCH,
    );
    await Promise.all(unacknowledged);
    socket.disconnect();
    process.exit(0);
  },

  pong() {
    listen((socket) => {
      socket.on('m', (value: unknown) => socket.emit('m', value));
    });
    return Promise.resolve();
  },

  async ping(address, count) {
    const socket = await connect(address);
    const trips = new RoundTrips(count, () => socket.emit('m', 42));
    socket.on('m', () => trips.reply());
    trips.start();
    report({ rtts: await trips.done });
    socket.disconnect();
    process.exit(0);
  },
};
