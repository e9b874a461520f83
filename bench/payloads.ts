// The benchmark's messages: the same values for msgpacknet and the raw baseline.
export type PayloadKind = 'tiny' | 'small' | '1k' | '64k';

export const PAYLOADS: readonly PayloadKind[] = ['tiny', 'small', '1k', '64k'];

/** A factory of messages of one kind, and their approximate encoded size in bytes. */
export function payload(kind: PayloadKind): { size: number; next: (seq: number) => unknown } {
  switch (kind) {
    case 'tiny':
      return { size: 1, next: () => 42 };
    case 'small': {
      const ts = Date.now();
      return { size: 37, next: (seq) => ({ seq, ts, body: 'hello world' }) };
    }
    case '1k': {
      const body = new Uint8Array(1024).fill(1);
      return { size: 1027, next: () => body };
    }
    case '64k': {
      const body = new Uint8Array(65536).fill(1);
      return { size: 65541, next: () => body };
    }
  }
}
