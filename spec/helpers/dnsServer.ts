// A DNS server that a spec controls: UDP on 127.0.0.1 (or a host given), port 0 (or a port given), answering A, AAAA and SRV
// queries from a record table the spec mutates. Unknown names are NXDOMAIN; a known name without records
// of the asked type is an empty NOERROR answer (ENODATA to node:dns). It can also go silent (every query
// dropped: the resolver times out), answer SERVFAIL, answer bytes that are not DNS, or answer late.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { decode, encode, type Answer, type DecodedPacket, type SrvData } from 'dns-packet';

/** One record of the table. */
export type DnsRecord = { readonly type: 'A' | 'AAAA'; readonly data: string } | { readonly type: 'SRV'; readonly data: SrvData };

/** How the server answers: from the table, not at all, SERVFAIL to every query, or garbage bytes. */
export type DnsServerMode = 'answer' | 'silent' | 'servfail' | 'garbage';

/** A query the server received. */
export interface DnsQuery {
  readonly name: string;
  readonly type: string;
  /** When it arrived (`performance.now()`). */
  readonly at: number;
}

const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

const key = (name: string): string => name.toLowerCase().replace(/\.$/, '');

export class DnsServer {
  /** Every query received, in order (dropped ones too). */
  readonly queries: DnsQuery[] = [];
  /** How the server answers now. */
  mode: DnsServerMode = 'answer';
  /** ms the server waits before it answers (a slow server). */
  delay = 0;
  private readonly records = new Map<string, readonly DnsRecord[]>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly socket: Socket,
    /** `HOST:PORT` (`127.0.0.1:PORT` by default), as `Resolver.setServers` takes it. */
    readonly address: string,
  ) {
    socket.on('message', (message, remote) => this.answer(message, remote));
  }

  /** A server listening on `host` (an IPv4 address), on `port` (a free one by default). */
  static async start(host = '127.0.0.1', port = 0): Promise<DnsServer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new DnsServer(socket, `${host}:${socket.address().port}`);
  }

  /** Replaces the records of `name` (an empty list: the name exists, with no records). */
  set(name: string, records: readonly DnsRecord[]): void {
    this.records.set(key(name), records);
  }

  /** Forgets `name`: NXDOMAIN from now on. */
  delete(name: string): void {
    this.records.delete(key(name));
  }

  /** Resolves once the socket is closed. */
  close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(message: Buffer, remote: RemoteInfo): void {
    let query: DecodedPacket;
    try {
      query = decode(message);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (question === undefined) return;
    this.queries.push({ name: question.name, type: question.type, at: performance.now() });
    if (this.mode === 'silent') return;
    if (this.mode === 'garbage') {
      // The query's id, then bytes that are no DNS header and body: the resolver must not take it as an answer.
      const bytes = Buffer.from([message[0] ?? 0, message[1] ?? 0, 0xff, 0xff, 0xff, 0xff, 0x12]);
      this.socket.send(bytes, remote.port, remote.address);
      return;
    }
    const records = this.records.get(key(question.name));
    let flags = 0;
    if (this.mode === 'servfail') flags = RCODE_SERVFAIL;
    else if (records === undefined) flags = RCODE_NXDOMAIN;
    const answers: Answer[] =
      this.mode === 'servfail'
        ? []
        : (records ?? [])
            .filter((record) => record.type === question.type)
            // TTL 0: nothing may keep an answer (node:dns caches none today).
            .map((record): Answer => ({ ...record, name: question.name, ttl: 0 }));
    const response = encode({ type: 'response', id: query.id, flags, questions: [question], answers });
    const send = (): void => this.socket.send(response, remote.port, remote.address);
    if (this.delay > 0) this.timers.add(setTimeout(send, this.delay));
    else send();
  }
}
