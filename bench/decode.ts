// Micro-benchmark of the decoder alone: values/s for tiny values (the integer 42) and small maps,
// FrameDecoder (header scan + limits + ValueDecoder) against @msgpack/msgpack's decodeMulti on the
// same bytes (no framing, no limits). `node dist/bench/decode.js`
import { decodeMulti, encode } from '@msgpack/msgpack';
import { performance } from 'node:perf_hooks';
import { FrameDecoder } from '../lib/codec/FrameDecoder.js';

function chunkOf(value: unknown, bytes = 65536): { chunk: Uint8Array; count: number } {
  const one = encode(value);
  const count = Math.floor(bytes / one.length);
  const chunk = new Uint8Array(count * one.length);
  for (let i = 0; i < count; i++) chunk.set(one, i * one.length);
  return { chunk, count };
}

function rate(run: () => number, ms = 1000): number {
  let values = 0;
  for (let warm = performance.now(); performance.now() - warm < 200;) run();
  const started = performance.now();
  while (performance.now() - started < ms) values += run();
  return values / ((performance.now() - started) / 1000);
}

const results: Record<string, { frameDecoder: number; decodeMulti: number; ratio: number }> = {};
for (const [name, value] of [
  ['tiny (42)', 42],
  ['small ({seq, ts, body})', { seq: 1, ts: Date.now(), body: 'hello world' }],
] as const) {
  const { chunk, count } = chunkOf(value);
  const decoder = new FrameDecoder();
  let sink = 0;
  const ours = rate(() => {
    decoder.write(chunk, () => sink++);
    return count;
  });
  const theirs = rate(() => {
    const values = decodeMulti(chunk);
    while (values.next().done !== true) sink++;
    return count;
  });
  results[name] = { frameDecoder: Math.round(ours), decodeMulti: Math.round(theirs), ratio: Number((ours / theirs).toFixed(2)) };
}
console.table(results);
