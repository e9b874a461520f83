// What the cluster mesh driver (mesh.spec.ts) and its children (meshNode.ts, meshDns.ts) say to each other
// over the IPC channel. Reports the chaos rig's Incarnation reads (`listening`, `violation`, `event`) have
// its shapes (spec/chaos/protocol.ts).
import type { Report } from '../chaos/protocol.js';

/** A node's start: its id and its own address, and where to look the others up. No peer's address. */
export interface MeshConfig {
  readonly id: string;
  /** Counts the starts of this node. */
  readonly incarnation: number;
  /** `host:port` to listen on. */
  readonly listen: string;
  /** The address other nodes dial: the namespace's. */
  readonly advertise: string;
  /** The DNS name listing the nodes (A records), their port, and the DNS server (`host:port`). */
  readonly dns: { readonly name: string; readonly port: number; readonly server: string };
  /** The cluster's options. */
  readonly refreshInterval: number;
  readonly timeout: number;
  readonly link: { readonly initialDelay: number; readonly maxDelay: number };
  /** ms between two rounds of numbered messages to every member up. */
  readonly interval: number;
}

/** The DNS child's start: the address to listen on. */
export interface DnsConfig {
  readonly id: string;
  readonly incarnation: number;
  readonly host: string;
  readonly port: number;
}

/** Between nodes: numbered traffic `['seq', incarnation, seq]`, and the driver's pings by id and their acks. */
export type MeshWire = readonly ['seq', number, number] | readonly ['ping', number] | readonly ['ack', number];

/** A member as a node's `members$` showed it (by its first address). */
export interface MemberView {
  readonly id?: string;
  readonly address: string;
  readonly state: 'up' | 'connecting' | 'down';
}

/** What a node received from one sender (its latest incarnation). */
export interface Received {
  readonly incarnation: number;
  readonly first: number;
  readonly last: number;
  readonly count: number;
}

export type MeshCommand =
  /** Sends a ping by id (`cluster.send`) to each of `to`; answered with `pinged` once every ack arrived or `ms` passed. */
  | { readonly cmd: 'ping'; readonly id: number; readonly to: readonly string[]; readonly token: number; readonly ms: number }
  /** Answered with `tally`; `stop` stops the traffic first. */
  | { readonly cmd: 'tally'; readonly id: number; readonly stop: boolean }
  /** DNS child: the A records of `name` become `addresses`; answered with `records`. */
  | { readonly cmd: 'records'; readonly id: number; readonly name: string; readonly addresses: readonly string[] }
  | { readonly cmd: 'close' };

export type MeshAnswer =
  /** ms from the command to each ack, by peer; what failed. */
  | { readonly type: 'pinged'; readonly id: number; readonly acked: Record<string, number>; readonly errors: readonly string[] }
  /** Messages sent to each peer (the next number), and received from each. */
  | {
      readonly type: 'tally';
      readonly id: number;
      readonly sent: Record<string, number>;
      readonly received: Record<string, Received>;
    }
  /** When the records changed, and how many queries the server had answered by then. */
  | { readonly type: 'records'; readonly id: number; readonly at: number; readonly queries: number };

export type MeshReport =
  | Extract<Report, { type: 'listening' | 'violation' | 'event' }>
  /** Each `members$` emission. */
  | { readonly type: 'members'; readonly at: number; readonly members: readonly MemberView[] }
  /** Each `errors$` error. */
  | { readonly type: 'error'; readonly at: number; readonly text: string }
  | MeshAnswer;
