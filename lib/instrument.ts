/**
 * `instrument(node, { meter })`: a node's connections, traffic, failures and
 * calls as OpenTelemetry metrics. It listens on the diagnostics channels (so
 * the message path does nothing for it) and reads the byte and message
 * counts from `node.stats()` when the meter collects. The meter is
 * `@opentelemetry/api`'s `Meter` (an optional peer dependency); this module
 * imports nothing from it: the types below are the parts it uses.
 */
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { Subscription } from 'rxjs';
import {
  DIAGNOSTICS_CHANNELS,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  type HandshakeFailedMessage,
  type RpcCallMessage,
} from './diagnosticsChannels.js';
import { describeValue } from './errors.js';
import type { Node } from './node/Node.js';

/** Metric attributes, as OpenTelemetry's `Attributes`. */
export type MetricAttributes = Record<string, string | number | boolean>;

/** What {@link instrument} asks of a meter's instruments' options. */
export interface MetricInstrumentOptions {
  /** What it measures. */
  readonly description?: string;
  /** UCUM unit: `By`, `s`, `{connection}`. */
  readonly unit?: string;
}

/** The part of an OpenTelemetry `Counter` or `UpDownCounter` {@link instrument} uses. */
export interface MetricCounter {
  /** Adds `value`. */
  add(value: number, attributes?: MetricAttributes): void;
}

/** The part of an OpenTelemetry `Histogram` {@link instrument} uses. */
export interface MetricHistogram {
  /** Records `value`. */
  record(value: number, attributes?: MetricAttributes): void;
}

/** The part of an OpenTelemetry `ObservableResult` {@link instrument} uses. */
export interface MetricObservation {
  /** Reports the value now. */
  observe(value: number, attributes?: MetricAttributes): void;
}

/** The part of an OpenTelemetry `ObservableCounter` {@link instrument} uses. */
export interface MetricObservableCounter {
  /** Called on each collection. */
  addCallback(callback: (result: MetricObservation) => void): void;
  /** Stops calling it. */
  removeCallback(callback: (result: MetricObservation) => void): void;
}

/** The part of an OpenTelemetry `Meter` (`@opentelemetry/api`) {@link instrument} uses: pass a `Meter`. */
export interface MetricMeter {
  /** A counter. */
  createCounter(name: string, options?: MetricInstrumentOptions): MetricCounter;
  /** An up-down counter. */
  createUpDownCounter(name: string, options?: MetricInstrumentOptions): MetricCounter;
  /** A histogram. */
  createHistogram(name: string, options?: MetricInstrumentOptions): MetricHistogram;
  /** An asynchronous counter. */
  createObservableCounter(name: string, options?: MetricInstrumentOptions): MetricObservableCounter;
}

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /** Where the metrics go: an OpenTelemetry `Meter` (`metrics.getMeter('my-app')`). */
  readonly meter: MetricMeter;
}

/** The metric names {@link instrument} reports, each documented in the README. */
export const METRICS = {
  /** Up-down counter, `{connection}`: registered connections; attributes `msgpacknet.transport`, `msgpacknet.connection.direction`. */
  connections: 'msgpacknet.connection.count',
  /** Counter, `By`: bytes read and written on registered connections, handshakes included; `msgpacknet.transport`, `network.io.direction`. */
  io: 'msgpacknet.io',
  /** Counter, `{message}`: messages read and written; `msgpacknet.transport`, `network.io.direction`. */
  messages: 'msgpacknet.message.count',
  /** Counter, `{connection}`: connections that failed before they were registered; `error.type` (the NetError code). */
  handshakeFailures: 'msgpacknet.handshake.failures',
  /** Counter, `{connection}`: registered connections that ended; `msgpacknet.disconnect.reason`, `error.type` when one ended it. */
  disconnects: 'msgpacknet.disconnect.count',
  /** Histogram, `s`: `Rpc.call` durations; `rpc.method`, `msgpacknet.rpc.outcome` (`ok` or the error's code). */
  rpcDuration: 'msgpacknet.rpc.call.duration',
} as const;

/** Traffic of one transport and direction: ended connections' totals, kept. */
type Totals = Map<string, { bytes: number; messages: number }>;

/**
 * Reports `node`'s connections, traffic, failures, disconnects and RPC call
 * durations to an OpenTelemetry meter (see {@link METRICS} for the names).
 * Until the returned Subscription is unsubscribed, or the node closes.
 * Node.js, Bun and Deno (it listens on `diagnostics_channel`).
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * import { Node, instrument } from 'msgpacknet';
 * const node = new Node({ nodeId: 'a' });
 * instrument(node, { meter: metrics.getMeter('my-app') });
 * await node.close();
 * ```
 */
