// Finds a Chromium for the browser specs; installs Debian's when we are root on Debian and none is there.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

const candidates = [process.env.CHROME_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(Boolean);
const found = candidates.find((path) => existsSync(path));
if (found) {
  console.log(`chromium: ${found}`);
  process.exit(0);
}
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && existsSync('/etc/debian_version')) {
  console.log("chromium: not found; installing Debian's chromium with apt-get");
  execSync('apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium', { stdio: 'inherit' });
  process.exit(existsSync('/usr/bin/chromium') ? 0 : 1);
}
console.error(
  'The browser specs need Chromium. Install it (Debian/Ubuntu: `sudo apt-get install -y chromium`) ' +
    'or point CHROME_BIN at a Chrome or Chromium binary, then run the tests again.',
);
process.exit(1);
