// Issue 9, the re-entrancy matrix: from inside every event handler of `node.events$`, call every public
// method of the Node (and of the ConnectionRequest where one is at hand), over real loopback sockets.
// Each cell checks that the call works or gives its documented typed error (class and code, never the
// message), that nothing escapes the event stream (no unhandled RxJS error, no uncaught exception, no
// unhandled rejection), that nothing hangs (every wait is bounded), and that the follow-up events arrive
// exactly once: one `connected` per side, one `disconnected` per registered connection, `closed` once,
// messages once each and in order.
import { config, take } from 'rxjs';
import type { ConnectionRequest } from '../../lib/node/ConnectionRequest.js';
import { NetError, type NetErrorCode } from '../../lib/errors.js';
import type { NodeEvent } from '../../lib/events.js';
import type { Node } from '../../lib/node/Node.js';
import type { NodeStats } from '../../lib/stats.js';
import { listening, sleep, until, type EventLog } from '../helpers/nodes.js';

type Msg = string;
type Event = NodeEvent<Msg, string, null>;

/** A node of the scenario: `a` is the node under test, `b` its peer, `c` a third node `a` may connect to. */
interface Member {
  readonly node: Node<Msg, string>;
  readonly address: string;
  readonly log: EventLog<Msg>;
}
interface World {
  readonly a: Member;
  readonly b: Member;
  readonly c: Member;
}

/** How long `receive({ timeout })` waits when called from a handler. */
const RECEIVE_TIMEOUT = 1000;
/** Bound on any single wait of a case (a call settling, an event arriving, a close): beyond it, the case reports a hang. */
const BOUND = 5000;

// ---------------------------------------------------------------------------------------------------
// The rows: which event of `a` the call is made from, and how the scenario reaches it.
//
// connectionRequest           b connects to a; a's handler gets the request (then accepts it if still pending)
// connected (accepting side)  b connects to a, a accepts; a's handler gets `connected` for b
// connected (connecting side) a connects to b (b accepts); a's handler gets `connected` for b
// message                     b is connected and sends m1, m2, m3 in one go; a's handler gets m1
// disconnected                b is connected, then b.disconnect(a); a's handler gets `disconnected` for b
// closing                     b is connected, then a.close(); a's handler gets `closing`
// closed                      b is connected, then a.close(); a's handler gets `closed`
// ---------------------------------------------------------------------------------------------------
const ROWS = [
  'connectionRequest',
  'connected (accepting side)',
  'connected (connecting side)',
  'message',
  'disconnected',
  'closing',
  'closed',
] as const;
type Row = (typeof ROWS)[number];

/** Does `event` (on a) trigger the call for this row? (Only the first such event does.) */
function triggers(row: Row, event: Event): boolean {
  switch (row) {
    case 'connectionRequest':
      return event.type === 'connectionRequest' && event.request.nodeId === 'b';
    case 'connected (accepting side)':
    case 'connected (connecting side)':
      return event.type === 'connected' && event.nodeId === 'b';
    case 'message':
      return event.type === 'message' && event.from === 'b';
    case 'disconnected':
      return event.type === 'disconnected' && event.nodeId === 'b';
    case 'closing':
    case 'closed':
      return event.type === row;
  }
}

/** An event as a short string, for counting and for comparing with the table. */
function summary(event: Event | NodeEvent<Msg>): string {
  switch (event.type) {
    case 'connectionRequest':
      return `connectionRequest:${String(event.request.nodeId)}`;
    case 'connected':
      return `connected:${String(event.nodeId)}`;
    case 'message':
      return `message:${String(event.from)}:${event.message}`;
    case 'disconnected':
      return `disconnected:${String(event.nodeId)}:${event.reason}`;
    case 'closing':
    case 'closed':
      return event.type;
  }
}

// ---------------------------------------------------------------------------------------------------
// The columns: the public methods, each as one call made from inside the handler.
// ---------------------------------------------------------------------------------------------------
interface Call {
  readonly world: World;
  readonly request: ConnectionRequest<Msg, string, null> | undefined;
}
interface Method {
  /** Documented to return a Promise: it must reject, never throw synchronously. */
  readonly returnsPromise: boolean;
  invoke(call: Call): unknown;
  /** What of a successful result is compared with the table. */
  view?(value: unknown, world: World): unknown;
}

