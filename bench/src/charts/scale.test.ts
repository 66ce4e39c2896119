import { describe, expect, it } from 'vitest';
import { linearScale } from './scale.js';

describe('linearScale', () => {
  it.each([
    [[0.0298, 0.083]],
    [[1.47, 0.2]],
    [[37.45]],
    [[28979]],
    [[5]],
    [[0.5, 250]],
    [[1e-4]],
  ])('starts at zero and reaches at least the largest value of %j', (values) => {
    const scale = linearScale(values);
    expect(scale.ticks[0]).toBe(0);
    expect(scale.max).toBe(scale.ticks[scale.ticks.length - 1]);
    expect(scale.max).toBeGreaterThanOrEqual(Math.max(...values));
    // Not more than one step of slack above the data.
    const step = scale.ticks[1]! - scale.ticks[0]!;
    expect(scale.max - Math.max(...values)).toBeLessThan(step + 1e-12);
  });

  it('spaces its ticks evenly with round values', () => {
    expect(linearScale([37.454]).ticks).toEqual([0, 10, 20, 30, 40]);
    expect(linearScale([1.474]).ticks).toEqual([0, 0.5, 1, 1.5]);
    expect(linearScale([0.3]).ticks).toEqual([0, 0.1, 0.2, 0.3]);
  });

  it('ignores missing, negative and non-finite values, and spans 0 to 1 when nothing is left', () => {
    expect(linearScale([undefined, Number.NaN, -3, Number.POSITIVE_INFINITY, 2]).max).toBe(2);
    expect(linearScale([]).ticks).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(linearScale([undefined, 0]).max).toBe(1);
  });

  it('never yields a tick that is not a finite number', () => {
    for (const value of [1e-9, 3e-7, 0.07, 7, 7e6]) {
      for (const tick of linearScale([value]).ticks) expect(Number.isFinite(tick)).toBe(true);
    }
  });
});
