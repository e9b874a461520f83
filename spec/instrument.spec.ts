import { MeterProvider, MetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { connect as netConnect } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { METRICS, instrument } from '../lib/instrument.js';
import { Rpc } from '../lib/rpc/Rpc.js';
import { netError } from './helpers/marbles.js';
import { client, listening, until } from './helpers/nodes.js';

/** A reader the spec collects from when it wants (the SDK's own pull reader, with nothing exported). */
class SpecReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** The data points of each metric, as the SDK collects them now. */
async function collect(reader: SpecReader): Promise<Map<string, DataPoint<number | Histogram>[]>> {
  const { resourceMetrics } = await reader.collect();
  const out = new Map<string, DataPoint<number | Histogram>[]>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) out.set(metric.descriptor.name, metric.dataPoints as DataPoint<number | Histogram>[]);
  }
  return out;
}

/** The value of the point with these attributes (0 when there is none). */
function valueOf(points: DataPoint<number | Histogram>[] | undefined, attributes: Record<string, unknown>): number {
  const point = points?.find((candidate) => Object.entries(attributes).every(([key, value]) => candidate.attributes[key] === value));
  return point === undefined ? 0 : (point.value as number);
}

function meterWithReader(): { reader: SpecReader; provider: MeterProvider } {
  const reader = new SpecReader();
  return { reader, provider: new MeterProvider({ readers: [reader] }) };
}

describe('instrument(node, { meter }) with the OpenTelemetry SDK', () => {
  it('counts connections, bytes and messages by transport and direction, and disconnects by reason', async () => {
    const { reader, provider } = meterWithReader();
    const server = await listening({ id: 'otel-server' });
    const { node: caller } = client({ id: 'otel-caller' });
    instrument(server.node, { meter: provider.getMeter('spec') }); // an OpenTelemetry Meter type-checks as the meter
    await caller.connect(server.address);
    await until(() => server.node.isConnected('otel-caller'));
    let metrics = await collect(reader);
    expect(
      valueOf(metrics.get(METRICS.connections), { 'msgpacknet.transport': 'tcp', 'msgpacknet.connection.direction': 'incoming' }),
    ).toBe(1);

    for (let i = 0; i < 10; i++) caller.send('otel-server', 'x'.repeat(100));
    for (let i = 0; i < 10; i++) await server.log.next('message');
    server.node.send('otel-caller', 'back');
    metrics = await collect(reader);
    const read = { 'msgpacknet.transport': 'tcp', 'network.io.direction': 'receive' };
    const written = { 'msgpacknet.transport': 'tcp', 'network.io.direction': 'transmit' };
    expect(valueOf(metrics.get(METRICS.messages), read)).toBe(10);
    expect(valueOf(metrics.get(METRICS.messages), written)).toBe(1);
    const bytesRead = valueOf(metrics.get(METRICS.io), read);
    expect(bytesRead).toBeGreaterThan(1000);

    // After the connection ended, its totals stay counted (a counter never goes down).
    await caller.close();
    await until(() => !server.node.isConnected('otel-caller'));
    metrics = await collect(reader);
    expect(valueOf(metrics.get(METRICS.connections), { 'msgpacknet.transport': 'tcp' })).toBe(0);
    expect(valueOf(metrics.get(METRICS.messages), read)).toBe(10);
    expect(valueOf(metrics.get(METRICS.io), read)).toBeGreaterThanOrEqual(bytesRead);
    expect(valueOf(metrics.get(METRICS.disconnects), { 'msgpacknet.disconnect.reason': 'remote-closed' })).toBe(1);
  });

  it('counts handshake failures by error code, only for its own node', async () => {
    const { reader, provider } = meterWithReader();
    const server = await listening({ id: 'otel-guarded', maxHandshakeBytes: 1024 });
    const other = await listening({ id: 'otel-other' });
    instrument(server.node, { meter: provider.getMeter('spec') });
    for (const address of [server.address, other.address]) {
      const node = address === server.address ? server.node : other.node;
      const failure = firstValueFrom(node.failures$);
      const socket = netConnect(Number(address.split(':')[1]), '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(Uint8Array.of(0xc1)); // never used in MessagePack: a READ_ERROR
      await failure;
      socket.destroy();
    }
    const metrics = await collect(reader);
    expect(metrics.get(METRICS.handshakeFailures)?.map((point) => [point.attributes['error.type'], point.value])).toEqual([
      ['READ_ERROR', 1],
    ]);
  });

  it('records Rpc.call durations by method and outcome; stops when unsubscribed', async () => {
    const { reader, provider } = meterWithReader();
    const { node } = client({ id: 'otel-rpc' });
    const subscription = instrument(node, { meter: provider.getMeter('spec') });
    const rpc = new Rpc<string>(node, { timeout: 30 });
    rpc.handle('echo', ([value]: [unknown]) => value);
    rpc.handle('never', () => new Promise(() => undefined));
    await rpc.call('otel-rpc', 'echo', [1]);
    await rpc.call('otel-rpc', 'echo', [2]);
    await expectAsync(rpc.call('otel-rpc', 'never')).toBeRejectedWith(netError('TIMEOUT'));
    let points = (await collect(reader)).get(METRICS.rpcDuration)!;
    const histogram = (attributes: Record<string, string>): Histogram =>
      points.find((point) => Object.entries(attributes).every(([key, value]) => point.attributes[key] === value))!.value as Histogram;
    expect(histogram({ 'rpc.method': 'echo', 'msgpacknet.rpc.outcome': 'ok' }).count).toBe(2);
    const timedOut = histogram({ 'rpc.method': 'never', 'msgpacknet.rpc.outcome': 'TIMEOUT' });
    expect(timedOut.count).toBe(1);
    expect(timedOut.sum).toBeGreaterThanOrEqual(0.025); // seconds: the 30 ms timeout

    subscription.unsubscribe();
    await rpc.call('otel-rpc', 'echo', [3]);
    points = (await collect(reader)).get(METRICS.rpcDuration)!;
    expect(histogram({ 'rpc.method': 'echo', 'msgpacknet.rpc.outcome': 'ok' }).count).toBe(2);
  });

  it('a connection opened before instrument() is not subtracted when it closes (the count never goes below 0)', async () => {
    const { reader, provider } = meterWithReader();
    const server = await listening({ id: 'otel-late' });
    const { node: caller } = client({ id: 'otel-early' });
    await caller.connect(server.address);
    await until(() => server.node.isConnected('otel-early'));
    instrument(server.node, { meter: provider.getMeter('spec') });
    await caller.disconnect('otel-late');
    await until(() => !server.node.isConnected('otel-early'));
    const points = (await collect(reader)).get(METRICS.connections) ?? [];
    expect(points.every((point) => (point.value as number) >= 0))
      .withContext(JSON.stringify(points.map((p) => p.value)))
      .toBeTrue();
  });
});
