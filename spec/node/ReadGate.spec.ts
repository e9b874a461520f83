import { ReadGate } from '../../lib/node/ReadGate.js';

/** A stream that records what the gate asks of it. */
function recorder(): { calls: string[]; pause(): void; resume(): void } {
  const calls: string[] = [];
  return { calls, pause: () => calls.push('pause'), resume: () => calls.push('resume') };
}

describe('ReadGate', () => {
  it('pauses on the first reason and resumes when the last is released, never otherwise', () => {
    const stream = recorder();
    const gate = new ReadGate(stream);
    gate.hold('pending');
    gate.hold('events');
    gate.hold('pending'); // again: nothing new
    expect(stream.calls).toEqual(['pause']);
    gate.release('pending');
    expect(gate.paused).toBeTrue();
    gate.release('pending'); // not held any more: nothing
    gate.release('events');
    expect(stream.calls).toEqual(['pause', 'resume']);
    expect(gate.paused).toBeFalse();
  });

  it('a release for a reason never held does nothing', () => {
    const stream = recorder();
    new ReadGate(stream).release('events');
    expect(stream.calls).toEqual([]);
  });

  it('openForever(): reads from then on, whatever holds it', () => {
    const stream = recorder();
    const gate = new ReadGate(stream);
    gate.hold('events');
    gate.openForever();
    gate.hold('pending');
    gate.release('events');
    gate.release('pending');
    expect(stream.calls).toEqual(['pause', 'resume']);
  });
});
