import { VirtualTimeScheduler } from 'rxjs';
import { IdleClock } from '../../lib/operators/IdleClock.js';

describe('IdleClock (the idle rule of idleTimeout and of the read path)', () => {
  class HeldClock extends IdleClock {
    holding = false;
    protected override held(): boolean {
      return this.holding;
    }
  }

  /** A scheduler whose clock the spec moves. */
  function clockAt(): { scheduler: VirtualTimeScheduler; advance(ms: number): void } {
    const scheduler = new VirtualTimeScheduler();
    return {
      scheduler,
      advance(ms) {
        scheduler.schedule(() => undefined, ms);
        scheduler.flush();
      },
    };
  }

  it('counts the period from its start, then from the last touch', () => {
    const { scheduler, advance } = clockAt();
    const clock = new IdleClock(100, scheduler);
    advance(30);
    expect(clock.left()).toBe(70);
    clock.touch();
    advance(60);
    expect(clock.left()).toBe(40);
    advance(40);
    expect(clock.left()).toBe(0);
    advance(5);
    expect(clock.left()).toBe(-5);
  });

  it('while held, the period starts again whenever it is looked at', () => {
    const { scheduler, advance } = clockAt();
    const clock = new HeldClock(50, scheduler);
    clock.holding = true;
    advance(500);
    expect(clock.left()).toBe(50);
    clock.holding = false;
    advance(20);
    expect(clock.left()).toBe(30);
  });

  it('its error is TIMEOUT with limit idleTimeout, max the period, the address in the message', () => {
    const { scheduler } = clockAt();
    const error = new IdleClock(250, scheduler).expired({ address: '10.0.0.1:7', nodeId: 'peer' });
    expect(error).toEqual(
      jasmine.objectContaining({ code: 'TIMEOUT', limit: 'idleTimeout', max: 250, address: '10.0.0.1:7', nodeId: 'peer' }),
    );
    expect(error.message).toBe('nothing received for 250 ms from 10.0.0.1:7');
  });
});
