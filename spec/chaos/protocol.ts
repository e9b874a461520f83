// What the chaos driver (chaos.spec.ts) and its nodes (chaosNode.ts) say to each other over the IPC channel.

/** A node's start: its place in the mesh and the settings under test. */
export interface NodeConfig {
  readonly index: number;
  readonly id: string;
  /** Counts the starts of this node (a restart is a new incarnation, whose numbers start again at 0). */
  readonly incarnation: number;
  /** `host:port` to listen on. */
  readonly listen: string;
  readonly peers: readonly { readonly id: string; readonly address: string }[];
  readonly connectionTimeout: number;
  readonly handshakeTimeout: number;
  readonly initialDelay: number;
  readonly maxDelay: number;
  /** ms between two rounds of traffic: drawn from [min, max]. */
  readonly interval: readonly [number, number];
}

/**
 * Messages between nodes: traffic `[0, incarnation, generation, seq, sentAt]`
 * or the final exchange `[1, token]`. `generation` counts the sender's
 * `connected` events for that peer: messages of one generation went over one
 * registered connection.
 */
export type Wire = readonly [0, number, number, number, number] | readonly [1, number];

/** Counters a node reports with every memory sample (cumulative for this incarnation). */
export interface Counters {
  /** Messages received and checked (order, duplicates, gaps). */
  checked: number;
  /** Messages sent (accepted by `send`), and rounds where `send` threw NOT_CONNECTED. */
  sent: number;
  notConnected: number;
  /** Gaps (and the numbers missing in them) that fell across a `disconnected` from the sender told before the gap closed. */
  gapsTold: number;
  /** Gaps across a connection the sender saw end, told to the receiver only after the gap closed. */
  gapsToldLate: number;
  lost: number;
  /** Gaps whose only told disconnects were `'replaced'`. */
  gapsAcrossReplaced: number;
  /** Longest wait for a late-told gap's `disconnected`, ms. */
  worstLateMs: number;
  /** Messages of the sender's older connection that arrived after one of its newer connection. */
  reorderedAcrossConnections: number;
  /** A new incarnation of a sender seen (it restarted). */
  incarnations: number;
  /** Registered connections that ended, as told by `disconnected` events. */
  disconnects: number;
  connects: number;
}

/** The state of a node, as `state` asks it. */
export interface NodeState {
  connectionCount: number;
  statsConnections: number;
  /** Peers `isConnected` is true for. */
  connected: string[];
  /** The last state each link emitted. */
  links: Record<string, string>;
  /** Late gaps not told yet. */
  pendingLate: string[];
}

export type Command =
  | { readonly cmd: 'watch'; readonly id: number; readonly peer: string; readonly since: number }
  | { readonly cmd: 'state'; readonly id: number }
  | { readonly cmd: 'final'; readonly id: number; readonly token: number; readonly ms: number }
  | { readonly cmd: 'close' };

export type Report =
  | { readonly type: 'listening'; readonly at: number; readonly pid: number }
  | {
      readonly type: 'event';
      readonly at: number;
      readonly event: 'connected' | 'disconnected';
      readonly peer: string;
      readonly reason?: string;
      readonly code?: string;
      readonly up: boolean;
    }
  | { readonly type: 'link'; readonly at: number; readonly peer: string; readonly state: string; readonly detail: string }
  | { readonly type: 'sample'; readonly at: number; readonly heapUsed: number; readonly rss: number; readonly counters: Counters }
  | { readonly type: 'violation'; readonly at: number; readonly text: string }
  /** Something to look into, not a violation by itself: `since` is when the story began. */
  | { readonly type: 'note'; readonly at: number; readonly since: number; readonly peer: string; readonly text: string }
  | { readonly type: 'fresh'; readonly id: number; readonly at: number }
  | { readonly type: 'state'; readonly id: number; readonly state: NodeState }
  | { readonly type: 'final'; readonly id: number; readonly from: string[]; readonly sendErrors: string[] };
