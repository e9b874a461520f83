// The raw baseline's framing: where the complete MessagePack values in `bytes` end (no limits, no state).
// Returns the offset after the last complete value (0 when none is complete).
export function splitValues(bytes: Uint8Array): number {
  let end = 0;
  let p = 0;
  const length = bytes.length;
  while (p < length) {
    const next = skipValue(bytes, p, length);
    if (next < 0) break;
    end = p = next;
  }
  return end;
}

function skipValue(b: Uint8Array, start: number, length: number): number {
  let p = start;
  let owed = 1;
  while (owed > 0) {
    if (p >= length) return -1;
    const t = b[p]!;
    owed--;
    if (t < 0x80 || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) p += 1;
    else if (t < 0x90) {
      owed += 2 * (t & 0x0f);
      p += 1;
    } else if (t < 0xa0) {
      owed += t & 0x0f;
      p += 1;
    } else if (t < 0xc0) p += 1 + (t & 0x1f);
    else {
      const need = (n: number): boolean => p + n < length;
      switch (t) {
        case 0xc4:
        case 0xd9:
          if (!need(1)) return -1;
          p += 2 + b[p + 1]!;
          break;
        case 0xc5:
        case 0xda:
          if (!need(2)) return -1;
          p += 3 + ((b[p + 1]! << 8) | b[p + 2]!);
          break;
        case 0xc6:
        case 0xdb:
          if (!need(4)) return -1;
          p += 5 + (b[p + 1]! * 2 ** 24 + ((b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!));
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          p += 5;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          p += 9;
          break;
        case 0xcc:
        case 0xd0:
          p += 2;
          break;
        case 0xcd:
        case 0xd1:
          p += 3;
          break;
        case 0xdc:
          if (!need(2)) return -1;
          owed += (b[p + 1]! << 8) | b[p + 2]!;
          p += 3;
          break;
        case 0xde:
          if (!need(2)) return -1;
          owed += 2 * ((b[p + 1]! << 8) | b[p + 2]!);
          p += 3;
          break;
        default:
          throw new Error(`the baseline does not handle type 0x${t.toString(16)}`);
      }
    }
  }
  return p <= length ? p : -1;
}
