// `msgpacknet demo --metrics PORT`: the demo's nodes instrumented (instrument()) on an OpenTelemetry
// MeterProvider whose reader is the Prometheus exporter, served at http://127.0.0.1:PORT/metrics.
// The OpenTelemetry SDK and exporter are not dependencies of msgpacknet: they are loaded here, only
// for this option, and a clear error says how to install them when they are missing.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Subscription } from 'rxjs';
import { instrument, type MetricMeter } from '../instrument.js';
import type { Node } from '../node/Node.js';

/** The two packages `--metrics` needs. */
const PACKAGES = ['@opentelemetry/sdk-metrics', '@opentelemetry/exporter-prometheus'] as const;

interface PrometheusExporterLike {
  getMetricsRequestHandler(request: unknown, response: unknown): void;
  shutdown(): Promise<void>;
}
interface SdkMetrics {
  MeterProvider: new (options: { readers: unknown[] }) => { getMeter(name: string): MetricMeter; shutdown(): Promise<void> };
}
interface ExporterPrometheus {
  PrometheusExporter: new (options: { preventServerStart: boolean }) => PrometheusExporterLike;
}

/** The endpoint, the hook that instruments a node, and the end of it all. */
export interface MetricsEndpoint {
  /** `http://127.0.0.1:PORT/metrics`. */
  readonly url: string;
  /** Instruments a node (the demo calls it for each node it makes). */
  instrument<M, I>(node: Node<M, string, I>): void;
  /** The value of one metric summed over its series, as Prometheus would scrape it now (for the live view). */
  scrape(name: string): Promise<number | undefined>;
  /** Stops serving. */
  close(): Promise<void>;
}

/** Loads a package by a name held in a variable (so bundlers and tsc leave it to run time). */
async function load<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    throw new Error(`--metrics needs ${PACKAGES.join(' and ')}: npm install ${PACKAGES.join(' ')}`, { cause: error });
  }
}

/** Serves the Prometheus endpoint on 127.0.0.1:`port` (0: a free port). */
export async function serveMetrics(port: number): Promise<MetricsEndpoint> {
  const [sdk, prometheus] = await Promise.all([load<SdkMetrics>(PACKAGES[0]), load<ExporterPrometheus>(PACKAGES[1])]);
  const exporter = new prometheus.PrometheusExporter({ preventServerStart: true });
  const provider = new sdk.MeterProvider({ readers: [exporter] });
  const meter = provider.getMeter('msgpacknet-demo');
  const server = createServer((request, response) => {
    if (request.url === '/metrics') exporter.getMetricsRequestHandler(request, response);
    else response.writeHead(404).end('see /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const subscriptions: Subscription[] = [];
  return {
    url,
    instrument: (node) => void subscriptions.push(instrument(node, { meter })),
    async scrape(name) {
      const text = await (await fetch(url)).text();
      const values = text
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
        .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
      return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
    },
    async close() {
      for (const subscription of subscriptions) subscription.unsubscribe();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await provider.shutdown();
    },
  };
}
