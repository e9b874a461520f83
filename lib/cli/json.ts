// How the command-line tool shows MessagePack values as JSON, and reads them back.
//   binary (Uint8Array)  <->  {"$base64": "..."}
//   bigint               <->  {"$bigint": "18446744073709551615"}
//   Date                  ->  {"$date": "2026-01-01T00:00:00.000Z"}
//   extension            <->  {"$ext": 5, "$base64": "..."}
import { ExtData } from '@msgpack/msgpack';

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** A decoded value as plain JSON-safe data. */
export function toJson(value: unknown): unknown {
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (value instanceof Uint8Array) return { $base64: toBase64(value) };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (value instanceof ExtData)
    return { $ext: value.type, $base64: toBase64(value.data instanceof Uint8Array ? value.data : value.data(0)) };
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = toJson(item);
    return out;
  }
  return value;
}

/** JSON data as the value to send (the inverse of {@link toJson}). */
export function fromJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && typeof record.$bigint === 'string') return BigInt(record.$bigint);
    if (keys.length === 1 && typeof record.$base64 === 'string') return new Uint8Array(Buffer.from(record.$base64, 'base64'));
    if (keys.length === 2 && typeof record.$ext === 'number' && typeof record.$base64 === 'string') {
      return new ExtData(record.$ext, new Uint8Array(Buffer.from(record.$base64, 'base64')));
    }
    const out: Record<string, unknown> = {};
    for (const key of keys) out[key] = fromJson(record[key]);
    return out;
  }
  return value;
}

/** One line of JSON for a value. */
export function line(value: unknown): string {
  return JSON.stringify(toJson(value));
}

/** A command-line value that looks like JSON but is not valid JSON (a usage error). */
export class NotJsonError extends Error {}

/** Could `text` have been meant as JSON (an object, array, JSON string or number), or is it plainly a word or phrase? */
function looksLikeJson(text: string): boolean {
  const trimmed = text.trim();
  // A hex id such as keygen's (671e80...) is a word; 1.2.3, 01 or 1e are broken numbers.
  return trimmed === '' || /^[[{"']/.test(trimmed) || /[\]}"]$/.test(trimmed) || /^[+-]?\.?\d[\d.eE+-]*$/.test(trimmed);
}

/** `text` as a JSON string, quoted for a POSIX shell: what to type to pass `text` itself as a string. */
export function shellJsonString(text: string): string {
  return `'${JSON.stringify(text).replaceAll("'", "'\\''")}'`;
}

/**
 * An id, init message or `send` message given on the command line, or a line read on stdin by
 * `listen` and `connect`. Valid JSON is that value
 * (e.g. `[1,2]`, `42`, `"text"`). Anything else is taken as a string only when it cannot have
 * been meant as JSON: a word or phrase such as `server`, `hello world` or a hex id. Text that
 * starts like JSON (`{ [ " '`), ends like it (`} ] "`), is made of a number's characters
 * (`1.2.3`, `01`) or is empty, yet does not parse,
 * throws {@link NotJsonError}: a typo must not become a string silently.
 *
 * @param what names the value in the error, e.g. `--id` or `message 2`.
 * @param hint how else to pass a string, appended to the error.
 * @param quote how to write `text` as a JSON string in the error: for a shell (the default), or as typed on stdin.
 */
export function parseArgument(text: string, what: string, hint = '', quote: (text: string) => string = shellJsonString): unknown {
  try {
    return fromJson(JSON.parse(text));
  } catch (error) {
    if (!looksLikeJson(text)) return text;
    const why = error instanceof Error ? error.message : String(error);
    throw new NotJsonError(
      `${what}: ${JSON.stringify(text)} is not valid JSON (${why}); to pass it as a string, write it as a JSON string: ${quote(text)}${hint}`,
    );
  }
}
