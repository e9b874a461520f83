// The ping side of the msgpacknet and raw TCP round trips (against bench/worker.ts's pong-mpn and pong-raw),
// reporting p99.9 as well: the same code as bench/worker.ts's ping roles, through RoundTrips.
import { Encoder } from '@msgpack/msgpack';
import { connect as netConnect, type Socket } from 'node:net';
import { Node } from '../../lib/index.js';
import { report, RoundTrips, hostPort } from './common.js';
import { rawReader } from './rawStream.js';

/** msgpacknet over TCP: `send` the value 42, the answer comes back as a `message` event. */
export async function pingMpn(address: string, count: number): Promise<void> {
  const node = new Node<number, string>({ nodeId: 'ping' });
  const peer = await node.connect(address);
  const trips = new RoundTrips(count, () => node.send(peer, 42));
  node.events$.subscribe((event) => {
    if (event.type === 'message') trips.reply();
  });
  trips.start();
  report({ rtts: await trips.done });
  await node.close();
  process.exit(0);
}

/** node:net + @msgpack/msgpack, one write per value, the raw reader on the answers. */
export async function pingRaw(address: string, count: number): Promise<void> {
  const socket = await new Promise<Socket>((resolve) => {
    const opened = netConnect({ ...hostPort(address), noDelay: true }, () => resolve(opened));
  });
  const encoder = new Encoder();
  const trips = new RoundTrips(count, () => socket.write(encoder.encode(42)));
  socket.on(
    'data',
    rawReader(() => trips.reply()),
  );
  trips.start();
  report({ rtts: await trips.done });
  socket.end(() => process.exit(0));
}
