// zeromq.js 6 beside msgpacknet, each message one value encoded with @msgpack/msgpack (one Encoder and one
// Decoder reused, as @msgpack/msgpack's README advises for speed).
//
// - One-way: PUSH/PULL, ZeroMQ's pipeline pattern, as in zeromq.js's README ("Push/Pull": the producer
//   `await sock.send(...)` per message, the worker `for await (const [msg] of sock)`). Backpressure is
//   ZeroMQ's own, as its API docs describe `send`: it resolves at once while the message can be queued and
//   waits once the high-water mark (the default 1000 messages on each side) is reached. Only one `send` is in
//   flight at a time, as the docs require; the sender yields one event-loop turn every PER_MESSAGE_BATCH values.
// - Round trips: DEALER/ROUTER (the ZeroMQ Guide's asynchronous request/reply; the API docs' Dealer and
//   Router): the DEALER `await send` then `await receive()`, the ROUTER `for await (const [id, msg] of sock)`
//   and `await sock.send([id, reply])`.
import { Decoder, Encoder } from '@msgpack/msgpack';
import { Dealer, Pull, Push, Router } from 'zeromq';
import { END, Meter, PER_MESSAGE_BATCH, pingLoop, report, sendLoop, turn, type PeerRoles } from './common.js';

const encoder = new Encoder();
const decoder = new Decoder();

export const roles: PeerRoles = {
  async recv() {
    const pull = new Pull();
    await pull.bind('tcp://127.0.0.1:*');
    report({ address: pull.lastEndpoint });
    const meter = new Meter();
    let bytes = 0;
    for await (const [message] of pull) {
      bytes += message!.length;
      if (decoder.decode(message!) === END) {
        meter.done(bytes);
        process.exit(0);
      }
      meter.message();
    }
  },

  async send(address, kind, seconds) {
    // A linger long enough to deliver END after close(): zeromq.js gives sockets none by default.
    const push = new Push({ linger: 10_000 });
    push.connect(address);
    await sendLoop(kind, seconds, (value) => push.send(encoder.encode(value)), turn, PER_MESSAGE_BATCH);
    push.close();
  },

  async pong() {
    const router = new Router();
    await router.bind('tcp://127.0.0.1:*');
    report({ address: router.lastEndpoint });
    for await (const [id, message] of router) await router.send([id!, encoder.encode(decoder.decode(message!))]);
  },

  async ping(address, count) {
    const dealer = new Dealer();
    dealer.connect(address);
    const rtts = await pingLoop(count, async () => {
      await dealer.send(encoder.encode(42));
      const [reply] = await dealer.receive();
      decoder.decode(reply!);
    });
    report({ rtts });
    dealer.close();
    process.exit(0);
  },
};
