import { Encoder, type EncoderConfig } from '../codec/Encoder.js';
import { FrameDecoder, type FrameDecoderConfig } from '../codec/FrameDecoder.js';
import { NetError } from '../errors.js';

/**
 * A node's connection to itself: `send` to its own id goes through the
 * codec (encoded and decoded with the node's limits, so a message that could
 * not cross the wire cannot cross here either) and arrives as a `message`
 * from itself in a microtask, never inside `send`. It is not registered:
 * `isConnected(self)` stays false, as in the crate.
 */
export class SelfConnection {
  private readonly encoder: Encoder;
  private readonly decoder: FrameDecoder;

  constructor(
    private readonly deliver: (message: unknown) => void,
    /** The node's limits: what its connections encode with and decode with. */
    limits: { readonly encoder: EncoderConfig; readonly decoder: FrameDecoderConfig },
  ) {
    this.encoder = new Encoder(limits.encoder);
    this.decoder = new FrameDecoder(limits.decoder);
  }

  /** Queues the message to this node; throws `SEND_ERROR` when it cannot be encoded or its decoding is refused. */
  send(message: unknown): void {
    this.encoder.append(message); // over maxValueBytes or maxDepth: SEND_ERROR, as a send to a peer
    try {
      this.decoder.write(this.encoder.take(), (value) => queueMicrotask(() => this.deliver(value)));
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
  }
}
