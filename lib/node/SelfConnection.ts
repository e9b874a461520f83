import { Encoder } from '../codec/Encoder.js';
import { FrameDecoder } from '../codec/FrameDecoder.js';
import { NetError } from '../errors.js';

/**
 * A node's connection to itself: `send` to its own id goes through the
 * codec (encoded and decoded with the node's limits, so a message that could
 * not cross the wire cannot cross here either) and arrives as a `message`
 * from itself in a microtask, never inside `send`. It is not registered:
 * `isConnected(self)` stays false, as in the crate.
 */
export class SelfConnection {
  private readonly encoder = new Encoder();
  private readonly decoder = new FrameDecoder();

  constructor(private readonly deliver: (message: unknown) => void) {}

  /** Queues the message to this node; throws `SEND_ERROR` when it cannot be encoded or its decoding is refused. */
  send(message: unknown): void {
    this.encoder.append(message);
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
