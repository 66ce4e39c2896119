/**
 * The summary of a set of timed trials: how many, the median, p99, minimum and maximum, by nearest
 * rank, so every figure is one of the trials' own values.
 */
import { percentile } from './ratios.js';

/** Median, p99, minimum and maximum of some trials' timings, milliseconds; undefined with no trials. */
export interface TrialSummary {
  readonly count: number;
  readonly median: number | undefined;
  readonly p99: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
}

/**
 * Summarises trial timings. Nearest rank rather than interpolation: with 20 trials the p99 is the
 * slowest trial, a time that actually happened, not a blend of the two slowest.
 */
export function summarizeTrials(values: readonly number[]): TrialSummary {
  return {
    count: values.length,
    median: percentile(values, 50),
    p99: percentile(values, 99),
    min: percentile(values, 0),
    max: percentile(values, 100),
  };
}
