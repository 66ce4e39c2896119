import { describe, expect, it } from 'vitest';
import { summarizeTrials } from './trial-summary.js';

describe('summarizeTrials', () => {
  it('gives the median, p99, minimum and maximum by nearest rank', () => {
    // 1..20 shuffled: the median is the 10th value, the p99 the 20th.
    const values = [7, 3, 20, 1, 15, 9, 12, 4, 18, 2, 11, 6, 19, 5, 14, 8, 17, 10, 16, 13];
    expect(summarizeTrials(values)).toEqual({ count: 20, median: 10, p99: 20, min: 1, max: 20 });
  });

  it('takes the 99th of 100 values as p99, below the maximum', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    const summary = summarizeTrials(values);
    expect(summary.p99).toBe(99);
    expect(summary.max).toBe(100);
    expect(summary.median).toBe(50);
  });

  it('summarises one trial as itself and no trials as nothing', () => {
    expect(summarizeTrials([2.5])).toEqual({ count: 1, median: 2.5, p99: 2.5, min: 2.5, max: 2.5 });
    expect(summarizeTrials([])).toEqual({
      count: 0,
      median: undefined,
      p99: undefined,
      min: undefined,
      max: undefined,
    });
  });

  it('leaves the values it is given in their order', () => {
    const values = [3, 1, 2];
    summarizeTrials(values);
    expect(values).toEqual([3, 1, 2]);
  });
});
