import { ExtData, ExtensionCodec, decodeTimestampToTimeSpec, encodeTimestampExtension } from '@msgpack/msgpack';

/** The largest time a `Date` holds, in ms either side of 1970 (ECMA-262: 10^8 days). */
const MAX_DATE_MS = 8.64e15;

/**
 * The extension codec a decoder uses unless it is given another: the
 * timestamp extension (-1) decodes as a `Date` (to the millisecond) when it
 * is valid and a `Date` can hold it, and otherwise as `ExtData(-1, bytes)`, so a timestamp from a peer that is
 * outside the `Date` range (a Rust `SystemTime` far in the future, or a
 * hostile one) keeps its bytes instead of becoming an invalid `Date` that
 * cannot be sent again, compared or used as a node id. Other types decode as
 * `ExtData`.
 */
export const defaultExtensionCodec = new ExtensionCodec();

defaultExtensionCodec.register({
  type: -1,
  encode: (value: unknown) => encodeTimestampExtension(value),
  decode: (data: Uint8Array) => {
    const { sec, nsec } = decodeTimestampToTimeSpec(data);
    const ms = sec * 1000 + nsec / 1e6;
    // Nanoseconds of 10^9 or more are not a valid timestamp: keep the bytes rather than normalise them.
    if (nsec < 1e9 && Math.abs(ms) <= MAX_DATE_MS) return new Date(ms);
    // The bytes are a view into the read chunk: copy them, so the value does not pin it.
    return new ExtData(-1, data.slice());
  },
});
