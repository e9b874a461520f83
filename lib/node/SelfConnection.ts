import { Encoder, type EncoderConfig } from '../codec/Encoder.js';
import { FrameDecoder, type FrameDecoderConfig } from '../codec/FrameDecoder.js';
import { NetError } from '../errors.js';
import { validate, type Validator } from '../validate.js';

/**
 * A node's connection to itself: `send` to its own id goes through the
 * codec (encoded and decoded with the node's limits, so a message that could
 * not cross the wire cannot cross here either) and arrives as a `message`
 * from itself in a microtask, never inside `send`; the node's
 * `validateMessage` checks it in `send`, where a peer would check it on
 * arrival, so an invalid message is refused with `SEND_ERROR`. It is not registered:
 * `isConnected(self)` stays false, as in the crate.
 */
export class SelfConnection {
  private readonly encoder: Encoder;
  private readonly decoder: FrameDecoder;

  constructor(
    private readonly deliver: (message: unknown) => void,
    /** The node's limits: what its connections encode with and decode with. */
    limits: { readonly encoder: EncoderConfig; readonly decoder: FrameDecoderConfig },
    /** The node's `validateMessage`. */
    private readonly validator?: Validator<unknown>,
  ) {
    this.encoder = new Encoder(limits.encoder);
    this.decoder = new FrameDecoder(limits.decoder);
  }

  /** Queues the message to this node; throws `SEND_ERROR` when it cannot be encoded, its decoding is refused, or it is invalid. */
  send(message: unknown): void {
    this.encoder.append(message); // over maxValueBytes or maxDepth: SEND_ERROR, as a send to a peer
    let decoded: unknown;
    try {
      this.decoder.write(this.encoder.take(), (value) => (decoded = value)); // one value: the message
    } catch (error) {
      // A value the decoder's limits refuse (too many objects, say) is the sender's to hear of, as a peer's limit would be.
      if (!(error instanceof NetError)) throw error;
      const { limit, max, actual } = error;
      throw new NetError('SEND_ERROR', `the message to this node itself cannot be decoded: ${error.message}`, {
        cause: error,
        ...(limit === undefined ? {} : { limit }),
        ...(max === undefined ? {} : { max }),
        ...(actual === undefined ? {} : { actual }),
      });
    }
    const value = this.check(decoded);
    queueMicrotask(() => this.deliver(value));
  }

  /** The decoded message as `validateMessage` passes it (perhaps transformed); `SEND_ERROR` when it fails or throws. */
  private check(value: unknown): unknown {
    if (this.validator === undefined) return value;
    let checked: ReturnType<typeof validate>;
    try {
      checked = validate(this.validator, value);
    } catch (error) {
      throw new NetError('SEND_ERROR', 'the message to this node itself: its validator threw', { cause: error });
    }
    if (!checked.ok) throw new NetError('SEND_ERROR', `the message to this node itself is invalid (${checked.reason})`);
    return checked.value;
  }
}
