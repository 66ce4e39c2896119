import { describe, expect, it } from 'vitest';
import { Sampler } from './sampler.js';
import type { SpanContext } from './trace-context.js';

const parent = (sampled: boolean | undefined, debug = false): SpanContext => ({
  traceId: 'a'.repeat(32),
  spanId: 'b'.repeat(16),
  sampled,
  debug,
  traceState: undefined,
  formats: 1,
});

describe('Sampler', () => {
  it('follows the parent when parent-based, else the ratio', () => {
    const s = new Sampler({ parentBased: true, ratio: 0 });
    expect(s.sample(parent(true))).toBe(true);
    expect(s.sample(parent(false))).toBe(false);
    expect(s.sample(parent(undefined))).toBe(false);
    expect(s.sample(undefined)).toBe(false);
    expect(s.never).toBe(false);
    expect(new Sampler({ parentBased: true, ratio: 1 }).sample(parent(false))).toBe(false);
  });

  it('ignores the parent when not parent-based, but for debug', () => {
    const off = new Sampler({ parentBased: false, ratio: 0 });
    expect(off.sample(parent(true))).toBe(false);
    expect(off.sample(parent(true, true))).toBe(true);
    expect(off.never).toBe(true);
    expect(new Sampler({ parentBased: false, ratio: 1 }).sample(parent(false))).toBe(true);
  });

  it('samples the ratio of new traces', () => {
    const draws = [0.1, 0.3, 0.29];
    const s = new Sampler({ parentBased: true, ratio: 0.3 }, () => draws.shift()!);
    expect([s.sample(undefined), s.sample(undefined), s.sample(undefined)]).toEqual([true, false, true]);
  });

  it('refuses a ratio outside 0–1', () => {
    expect(() => new Sampler({ parentBased: true, ratio: 2 })).toThrow(/ratio/);
  });
});
