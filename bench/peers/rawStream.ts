// The raw baseline's framing, shared by the rows that carry a MessagePack byte stream themselves (raw TCP,
// raw `ws` batched): values encoded back to back into one buffer, written once per batch; the
// reader scans for value ends and decodes the complete ones with decodeMulti. bench/worker.ts's raw roles use it too.
import { Encoder, decodeMulti } from '@msgpack/msgpack';
import { splitValues } from '../rawSplit.js';

/** The raw baseline's receive path: a header scan for value ends, then decodeMulti over the complete ones. */
export function rawReader(onValue: (value: unknown) => void): (chunk: Buffer) => void {
  let leftover: Buffer | undefined;
  return (chunk) => {
    const bytes = leftover ? Buffer.concat([leftover, chunk]) : chunk;
    const end = splitValues(bytes);
    if (end > 0) for (const value of decodeMulti(bytes.subarray(0, end))) onValue(value);
    leftover = end < bytes.length ? bytes.subarray(end) : undefined;
  };
}

/** The raw baseline's send path: values encoded into one buffer; `flush` hands it to `write` (which waits for room). */
export class RawBatcher {
  private readonly encoder = new Encoder({ useBigInt64: false });
  private buffer = Buffer.allocUnsafe(1 << 20);
  private length = 0;
  constructor(private readonly write: (bytes: Buffer) => Promise<void>) {}
  add(value: unknown): void {
    const bytes = this.encoder.encodeSharedRef(value);
    if (this.length + bytes.length > this.buffer.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes.length));
      this.buffer.copy(next, 0, 0, this.length);
      this.buffer = next;
    }
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }
  /** Writes the batch; resolves when the transport can take more. */
  flush(): Promise<void> {
    const out = this.buffer.subarray(0, this.length);
    this.buffer = Buffer.allocUnsafe(this.buffer.length);
    this.length = 0;
    return this.write(out);
  }
}
