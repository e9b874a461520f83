import { DecayingRate, TrafficCounter } from '../lib/stats.js';

/** Feeds `bytesPerSecond` for `seconds`, in `writesPerSecond` equal writes, and returns the rate at the end. */
function steady(bytesPerSecond: number, writesPerSecond: number, seconds: number, halfLife = 60_000): number {
  const rate = new DecayingRate(halfLife);
  const step = 1000 / writesPerSecond;
  let now = 0;
  for (let i = 0; i < seconds * writesPerSecond; i++) {
    now += step;
    rate.add(bytesPerSecond / writesPerSecond, now);
  }
  return rate.rate(now);
}

describe('DecayingRate', () => {
  it('reads ~1000 bytes/s for a steady 1000 bytes/s after a few half-lives, in 1 write a second', () => {
    expect(steady(1000, 1, 600)).toBeCloseTo(1000, -1.5);
  });

  it('reads the same in 1000 writes a second (bytes per second, not per call)', () => {
    const many = steady(1000, 1000, 600);
    expect(many).toBeCloseTo(1000, -1.5);
    expect(Math.abs(many - steady(1000, 1, 600))).toBeLessThan(20);
  });

  it('follows a change of rate with the half-life', () => {
    const rate = new DecayingRate(1000);
    let now = 0;
    for (; now < 20_000; now += 10) rate.add(10, now); // 1000 bytes/s
    const before = rate.rate(now);
    expect(before).toBeCloseTo(1000, -1.5);
    expect(rate.rate(now + 1000)).toBeCloseTo(before / 2, 0); // silence: halves per half-life
    expect(rate.rate(now + 3000)).toBeCloseTo(before / 8, 0);
  });

  it('is zero before anything happens', () => {
    expect(new DecayingRate(1000).rate(5000)).toBe(0);
  });

  it('refuses a half-life that is not positive', () => {
    expect(() => new DecayingRate(0)).toThrowError(TypeError);
    expect(() => new DecayingRate(Number.NaN)).toThrowError(TypeError);
  });
});

describe('TrafficCounter', () => {
  it('keeps totals, idle time and rate', () => {
    const counter = new TrafficCounter(60_000, 100);
    expect(counter.idle(600)).toBe(500);
    counter.add(10, 1000);
    counter.add(5, 2000);
    expect(counter.total).toBe(15);
    expect(counter.idle(2500)).toBe(500);
    expect(counter.rate(2000)).toBeGreaterThan(0);
  });
});
