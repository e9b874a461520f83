import { ExtData as MsgpackExtData } from '@msgpack/msgpack';

// The package's declarations name none of @msgpack/msgpack's types: those reach DOM's `BufferSource`, which a
// Node.js project without the DOM library lacks (and a user's `tsc` checks them unless `skipLibCheck`). These
// types describe the same things, and @msgpack/msgpack's own values fit them.

/**
 * A MessagePack extension value the codec has no type for: its extension
 * `type` (-128 to 127) and its payload. Decoders give one for each extension
 * their codec does not decode; the encoder writes one as that extension.
 * It is `@msgpack/msgpack`'s `ExtData` class (so its `ExtData` values are
 * these too).
 *
 * @example
 * ```ts
 * import { Encoder, ExtData, FrameDecoder } from 'msgpacknet';
 * const bytes = new Encoder().encode(new ExtData(5, Uint8Array.of(1, 2)));
 * new FrameDecoder().write(bytes, (value) => {
 *   if (value instanceof ExtData) console.log(value.type, value.data); // 5 Uint8Array(2) [ 1, 2 ]
 * });
 * ```
 */
export interface ExtData {
  /** The extension type, -128 to 127 (negative types are reserved by MessagePack). */
  readonly type: number;
  /** The payload, or a function that makes it (given the position it is written at). */
  readonly data: Uint8Array | ((pos: number) => Uint8Array);
}

/** The `ExtData` class (`@msgpack/msgpack`'s): `new ExtData(type, data)` makes an extension value, `instanceof ExtData` tells one. */
export const ExtData: {
  /** An extension value of `type` carrying `data`. */
  new (type: number, data: Uint8Array | ((pos: number) => Uint8Array)): ExtData;
  /** What `instanceof ExtData` checks for. */
  readonly prototype: ExtData;
} = MsgpackExtData;

/**
 * Encodes and decodes extension types of your own (the `extensionCodec` of
 * {@link EncoderConfig} and {@link FrameDecoderConfig}): `@msgpack/msgpack`'s
 * `ExtensionCodec` is one (`new ExtensionCodec()`, then `register(...)`).
 *
 * @example
 * ```ts
 * import { ExtensionCodec } from '@msgpack/msgpack';
 * import { Encoder, FrameDecoder, type ExtensionCodecType } from 'msgpacknet';
 * const codec = new ExtensionCodec();
 * codec.register({
 *   type: 1,
 *   encode: (value) => (value instanceof Set ? new Encoder().encode([...value]) : null),
 *   decode: (data) => {
 *     const items: unknown[] = [];
 *     new FrameDecoder().write(data, (value) => items.push(...(value as unknown[])));
 *     return new Set(items);
 *   },
 * });
 * const extensionCodec: ExtensionCodecType = codec;
 * const bytes = new Encoder({ extensionCodec }).encode(new Set([1, 2]));
 * new FrameDecoder({ extensionCodec }).write(bytes, (value) => console.log(value)); // Set(2) { 1, 2 }
 * ```
 */
export interface ExtensionCodecType {
  /** The extension value for `object`, or `null` when this codec does not encode it. */
  tryToEncode(object: unknown, context: undefined): ExtData | null;
  /** The value an extension of type `extType` with payload `data` stands for. */
  decode(data: Uint8Array, extType: number, context: undefined): unknown;
}
