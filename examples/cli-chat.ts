// A chat over the command line: two `msgpacknet` processes, one listening and one connecting,
// talk through their stdin and stdout (one JSON value per line). The same by hand, in two terminals:
//
//   npx msgpacknet listen 127.0.0.1:4000 --id '"alice"'
//   npx msgpacknet connect 127.0.0.1:4000 --id '"bob"'
//
// then type a JSON value ("hi bob") and Enter in either one; Ctrl-C leaves.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// The installed package's command line (what `npx msgpacknet` runs).
const packageJson = fileURLToPath(import.meta.resolve('msgpacknet/package.json'));
const bin = (JSON.parse(readFileSync(packageJson, 'utf8')) as { bin: { msgpacknet: string } }).bin.msgpacknet;
const cli = join(dirname(packageJson), bin);

type Line = { event: string; address?: string; from?: string; message?: unknown; nodeId?: string; reason?: string };

/** Starts `msgpacknet ...args`; `next(event)` waits for its next stdout line with that event, `say` types a line. */
function start(name: string, ...args: string[]) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (event: string): Promise<Line> => {
    for (let line = await lines.next(); !line.done; line = await lines.next()) {
      const parsed = JSON.parse(line.value) as Line;
      if (parsed.event === event) return parsed;
    }
    throw new Error(`${name} ended before a ${event} line`);
  };
  const say = (text: string) => child.stdin.write(`${JSON.stringify(text)}\n`); // one JSON value per line
  return { child, next, say, exited: once(child, 'exit') };
}

const alice = start('alice', 'listen', '127.0.0.1:0', '--id', '"alice"');
const { address } = await alice.next('listening');
const bob = start('bob', 'connect', address!, '--id', '"bob"');
await Promise.all([alice.next('connected'), bob.next('connected')]);

alice.say('hi bob');
const toBob = await bob.next('message');
console.log(`${toBob.from} -> bob: ${String(toBob.message)}`); // prints: alice -> bob: hi bob

bob.say('hi alice, bye');
const toAlice = await alice.next('message');
console.log(`${toAlice.from} -> alice: ${String(toAlice.message)}`); // prints: bob -> alice: hi alice, bye

bob.child.kill('SIGINT'); // bob leaves: his node closes gracefully
const left = await alice.next('disconnected');
console.log(`${left.nodeId} left (${left.reason})`); // prints: bob left (remote-closed)
alice.child.kill('SIGINT');
await Promise.all([alice.exited, bob.exited]);
