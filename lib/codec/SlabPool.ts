/** The size of one pool buffer. */
const POOL_SIZE = 64 * 1024;

/**
 * Small slabs for every encoder, carved from one shared buffer (as Node's
 * `Buffer` pool does): a connection that sends one small message per turn
 * then costs a bump of an offset, not a fresh zeroed `ArrayBuffer` each
 * time. A carved slab belongs to one encoder until it lets go of it; batches
 * taken from it are never written again, so sharing the buffer is safe. A
 * batch taken from the pool keeps the whole 64 KiB buffer alive while it is
 * held: `Encoder.takeView()` says so, `Encoder.take()` copies.
 */
export class SlabPool {
  /** The current buffer; a new one replaces it when a slab no longer fits. */
  bytes = new Uint8Array(POOL_SIZE);
  view = new DataView(this.bytes.buffer);
  private used = 0;

  /** The largest slab this pool hands out. */
  static readonly MAX_SLAB = 8 * 1024;

  /** Carves `size` bytes (at most {@link MAX_SLAB}); returns their offset in {@link bytes} (which may be a new buffer). */
  carve(size: number): number {
    if (this.used + size > POOL_SIZE) {
      this.bytes = new Uint8Array(POOL_SIZE);
      this.view = new DataView(this.bytes.buffer);
      this.used = 0;
    }
    const start = this.used;
    this.used += size;
    return start;
  }

  /** Gives back the unused tail `[end, limit)` of a slab of `bytes`, if it was the last carved. */
  giveBack(bytes: Uint8Array, end: number, limit: number): void {
    if (bytes === this.bytes && limit === this.used) this.used = end;
  }
}

/** The pool every encoder shares. */
export const sharedPool = new SlabPool();
