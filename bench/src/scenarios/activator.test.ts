import { describe, expect, it } from 'vitest';
import { parseTrials } from './activator.js';

describe('parseTrials', () => {
  it('defaults to 20 and takes a whole number', () => {
    expect(parseTrials(undefined)).toBe(20);
    expect(parseTrials('5')).toBe(5);
  });

  it('names the option when the value is wrong', () => {
    for (const bad of ['0', '2.5', 'many', '1001']) expect(() => parseTrials(bad)).toThrow(/--trials/);
  });
});
