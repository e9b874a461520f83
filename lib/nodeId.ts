import { Encoder } from './codec/Encoder.js';
import { DEFAULT_MAX_DEPTH } from './defaults.js';

// As deep as a value that decodes under the default limits: every id a peer can send has a key.
const canonical = new Encoder({ sortKeys: true, maxValueBytes: 16 * 1024 * 1024, maxDepth: DEFAULT_MAX_DEPTH + 1 });
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The registry key of a node id: two ids get the same key exactly when their
 * canonical MessagePack encodings (map keys sorted) are equal, so `[1, 2]`
 * and a fresh `[1, 2]` are one node, and `1` and `"1"` are two.
 *
 * A `bigint` that a `number` holds exactly counts as that number, because
 * that is how it decodes. Throws a `SEND_ERROR` `NetError` for a value that
 * cannot be encoded.
 *
 * @example
 * ```ts
 * import { nodeIdKey } from 'msgpacknet';
 * nodeIdKey([1, { b: 2, a: 1 }]) === nodeIdKey([1, { a: 1, b: 2 }]); // true
 * ```
 */
export function nodeIdKey(id: unknown): string {
  // Fast paths for the common id types; the prefixes keep them apart from encoded keys.
  if (typeof id === 'string') return `s${id}`;
  if (typeof id === 'number') return Number.isSafeInteger(id) || !Number.isInteger(id) ? `n${id}` : encodedKey(id);
  if (typeof id === 'bigint' && id >= MIN_SAFE && id <= MAX_SAFE) return `n${Number(id)}`;
  return encodedKey(id);
}

function encodedKey(id: unknown): string {
  const bytes = canonical.encode(id);
  let key = 'b';
  for (const byte of bytes) key += String.fromCharCode(byte);
  return key;
}

/**
 * Are `a` and `b` the same node id (value equality, see {@link nodeIdKey})?
 *
 * @example
 * ```ts
 * import { nodeIdEquals } from 'msgpacknet';
 * console.log(nodeIdEquals([1, 2], [1, 2]), nodeIdEquals(1, '1')); // true false
 * ```
 */
export function nodeIdEquals(a: unknown, b: unknown): boolean {
  return a === b || nodeIdKey(a) === nodeIdKey(b);
}

/**
 * A random 128-bit node id: 32 lower-case hex digits, from the platform's
 * cryptographic random source (`crypto.getRandomValues`).
 *
 * @example
 * ```ts
 * import { randomNodeId } from 'msgpacknet';
 * randomNodeId(); // e.g. '3f2a...' (32 hex digits)
 * ```
 */
export function randomNodeId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
