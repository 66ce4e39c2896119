import { describe, expect, it } from 'vitest';
import { positive } from './positive.js';

describe('positive', () => {
  it('returns a finite number above 0', () => {
    expect(positive('X option a', 0.5)).toBe(0.5);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses %d, naming the option', (v) => {
    expect(() => positive('X option a', v)).toThrow(
      new RangeError(`X option a must be a positive number, got ${v}`),
    );
  });
});
