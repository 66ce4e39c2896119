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
