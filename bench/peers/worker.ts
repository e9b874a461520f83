// One process of the rows beside msgpacknet. `node dist/bench/peers/worker.js ROLE ...`; JSON lines on stdout.
// Roles, each pair a listening process and a connecting one (as bench/worker.ts):
//   recv-PEER ; send-PEER ADDRESS KIND SECONDS      one-way throughput
//   pong-PEER ; ping-PEER ADDRESS COUNT             round trips, one in flight
//   ping-mpn / ping-raw ADDRESS COUNT               the ping side of msgpacknet / raw TCP (against
//                                                   bench/worker.ts's pong-mpn / pong-raw), with p99.9
//   probe-mpnWs                                     whether msgpacknet carries ws:// in this build
// PEER is one of PEER_NAMES. Each library is imported only in its own processes (its RSS is its own).
import type { PayloadKind } from '../payloads.js';
import type { PeerName } from '../types.js';
import type { PeerRoles } from './common.js';

const MODULES: Record<PeerName, () => Promise<{ roles: PeerRoles }>> = {
  zeromq: () => import('./zeromq.js'),
  socketio: () => import('./socketio.js'),
  wsValue: () => import('./wsValue.js'),
  wsBatched: () => import('./wsBatched.js'),
  mpnWs: () => import('./mpnWs.js'),
};

const [role = '', ...args] = process.argv.slice(2);
const [op = '', name = ''] = role.split(/-(.*)/s);
const [address = '', second = '', third = ''] = args;

if (role === 'ping-mpn') await (await import('./tcpPing.js')).pingMpn(address, Number(second));
else if (role === 'ping-raw') await (await import('./tcpPing.js')).pingRaw(address, Number(second));
else if (role === 'probe-mpnWs') await (await import('./mpnWs.js')).probe();
else {
  if (!Object.hasOwn(MODULES, name)) throw new Error(`unknown role ${role}`);
  const { roles } = await MODULES[name as PeerName]();
  switch (op) {
    case 'recv':
      await roles.recv();
      break;
    case 'send':
      await roles.send(address, second as PayloadKind, Number(third));
      break;
    case 'pong':
      await roles.pong();
      break;
    case 'ping':
      await roles.ping(address, Number(second));
      break;
    default:
      throw new Error(`unknown role ${role}`);
  }
}
