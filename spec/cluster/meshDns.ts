// The DNS server of the cluster mesh spec (mesh.spec.ts), in a namespace of its own on the mesh's subnet:
// the spec's DnsServer (spec/helpers/dnsServer.ts) on this namespace's address, its records set by the
// driver over the IPC channel. argv[2]: its DnsConfig as JSON.
import { DnsServer } from '../helpers/dnsServer.js';
import type { DnsConfig, MeshCommand, MeshReport } from './meshProtocol.js';

const config = JSON.parse(process.argv[2]!) as DnsConfig;
const report = (value: MeshReport): void => {
  if (process.connected) process.send!(value);
};
process.on('disconnect', () => process.exit(3));

const server = await DnsServer.start(config.host, config.port);
process.on('message', (command: MeshCommand) => {
  if (command.cmd === 'records') {
    server.set(
      command.name,
      command.addresses.map((data) => ({ type: 'A', data })),
    );
    report({ type: 'records', id: command.id, at: Date.now(), queries: server.queries.length });
  } else if (command.cmd === 'close') void server.close().then(() => process.exit(0));
});
report({ type: 'listening', at: Date.now(), pid: process.pid });