const METHODS = {
  'send(peer)': { returnsPromise: false, invoke: ({ world }) => world.a.node.send('b', 'from-a') },
  'send(self)': { returnsPromise: false, invoke: ({ world }) => world.a.node.send('a', 'self') },
  'request.accept()': { returnsPromise: false, invoke: ({ request }) => request!.accept() },
  'request.reject()': { returnsPromise: false, invoke: ({ request }) => request!.reject() },
  'connect(third)': { returnsPromise: true, invoke: ({ world }) => world.a.node.connect(world.c.address) },
  'disconnect(peer)': { returnsPromise: true, invoke: ({ world }) => world.a.node.disconnect('b') },
  'close()': { returnsPromise: true, invoke: ({ world }) => world.a.node.close() },
  'stats()': {
    returnsPromise: false,
    invoke: ({ world }) => world.a.node.stats(),
    view: (value) => (value as NodeStats<string>).connections.map((connection) => connection.nodeId),
  },
  'receive({timeout})': {
    returnsPromise: true,
    invoke: ({ world }) => world.a.node.receive({ timeout: RECEIVE_TIMEOUT }),
    view: (value) => summary(value as Event),
  },
  'isConnected(peer)': { returnsPromise: false, invoke: ({ world }) => world.a.node.isConnected('b') },
  connectionCount: { returnsPromise: false, invoke: ({ world }) => world.a.node.connectionCount },
  'addresses()': {
    returnsPromise: false,
    invoke: ({ world }) => world.a.node.addresses(),
    view: (value, world) => (value as string[]).map((address) => (address === world.a.address ? '<a>' : address)),
  },
  'writable$(peer)': {
    returnsPromise: false,
    // Subscribed at once, in the handler: the first value is the state at the time of the call.
    invoke: ({ world }) => {
      const values: boolean[] = [];
      world.a.node
        .writable$('b')
        .pipe(take(1))
        .subscribe((writable) => values.push(writable));
      return values;
    },
    view: (value) => (value as boolean[])[0],
  },
  'drain(peer)': { returnsPromise: true, invoke: ({ world }) => world.a.node.drain('b') },
} satisfies Record<string, Method>;
type MethodName = keyof typeof METHODS;

// ---------------------------------------------------------------------------------------------------
// The expected outcome of every cell, from the contract (CONTRACT.md) and the README:
// - `connected` means accepted and registered: send/writable$/drain to that peer work from its handler,
//   on both sides; before it (connectionRequest) and after `disconnected` there is no connection:
//   send/writable$ throw NOT_CONNECTED, disconnect/drain reject NOT_CONNECTED.
// - `closing`: connections still usable (sends work synchronously), but close() has been called, so
//   connect rejects ALREADY_CLOSED; disconnect(peer) is not named by the contract: it may work or reject
//   ALREADY_CLOSED, and either way the peer gets exactly one `disconnected`.
// - `closed`: send throws, connect/disconnect reject ALREADY_CLOSED; writable$/drain have no connection
//   (README: NOT_CONNECTED) on a closed node (Node.ts: ALREADY_CLOSED): either code; addresses() is empty;
//   receive() resolves with `closed`.
// - close() is idempotent everywhere; Promise-returning methods reject, never throw synchronously.
// - receive() resolves with the next event of the scenario (it takes nothing from other subscribers),
//   or rejects with TIMEOUT when none comes (after b left, nothing happens on a).
// `works(v)` compares the method's view of the result with v; `fails(code...)` is a NetError with that code.
// ---------------------------------------------------------------------------------------------------
interface Expect {
  /** The call may work; with `value`, its view must equal it. */
  readonly works?: { readonly value?: unknown; readonly compare: boolean };
  /** NetError codes it may fail with. */
  readonly codes: readonly NetErrorCode[];
}
const works = (...value: unknown[]): Expect => ({ works: { value: value[0], compare: value.length > 0 }, codes: [] });
const fails = (...codes: NetErrorCode[]): Expect => ({ codes });
const worksOr = (...codes: NetErrorCode[]): Expect => ({ works: { compare: false }, codes });
const NA = null;

