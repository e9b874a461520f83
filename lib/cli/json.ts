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

/** An id or init given on the command line: JSON when it parses, else the string itself. */
export function parseLoose(text: string): unknown {
  try {
    return fromJson(JSON.parse(text));
  } catch {
    return text;
  }
}
