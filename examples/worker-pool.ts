// A worker pool: a coordinator hands jobs to worker processes and collects the results.
// Workers prove themselves with a token in their init message; a worker that dies has its
// unfinished jobs put back in the queue; writable$ and drain() keep the queues bounded.
//
// One file, two roles: run it plainly for the coordinator, which starts the workers as child
// processes of this same file with `worker ID TOKEN ADDRESS [crash]` (see examples/README.md to run it).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { concatMap } from 'rxjs';
import { Node } from 'msgpacknet';

type Job = { type: 'job'; id: number; data: Uint8Array };
type Result = { type: 'result'; id: number; sum: number };
type Init = { token: string } | null;

const TOKEN = 'let-me-work';
const JOBS = 24;
const IN_FLIGHT = 4; // jobs a worker holds at most
const WORKERS = 3; // started below, with an intruder that does not know the token

const [role, ...args] = process.argv.slice(2);
if (role === 'worker') await worker(args[0]!, args[1]!, args[2]!, args[3] === 'crash');
else await coordinator();

async function coordinator(): Promise<void> {
  // writeHighWaterMark: a connection with more than 256 KiB queued is not writable$.
  const node = new Node<Job | Result, string, Init>({ nodeId: 'coordinator', writeHighWaterMark: 256 * 1024 });
  const address = await node.listen('127.0.0.1:0');

  const queue: Job[] = Array.from({ length: JOBS }, (_, id) => ({ type: 'job', id, data: new Uint8Array(100_000).fill(id) }));
  const inFlight = new Map<string, Map<number, Job>>(); // by worker: the jobs it holds
  const writable = new Map<string, boolean>(); // by worker: from writable$
  const sums = new Map<number, number>(); // by job id
  // This coordinator waits for all its workers and for the intruder's turn, so every run is the same
  // (a slow start must not bring the intruder to a coordinator that is already closing).
  let started = false;
  let turnedAway = false;
  const ready = (): boolean => inFlight.size === WORKERS && turnedAway;
  let allDone!: () => void;
  const done = new Promise<void>((resolve) => (allDone = resolve));

  const dispatch = (): void => {
    if (!started) return;
    for (const [worker, jobs] of inFlight) {
      while (queue.length > 0 && jobs.size < IN_FLIGHT && writable.get(worker)) {
        const job = queue.shift()!;
        jobs.set(job.id, job);
        node.send(worker, job);
      }
    }
  };

  node.events$.subscribe((event) => {
    switch (event.type) {
      case 'connectionRequest': {
        const { request } = event;
        if (request.initMessage?.token === TOKEN) request.accept();
        else {
          console.log(`rejected ${request.nodeId}: bad token`);
          request.reject(); // the peer sees its connection closed ('remote-closed')
          turnedAway = true;
          started ||= ready();
          dispatch();
        }
        break;
      }
      case 'connected': {
        const worker = event.nodeId;
        console.log(`${worker} joined`);
        inFlight.set(worker, new Map());
        // Backpressure: stop sending to a worker whose queue is over the high-water mark, go on when it drains.
        node.writable$(worker).subscribe((ok) => {
          writable.set(worker, ok);
          dispatch();
        });
        started ||= ready();
        dispatch();
        break;
      }
      case 'message': {
        const { message } = event;
        if (message.type !== 'result') break;
        inFlight.get(event.from)?.delete(message.id);
        sums.set(message.id, message.sum);
        if (sums.size === JOBS) allDone();
        else dispatch();
        break;
      }
      case 'disconnected': {
        const jobs = inFlight.get(event.nodeId);
        inFlight.delete(event.nodeId);
        writable.delete(event.nodeId);
        if (jobs && jobs.size > 0) {
          queue.unshift(...jobs.values()); // re-queue what it had not finished
          console.log(`${event.nodeId} left (${event.reason}): ${jobs.size} job(s) back in the queue`);
        }
        dispatch();
        break;
      }
    }
  });

  const start = (...args: string[]) =>
    once(
      spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'worker', ...args], { stdio: ['ignore', 'inherit', 'inherit'] }),
      'exit',
    );
  const exits = [
    start('worker-1', TOKEN, address),
    start('worker-2', TOKEN, address),
    start('worker-3', TOKEN, address, 'crash'), // dies on its second job
    start('intruder', 'guessed', address),
  ];

  await done;
  const total = [...sums.values()].reduce((a, b) => a + b, 0);
  console.log(`all ${JOBS} jobs done, total ${total}`);
  await node.close(); // the workers see 'disconnected' and exit
  await Promise.all(exits);
}

async function worker(id: string, token: string, address: string, crash: boolean): Promise<void> {
  const node = new Node<Job | Result, string, Init>({ nodeId: id, initMessage: { token } });
  // Resolves even when the coordinator rejects us: the wire has no rejection message.
  const coordinator = await node.connect(address);
  let jobs = 0;
  node.events$
    .pipe(
      concatMap(async (event) => {
        if (event.type === 'message' && event.message.type === 'job') {
          jobs += 1;
          if (crash && jobs === 2) process.exit(1); // a crash, with jobs in flight
          const { id: jobId, data } = event.message;
          await sleep(5); // the "work"
          node.send(coordinator, { type: 'result', id: jobId, sum: data.reduce((a, b) => a + b, 0) });
          await node.drain(coordinator); // wait while our queue to the coordinator is over its high-water mark
        } else if (event.type === 'disconnected') {
          if (jobs === 0) console.log(`${id}: connect() resolved, then the connection ended (${event.reason}): rejected`);
          await node.close(); // the process exits when nothing is left open
        }
      }),
    )
    .subscribe();
}