type RowCells = readonly [Expect | null, Expect | null, Expect | null, Expect | null, Expect | null, Expect | null, Expect | null];
const NC = 'NOT_CONNECTED';
const AC = 'ALREADY_CLOSED';

// prettier-ignore
const EXPECTED: Record<MethodName, RowCells> = {
  //                      connectionRequest             connected (accepting)  connected (connecting)  message                disconnected          closing                          closed
  'send(peer)':          [fails(NC),                    works(),               works(),                works(),               fails(NC),            works(),                         fails(AC)],
  'send(self)':          [works(),                      works(),               works(),                works(),               works(),              works(),                         fails(AC)],
  'request.accept()':    [works(true),                  NA,                    NA,                     NA,                    NA,                   NA,                              NA],
  'request.reject()':    [works(true),                  NA,                    NA,                     NA,                    NA,                   NA,                              NA],
  'connect(third)':      [works('c'),                   works('c'),            works('c'),             works('c'),            works('c'),           fails(AC),                       fails(AC)],
  'disconnect(peer)':    [fails(NC),                    works(),               works(),                works(),               fails(NC),            worksOr(AC),                     fails(AC)],
  'close()':             [works(),                      works(),               works(),                works(),               works(),              works(),                         works()],
  'stats()':             [works([]),                    works(['b']),          works(['b']),           works(['b']),          works([]),            works(['b']),                    works([])],
  'receive({timeout})':  [works('connected:b'),         works('message:b:m1'), works('message:b:m1'),  works('message:b:m2'), fails('TIMEOUT'),     works('disconnected:b:closed'),  works('closed')],
  'isConnected(peer)':   [works(false),                 works(true),           works(true),            works(true),           works(false),         works(true),                     works(false)],
  connectionCount:       [works(0),                     works(1),              works(1),               works(1),              works(0),             works(1),                        works(0)],
  'addresses()':         [works(['<a>']),               works(['<a>']),        works(['<a>']),         works(['<a>']),        works(['<a>']),       works(['<a>']),                  works([])],
  'writable$(peer)':     [fails(NC),                    works(true),           works(true),            works(true),           fails(NC),            works(true),                     fails(AC, NC)],
  'drain(peer)':         [fails(NC),                    works(),               works(),                works(),               fails(NC),            works(),                         fails(AC, NC)],
};

function describeExpect(expected: Expect): string {
  const parts: string[] = [];
  if (expected.works) parts.push(expected.works.compare ? `works (${JSON.stringify(expected.works.value)})` : 'works');
  if (expected.codes.length > 0) parts.push(expected.codes.join(' or '));
  return parts.join(' or ');
}

// ---------------------------------------------------------------------------------------------------
// Running one cell.
// ---------------------------------------------------------------------------------------------------
type Settled =
  | { readonly status: 'returned'; readonly value: unknown }
  | { readonly status: 'resolved'; readonly value: unknown }
  | { readonly status: 'threw'; readonly error: unknown }
  | { readonly status: 'rejected'; readonly error: unknown };

/** Calls the method and records how it ended, synchronously or not; never throws. */
function invoke(method: Method, call: Call): Promise<Settled> {
  let result: unknown;
  try {
    result = method.invoke(call);
  } catch (error) {
    return Promise.resolve({ status: 'threw', error });
  }
  if (result instanceof Promise) {
    return (result as Promise<unknown>).then(
      (value): Settled => ({ status: 'resolved', value }),
      (error: unknown): Settled => ({ status: 'rejected', error }),
    );
  }
  return Promise.resolve({ status: 'returned', value: result });
}

