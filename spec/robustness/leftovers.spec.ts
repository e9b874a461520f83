import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FrameDecoder } from '../../lib/codec/FrameDecoder.js';

/** A full garbage collection (Node's gc, exposed at run time: the specs run without --expose-gc). */
function collect(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/**
 * A value cut into many tiny chunks (a WebSocket peer sending one byte per
 * message, or a TCP peer trickling) costs its bytes, not an object per
 * chunk. Found by a hostile review: one byte per WebSocket message cost
 * about 250 bytes of heap per byte (934 MiB for a 4 MB value).
 */
describe('a value gathered from tiny chunks', () => {
  it('holds about its own bytes: 300,000 one-byte chunks of a binary value cost under 2 MiB of heap, and it decodes whole', () => {
    const length = 300_000;
    const decoder = new FrameDecoder({ maxValueBytes: 1 << 20 });
    const header = Uint8Array.of(0xc6, 0, length >> 16, (length >> 8) & 0xff, length & 0xff); // bin 32
    const values: unknown[] = [];
    const push = (value: unknown): number => values.push(value);
    decoder.write(header, push);
    collect();
    const before = process.memoryUsage().heapUsed;
    const byte = new Uint8Array(1);
    for (let i = 0; i < length - 1; i++) {
      byte[0] = i & 0xff;
      decoder.write(byte.slice(), push);
    }
    collect();
    const held = process.memoryUsage().heapUsed - before;
    expect(decoder.bufferedBytes).toBe(5 + length - 1);
    expect(held).toBeLessThan(2 * 1024 * 1024);
    decoder.write(Uint8Array.of((length - 1) & 0xff), push);
    expect(values.length).toBe(1);
    const bytes = values[0] as Uint8Array;
    expect(bytes.length).toBe(length);
    expect(bytes.every((value, i) => value === (i & 0xff))).toBeTrue();
  });
});