export function instrument<M, N, I>(node: Node<M, N, I>, options: InstrumentOptions): Subscription {
  const { meter } = options;
  const connections = meter.createUpDownCounter(METRICS.connections, { description: 'Registered connections', unit: '{connection}' });
  const io = meter.createObservableCounter(METRICS.io, { description: 'Bytes read and written, handshakes included', unit: 'By' });
  const messages = meter.createObservableCounter(METRICS.messages, { description: 'Messages read and written', unit: '{message}' });
  const failures = meter.createCounter(METRICS.handshakeFailures, {
    description: 'Connections that failed before they were registered',
    unit: '{connection}',
  });
  const disconnects = meter.createCounter(METRICS.disconnects, { description: 'Registered connections that ended', unit: '{connection}' });
  const durations = meter.createHistogram(METRICS.rpcDuration, { description: 'Rpc.call durations', unit: 's' });

  const ended: Totals = new Map();
  const direction = (outgoing: boolean): string => (outgoing ? 'outgoing' : 'incoming');
  const add = (transport: string, io: 'receive' | 'transmit', bytes: number, count: number): void => {
    const key = `${transport} ${io}`;
    const totals = ended.get(key) ?? { bytes: 0, messages: 0 };
    totals.bytes += bytes;
    totals.messages += count;
    ended.set(key, totals);
  };

  /** The connections counted open (so one opened before `instrument` is not subtracted when it closes). */
  const counted = new Set<string>();
  const connectionKey = (message: ConnectionOpenMessage): string =>
    `${message.outgoing ? '>' : '<'} ${message.remoteAddress} ${describeValue(message.nodeId)}`;
  const onOpen = (message: unknown): void => {
    const open = message as ConnectionOpenMessage;
    if (open.node !== node) return;
    counted.add(connectionKey(open));
    connections.add(1, { 'msgpacknet.transport': open.transport, 'msgpacknet.connection.direction': direction(open.outgoing) });
  };
  const onClose = (message: unknown): void => {
    const close = message as ConnectionCloseMessage;
    if (close.node !== node) return;
    if (counted.delete(connectionKey(close)))
      connections.add(-1, { 'msgpacknet.transport': close.transport, 'msgpacknet.connection.direction': direction(close.outgoing) });
    disconnects.add(1, { 'msgpacknet.disconnect.reason': close.reason, ...(close.error ? { 'error.type': close.error.code } : {}) });
    add(close.transport, 'receive', close.bytesRead, close.messagesRead);
    add(close.transport, 'transmit', close.bytesWritten, close.messagesWritten);
  };
  const onFailure = (message: unknown): void => {
    const failure = message as HandshakeFailedMessage;
    if (failure.node === node) failures.add(1, { 'error.type': failure.error.code });
  };

  /** Ended connections' totals plus the live ones', by transport and direction. */
  const traffic = (): Totals => {
    const now: Totals = new Map([...ended].map(([key, totals]) => [key, { ...totals }]));
    const plus = (key: string, bytes: number, count: number): void => {
      const totals = now.get(key) ?? { bytes: 0, messages: 0 };
      totals.bytes += bytes;
      totals.messages += count;
      now.set(key, totals);
    };
    for (const connection of node.stats().connections) {
      plus(`${connection.transport} receive`, connection.readTotal, connection.messagesRead);
      plus(`${connection.transport} transmit`, connection.writeTotal, connection.messagesWritten);
    }
    return now;
  };
  const attributes = (key: string): MetricAttributes => {
    const [transport = '', io = ''] = key.split(' ');
    return { 'msgpacknet.transport': transport, 'network.io.direction': io };
  };
  const observeIo = (result: MetricObservation): void => {
    for (const [key, totals] of traffic()) result.observe(totals.bytes, attributes(key));
  };
  const observeMessages = (result: MetricObservation): void => {
    for (const [key, totals] of traffic()) result.observe(totals.messages, attributes(key));
  };

  const started = new WeakMap<object, number>();
  const calls = {
    start: (context: RpcCallMessage): void => {
      if (context.node === node) started.set(context, performance.now());
    },
    end: (): void => undefined,
    asyncStart: (): void => undefined,
    asyncEnd: (context: RpcCallMessage): void => {
      const since = started.get(context);
      if (since === undefined) return;
      started.delete(context);
      const error = context.error as { code?: unknown } | undefined;
      const outcome = !('error' in context) ? 'ok' : typeof error?.code === 'string' ? error.code : 'ERROR';
      durations.record((performance.now() - since) / 1000, { 'rpc.method': context.method, 'msgpacknet.rpc.outcome': outcome });
    },
    error: (): void => undefined,
  };
  const rpc = typeof tracingChannel === 'function' ? tracingChannel<unknown, RpcCallMessage>(DIAGNOSTICS_CHANNELS.rpcCall) : undefined;

  const listeners: readonly [string, (message: unknown) => void][] = [
    [DIAGNOSTICS_CHANNELS.connectionOpen, onOpen],
    [DIAGNOSTICS_CHANNELS.connectionClose, onClose],
    [DIAGNOSTICS_CHANNELS.handshakeFailed, onFailure],
  ];
  const observers: readonly [MetricObservableCounter, (result: MetricObservation) => void][] = [
    [io, observeIo],
    [messages, observeMessages],
  ];
  for (const [name, listener] of listeners) subscribe(name, listener);
  for (const [counter, callback] of observers) counter.addCallback(callback);
  rpc?.subscribe(calls);
  const subscription = new Subscription(() => {
    for (const [name, listener] of listeners) unsubscribe(name, listener);
    for (const [counter, callback] of observers) counter.removeCallback(callback);
    rpc?.unsubscribe(calls);
  });
  subscription.add(
    node.intercept((event) => {
      if (event.type === 'closed') subscription.unsubscribe();
      return false;
    }),
  );
  return subscription;
}
