// Raw `ws` 8 carrying the raw baseline's batched MessagePack stream: what msgpacknet does over ws:// (one binary
// WebSocket message per write batch, the messages read as one continuous byte stream), written by hand. The
// baseline of issue 12's ">= 0.9" for msgpacknet over ws://, as raw TCP is for msgpacknet over TCP.
//
// The sender encodes each batch of values into one buffer (RawBatcher, as the raw TCP baseline) and sends it as
// one message, waiting for ws's send callback ("invoked when data is written out") before the next batch, as
// the raw TCP sender waits for 'drain'. The receiver scans each message for value ends and decodes the
// complete values with decodeMulti, joining a value cut across messages. Round trips as the raw TCP ones.
import { Encoder } from '@msgpack/msgpack';
import { END, Meter, RoundTrips, report, sendLoop, turn, type PeerRoles } from './common.js';
import { RawBatcher, rawReader } from './rawStream.js';
import { wsConnect, wsListen } from './wsValue.js';

export const roles: PeerRoles = {
  recv() {
    const meter = new Meter();
    let bytes = 0;
    return wsListen((ws) => {
      const read = rawReader((value) => {
        if (value === END) meter.done(bytes);
        else meter.message();
      });
      ws.on('message', (data) => {
        const chunk = data as Buffer;
        bytes += chunk.length;
        read(chunk);
      });
      ws.on('close', () => process.exit(0));
    });
  },

  async send(address, kind, seconds) {
    const ws = await wsConnect(address);
    const batcher = new RawBatcher((bytes) => new Promise((resolve) => ws.send(bytes, () => resolve())));
    await sendLoop(
      kind,
      seconds,
      (value) => batcher.add(value),
      async () => {
        await batcher.flush();
        await turn();
      },
    );
    ws.close();
    ws.once('close', () => process.exit(0));
  },

  pong() {
    const encoder = new Encoder();
    return wsListen((ws) => {
      const read = rawReader((value) => ws.send(encoder.encode(value)));
      ws.on('message', (data) => read(data as Buffer));
    });
  },

  async ping(address, count) {
    const ws = await wsConnect(address);
    const encoder = new Encoder();
    const trips = new RoundTrips(count, () => ws.send(encoder.encode(42)));
    const read = rawReader(() => trips.reply());
    ws.on('message', (data) => read(data as Buffer));
    trips.start();
    report({ rtts: await trips.done });
    ws.terminate();
    process.exit(0);
  },
};
