import { describe, expect, it } from 'vitest';
import { coreUtilisation, cpuSecondsPer10k, delta, mebibytes, percentile, ratio } from './ratios.js';

describe('cpuSecondsPer10k', () => {
  it('scales CPU per request to 10,000 requests', () => {
    expect(cpuSecondsPer10k(2, 50_000)).toBeCloseTo(0.4);
  });

  it('is undefined when nothing completed', () => {
    expect(cpuSecondsPer10k(1, 0)).toBeUndefined();
  });
});

describe('ratio and delta', () => {
  it('divide and subtract against a baseline', () => {
    expect(ratio(15_000, 20_000)).toBeCloseTo(0.75);
    expect(delta(0.25, 0.1)).toBeCloseTo(0.15);
  });

  it('are undefined without a baseline, and ratio with a zero one', () => {
    expect(ratio(1, undefined)).toBeUndefined();
    expect(ratio(1, 0)).toBeUndefined();
    expect(ratio(undefined, 2)).toBeUndefined();
    expect(delta(1, undefined)).toBeUndefined();
  });
});

describe('coreUtilisation and mebibytes', () => {
  it('convert units', () => {
    expect(coreUtilisation(4, 8)).toBe(50);
    expect(coreUtilisation(1, 0)).toBeUndefined();
    expect(mebibytes(2048)).toBe(2);
  });
});

describe('percentile', () => {
  it('takes the nearest rank, always one of the values', () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 90)).toBe(9);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([3], 99)).toBe(3);
  });

  it('is undefined for no values', () => {
    expect(percentile([], 50)).toBeUndefined();
  });
});