/** `promise`'s value, or a failure naming `what` when it does not settle within `ms` (a hang). */
async function within<T>(promise: Promise<T>, what: string, ms = BOUND): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hang)`)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Settles to the promise's outcome, never rejects (so nothing goes unhandled while the scenario runs on). */
function tracked<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

function describeError(error: unknown): string {
  if (error instanceof NetError) return `NetError ${error.code}`;
  if (error instanceof Error) return `${error.name} (not a NetError): ${error.message}`;
  return `a non-error: ${String(error)}`;
}

/** The ordering rules every subscriber's sequence must keep; returns the ones broken. */
function causalityBroken(sequence: readonly string[], disconnectedByCall: boolean, requestRule = true): string[] {
  const broken: string[] = [];
  const first = (prefix: string): number => sequence.findIndex((s) => s.startsWith(prefix));
  const last = (prefix: string): number => {
    for (let i = sequence.length - 1; i >= 0; i--) if (sequence[i]!.startsWith(prefix)) return i;
    return -1;
  };
  const before = (earlier: string, later: string): void => {
    const [i, j] = [last(earlier), first(later)];
    if (i >= 0 && j >= 0 && i > j) broken.push(`${later} before ${earlier}`);
  };
  if (requestRule) before('connectionRequest:b', 'connected:b');
  before('connected:b', 'message:b:');
  before('connected:b', 'disconnected:b:');
  before('message:b:', 'disconnected:b:');
  before('connected:c', 'disconnected:c:');
  if (!disconnectedByCall) before('closing', 'disconnected:b:closed');
  before('closing', 'disconnected:c:closed');
  if (sequence.at(-1) !== 'closed') broken.push(`the last event is ${String(sequence.at(-1))}, not closed`);
  return broken;
}

function count(items: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}

/** Runs `body` with hooks on every way an error can escape the event stream; fails if any fired. */
async function guarded(body: () => Promise<void>): Promise<void> {
  const escaped: string[] = [];
  const previous = config.onUnhandledError;
  config.onUnhandledError = (error: unknown) => escaped.push(`rxjs unhandled error: ${describeError(error)}`);
  const onUncaught = (error: unknown): void => void escaped.push(`uncaught exception: ${describeError(error)}`);
  const onRejection = (reason: unknown): void => void escaped.push(`unhandled rejection: ${describeError(reason)}`);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);
  try {
    await body();
    await sleep(20); // rxjs reports unhandled errors on a timer
  } finally {
    expect(escaped).withContext('errors thrown out of the event stream').toEqual([]);
    config.onUnhandledError = previous;
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
  }
}

const B_MESSAGES = ['m1', 'm2', 'm3'];

async function runCell(row: Row, name: MethodName, expected: Expect): Promise<void> {
  const method: Method = METHODS[name];
  const a = await listening<Msg>({ id: 'a', accept: false });
  const b = await listening<Msg>({ id: 'b' });
  const c = await listening<Msg>({ id: 'c' });
  const world: World = { a, b, c };

  // The handler under test: the call from inside the first triggering event; and a's accept policy.
  let call: Promise<Settled> | undefined;
  const handler = a.node.events$.subscribe((event) => {
    if (call === undefined && triggers(row, event)) {
      call = invoke(method, { world, request: event.type === 'connectionRequest' ? event.request : undefined });
    }
    if (event.type === 'connectionRequest' && event.request.isPending) event.request.accept();
  });
  // A second subscriber, after the handler: it must see the same events, in an order that makes sense.
  const late: string[] = [];
  const lateObserver = a.node.events$.subscribe((event) => late.push(summary(event)));
  const fired = (): boolean => call !== undefined;
  const triggerEvent = `the '${row}' event`;

  // Does the call end the a-b connection before b can use it (so b sends nothing on it)?
  const endsPeer =
    (row === 'connectionRequest' && (name === 'request.reject()' || name === 'close()')) ||
    ((row === 'connected (accepting side)' || row === 'connected (connecting side)') &&
      (name === 'disconnect(peer)' || name === 'close()'));
  const aMessagesFromB = (): string[] => a.log.ofType('message').flatMap((e) => (e.from === 'b' ? [e.message] : []));
  const bothConnected = async (): Promise<void> => {
    await until(() => a.log.ofType('connected').some((e) => e.nodeId === 'b'), BOUND, 'a connected to b');
    await until(() => b.log.ofType('connected').some((e) => e.nodeId === 'a'), BOUND, 'b connected to a');
  };
  const bSends = (): void => {
    for (const message of B_MESSAGES) b.node.send('a', message);
  };

  // Drive the scenario to the row's event, and on for a while after the call.
  const outgoing = row === 'connected (connecting side)' ? tracked(a.node.connect(b.address)) : undefined;
  const incoming = row === 'connected (connecting side)' ? undefined : tracked(b.node.connect(a.address));
  switch (row) {
    case 'connectionRequest':
    case 'connected (accepting side)':
    case 'connected (connecting side)': {
      await until(fired, BOUND, triggerEvent);
      const connected = await within(outgoing ?? incoming!, 'the connect that made the a-b connection');
      if (!endsPeer) {
        expect(connected.ok).withContext('the a-b connect resolves').toBeTrue();
        await bothConnected();
        bSends();
        await until(() => aMessagesFromB().length >= B_MESSAGES.length, BOUND, "b's messages at a");
      }
      break;
    }
    case 'message':
      await within(incoming!, 'b.connect(a)');
      await bothConnected();
      bSends();
      await until(fired, BOUND, triggerEvent);
      if (name === 'close()') await until(() => a.log.completed, BOUND, "a's events$ completing");
      else await until(() => aMessagesFromB().length >= B_MESSAGES.length, BOUND, "b's messages at a");
      break;
    case 'disconnected':
      await within(incoming!, 'b.connect(a)');
      await bothConnected();
      await within(b.node.disconnect('a'), 'b.disconnect(a)');
      await until(fired, BOUND, triggerEvent);
      break;
    case 'closing':
    case 'closed':
      await within(incoming!, 'b.connect(a)');
      await bothConnected();
      await within(a.node.close(), 'a.close()');
      await until(fired, BOUND, triggerEvent);
      break;
  }

  // 1. The call's outcome: works (with the expected result) or its documented NetError.
  const settled = await within(call!, `the call ${name} from the '${row}' handler`);
  if (method.returnsPromise) {
    expect(settled.status).withContext(`${name} returns a Promise: it must reject, never throw synchronously`).not.toBe('threw');
  }
  const worked = settled.status === 'returned' || settled.status === 'resolved';
  if (settled.status === 'returned' || settled.status === 'resolved') {
    if (!expected.works) fail(`${name} worked, expected ${describeExpect(expected)}`);
    else if (expected.works.compare) {
      const view = method.view ? method.view(settled.value, world) : settled.value;
      expect(view).withContext(`${name}: its result`).toEqual(expected.works.value);
    }
  } else if (expected.codes.length === 0) {
    fail(`${name} ${settled.status === 'threw' ? 'threw' : 'rejected'} ${describeError(settled.error)}, expected it to work`);
  } else {
    expect(settled.error).withContext(`${name}: the error class`).toBeInstanceOf(NetError);
    const code = settled.error instanceof NetError ? settled.error.code : undefined;
    expect(expected.codes)
      .withContext(`${name}: the error code (got ${String(code)})`)
      .toContain(code!);
  }

  // 2. Close everything, within bounds.
  await within(a.node.close(), 'a.close()');
  await until(() => a.log.completed, BOUND, "a's events$ completing");
  await within(Promise.all([b.node.close(), c.node.close()]), 'closing b and c');
  await until(() => b.log.completed && c.log.completed, BOUND, "b's and c's events$ completing");
  handler.unsubscribe();
  lateObserver.unsubscribe();

  // 3. The follow-up events, exactly once each.
  const sentToPeer = name === 'send(peer)' && worked;
  const sentToSelf = name === 'send(self)' && worked;
  const connectedToThird = name === 'connect(third)' && worked;
  const hasB = !(row === 'connectionRequest' && (name === 'request.reject()' || name === 'close()'));
  const wanted: Record<string, number> = { closing: 1, closed: 1 };
  if (row !== 'connected (connecting side)') wanted['connectionRequest:b'] = 1;
  if (hasB) {
    wanted['connected:b'] = 1;
    wanted[`disconnected:b:${row === 'disconnected' ? 'remote-closed' : 'closed'}`] = 1;
  }
  if (sentToSelf) wanted['message:a:self'] = 1;
  if (connectedToThird) {
    wanted['connected:c'] = 1;
    wanted['disconnected:c:closed'] = 1;
  }
  const aSummaries = a.log.events.map(summary);
  expect(count(aSummaries.filter((s) => !s.startsWith('message:b:'))))
    .withContext(`a's events (besides b's messages), counted; a saw: ${aSummaries.join(', ')}`)
    .toEqual(wanted);
  expect(count(late))
    .withContext(`a's events as a later subscriber saw them, counted; it saw: ${late.join(', ')}`)
    .toEqual(count(aSummaries));
  expect(causalityBroken(aSummaries, name === 'disconnect(peer)'))
    .withContext("a's events out of order (first subscriber)")
    .toEqual([]);
  // The harness's own accept() in the connectionRequest handler emits `connected` re-entrantly in every
  // cell; a later subscriber's view of that pair is checked only where accept() is the call under test.
  expect(causalityBroken(late, name === 'disconnect(peer)', name === 'request.accept()'))
    .withContext("a's events out of order (a subscriber after the handler)")
    .toEqual([]);

  // b's messages at a: once each, in order, after `connected` (a close() from m1's handler may cut the tail).
  const fromB = aMessagesFromB();
  if (row === 'message' && name === 'close()') {
    expect(fromB)
      .withContext("b's messages at a (a prefix: a closed after m1)")
      .toEqual(B_MESSAGES.slice(0, Math.max(1, fromB.length)));
  } else if (
    row === 'message' ||
    (!endsPeer && ['connectionRequest', 'connected (accepting side)', 'connected (connecting side)'].includes(row))
  ) {
    expect(fromB).withContext("b's messages at a").toEqual(B_MESSAGES);
  } else {
    expect(fromB).withContext("b's messages at a").toEqual([]);
  }
  const firstFromB = aSummaries.findIndex((s) => s.startsWith('message:b:'));
  if (firstFromB >= 0)
    expect(firstFromB).withContext("b's first message comes after connected:b").toBeGreaterThan(aSummaries.indexOf('connected:b'));

  // b: one connected and one disconnected for a (or none of either when a ended it before b could register it).
  const bConnected = b.log.ofType('connected').filter((e) => e.nodeId === 'a').length;
  const bDisconnected = b.log.ofType('disconnected').filter((e) => e.nodeId === 'a').length;
  expect(bDisconnected).withContext("b's disconnected events for a, against its connected ones").toBe(bConnected);
  if (endsPeer) expect(bConnected).withContext("b's connected events for a").toBeLessThanOrEqual(1);
  else expect(bConnected).withContext("b's connected events for a").toBe(1);
  const bFromA = b.log.ofType('message').flatMap((e) => (e.from === 'a' ? [e.message] : []));
  expect(bFromA)
    .withContext("a's messages at b")
    .toEqual(sentToPeer ? ['from-a'] : []);

  // c: a connection from a only when connect(third) was called, registered once and ended once.
  const cConnected = c.log.ofType('connected').filter((e) => e.nodeId === 'a').length;
  const cDisconnected = c.log.ofType('disconnected').filter((e) => e.nodeId === 'a').length;
  expect(cDisconnected).withContext("c's disconnected events for a, against its connected ones").toBe(cConnected);
  if (connectedToThird) expect(cConnected).withContext("c's connected events for a").toBe(1);
  else if (name === 'connect(third)') expect(cConnected).withContext("c's connected events for a").toBeLessThanOrEqual(1);
  else expect(cConnected).withContext("c's connected events for a").toBe(0);
}

describe('re-entrancy matrix: every public method called from inside every events$ handler', () => {
  ROWS.forEach((row, column) => {
    describe(`from a '${row}' handler`, () => {
      for (const name of Object.keys(EXPECTED) as MethodName[]) {
        const expected = EXPECTED[name][column];
        if (!expected) continue; // no ConnectionRequest at hand in this row
        it(`${name}: ${describeExpect(expected)}; nothing escapes, hangs, or is lost or duplicated`, async () => {
          await guarded(() => runCell(row, name, expected));
        }, 20_000);
      }
    });
  });
});
