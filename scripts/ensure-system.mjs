// Before the tests: the system tools the specs use, found or (as root on Debian) installed with apt-get.
//   chromium   the browser specs (Karma, headless)
//   cargo + Debian's serde/rmp-serde crates   the Rust interop peer (spec/interop)
//   nft, ip    the partition specs in network namespaces
//   /usr/bin/python3 with Debian's msgpack   the Python msgpack-rpc peer (spec/interop)
//   /usr/bin/etcd (Debian's etcd-server)   the etcdDiscovery specs (a real etcd on loopback)
// Elsewhere it stops with a message saying exactly what to install.
import { existsSync, readdirSync } from 'node:fs';
import { execSync } from 'node:child_process';

const has = (command) => {
  try {
    execSync(`command -v ${command}`, { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
};
const crate = (prefix) =>
  existsSync('/usr/share/cargo/registry') && readdirSync('/usr/share/cargo/registry').some((dir) => dir.startsWith(prefix));
const pythonMsgpack = () => {
  try {
    execSync('/usr/bin/python3 -c "import msgpack"', { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const chromium = [process.env.CHROME_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser']
  .filter(Boolean)
  .find((path) => existsSync(path));

const needs = [
  { what: 'Chromium (browser specs)', ok: Boolean(chromium), apt: ['chromium'] },
  { what: 'cargo (Rust interop peer)', ok: has('cargo'), apt: ['cargo'] },
  {
    what: "Debian's serde and rmp-serde crates (Rust interop peer)",
    ok: crate('rmp-serde-') && crate('serde_derive-'),
    apt: ['librust-serde-dev', 'librust-serde-derive-dev', 'librust-rmp-serde-dev'],
  },
  { what: 'nftables and iproute2 (partition specs)', ok: has('nft') && has('ip'), apt: ['nftables', 'iproute2'] },
  { what: "Debian's python3-msgpack (Python msgpack-rpc peer)", ok: pythonMsgpack(), apt: ['python3-msgpack'] },
  { what: "Debian's etcd-server (etcdDiscovery specs)", ok: existsSync('/usr/bin/etcd'), apt: ['etcd-server'] },
];
const missing = needs.filter((need) => !need.ok);
if (missing.length === 0) process.exit(0);

const packages = missing.flatMap((need) => need.apt);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && existsSync('/etc/debian_version')) {
  console.log(`installing with apt-get: ${packages.join(' ')} (for ${missing.map((need) => need.what).join('; ')})`);
  execSync(`apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${packages.join(' ')} >/dev/null`, {
    stdio: 'inherit',
    shell: '/bin/sh',
  });
  process.exit(0);
}
console.error(`The tests need: ${missing.map((need) => need.what).join('; ')}.`);
console.error(`On Debian or Ubuntu: sudo apt-get install -y ${packages.join(' ')}`);
console.error('Or point CHROME_BIN at a Chrome/Chromium binary for the browser specs.');
process.exit(1);
