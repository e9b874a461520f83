import { TestScheduler } from 'rxjs/testing';
import { Deadline } from '../../lib/node/Deadline.js';
import type { NetError } from '../../lib/errors.js';

describe('Deadline', () => {
  it('fires once at its time: aborts its signal and tells its handler, with one TIMEOUT naming what was awaited', () => {
    const scheduler = new TestScheduler(() => undefined);
    const deadline = new Deadline(500, scheduler);
    const told: NetError[] = [];
    deadline.onExpiry((error) => told.push(error as unknown as NetError), 'no handshake arrived', '10.0.0.1:7');
    deadline.waitFor('no accept decision was made');
    scheduler.flush();
    expect(deadline.signal.aborted).toBeTrue();
    expect(told.length).toBe(1);
    expect(told[0]!.code).toBe('TIMEOUT');
    expect(told[0]!.limit).toBe('handshakeTimeout');
    expect(told[0]!.max).toBe(500);
    expect(told[0]!.address).toBe('10.0.0.1:7');
    expect(told[0]!.message).toContain('no accept decision was made');
    expect(deadline.signal.reason).toBe(told[0]);
  });

  it('cancel(): nothing fires', () => {
    const scheduler = new TestScheduler(() => undefined);
    const deadline = new Deadline(500, scheduler);
    let told = 0;
    deadline.onExpiry(() => told++, 'x', 'y');
    deadline.cancel();
    scheduler.flush();
    expect(told).toBe(0);
    expect(deadline.signal.aborted).toBeFalse();
  });
});
