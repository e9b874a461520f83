const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The decoder reads every 64-bit integer as a `bigint`; the contract wants a
 * `number` whenever that is exact. This walks a decoded value (only values in
 * which the scanner saw a 64-bit integer) and turns safe `bigint`s into
 * numbers, in place.
 */
export function normalizeInt64(value: unknown): unknown {
  if (typeof value === 'bigint') return value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = normalizeInt64(value[i]);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = normalizeInt64(record[key]);
  }
  return value;
}
