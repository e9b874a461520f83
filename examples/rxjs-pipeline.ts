// An RxJS pipeline over events$: a hub counts the messages of each sender as they arrive
// (groupBy the sender, scan to count), and prints the totals when it closes.
import { filter, groupBy, last, lastValueFrom, map, mergeMap, scan, tap, toArray } from 'rxjs';
import { Node, type MessageEvent, type NodeEvent } from 'msgpacknet';

type Msg = { text: string };
const isMessage = (event: NodeEvent<Msg, string>): event is MessageEvent<Msg, string> => event.type === 'message';

const hub = new Node<Msg, string>({ nodeId: 'hub' });
const address = await hub.listen('127.0.0.1:0');
hub.events$.subscribe((event) => {
  if (event.type === 'connectionRequest') event.request.accept();
});

// Completes when the hub is closed (events$ completes after 'closed'), with one total per sender.
const totals = lastValueFrom(
  hub.events$.pipe(
    filter(isMessage),
    groupBy((event) => event.from), // one inner Observable per sender
    mergeMap((fromOne) =>
      fromOne.pipe(
        scan((count) => count + 1, 0), // a running count for this sender
        tap((count) => console.log(`${fromOne.key}: ${count}`)),
        last(),
        map((count) => `${fromOne.key} sent ${count}`),
      ),
    ),
    toArray(),
  ),
);

// Three senders, each in its own node (in a real system, its own process or machine).
const plan: [string, number][] = [
  ['alice', 3],
  ['bob', 2],
  ['carol', 1],
];
await Promise.all(
  plan.map(async ([name, count]) => {
    const sender = new Node<Msg, string>({ nodeId: name });
    const peer = await sender.connect(address);
    for (let i = 1; i <= count; i++) sender.send(peer, { text: `${name} #${i}` });
    await sender.close(); // flushes, then FIN: the hub gets every message before 'disconnected'
  }),
);

await hub.close();
for (const line of (await totals).sort()) console.log(line);
// prints (the running counts interleave in any order across senders):
// alice sent 3
// bob sent 2
// carol sent 1
