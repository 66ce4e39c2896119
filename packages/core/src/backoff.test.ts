import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('grows by its factor per failure up to its cap, and starts over after a reset', () => {
    const b = new Backoff({ initialMs: 500, maxMs: 30_000 });
    const delays = Array.from({ length: 9 }, () => b.next());
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(b.peek()).toBe(30_000);
    b.reset();
    expect(b.next()).toBe(500);
  });

  it('takes another factor', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 3 });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([100, 300, 900, 1000]);
  });

  it('refuses options that make no backoff, naming them', () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 10 })).toThrow(/initialMs/);
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(/maxMs/);
    expect(() => new Backoff({ initialMs: 10, maxMs: 20, factor: 0.5 })).toThrow(/factor/);
  });
});

describe('Backoff extensions', () => {
  it('adds up to its jitter fraction at random, never past maxMs, growing from the base delays', () => {
    let r = 0.999;
    const b = new Backoff({ initialMs: 100, maxMs: 250, factor: 2, jitter: 0.5, random: () => r });
    expect(b.next()).toBeCloseTo(149.95);
    r = 0;
    expect(b.next()).toBe(200);
    r = 0.999;
    expect(b.next()).toBe(250);
    expect(b.peek()).toBe(250);
  });

  it('counts failures, and starts over after a run of resetAfterMs, not a shorter one', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 1000, resetAfterMs: 500 });
    b.next();
    b.next();
    expect(b.failures).toBe(2);
    b.ran(499);
    expect(b.next()).toBe(40);
    b.ran(500);
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(10);
  });

  it('names a bad option after the caller prefix', () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 10 }, 'X option retry.')).toThrow(
      'X option retry.initialMs must be > 0',
    );
    expect(() => new Backoff({ initialMs: 1, maxMs: 10, jitter: -1 })).toThrow(/jitter/);
    expect(() => new Backoff({ initialMs: 1, maxMs: 10, resetAfterMs: 0 })).toThrow(/resetAfterMs/);
    expect(() => new Backoff({ initialMs: 1, maxMs: 10, factor: Infinity })).toThrow(/factor/);
  });
});
