/**
 * The derived figures of a proxy benchmark: CPU cost per request and comparisons with baselines.
 */

/**
 * CPU seconds spent per 10,000 requests; undefined when no request completed. Per request rather
 * than per second so that a proxy that serves fewer requests does not look cheaper.
 */
export function cpuSecondsPer10k(cpuSeconds: number, requests: number): number | undefined {
  return requests > 0 ? (cpuSeconds / requests) * 10_000 : undefined;
}

/** `value / baseline`; undefined when either is missing or the baseline is zero. */
export function ratio(value: number | undefined, baseline: number | undefined): number | undefined {
  if (value === undefined || baseline === undefined || baseline === 0) return undefined;
  return value / baseline;
}

/** `value - baseline`; undefined when either is missing. */
export function delta(value: number | undefined, baseline: number | undefined): number | undefined {
  if (value === undefined || baseline === undefined) return undefined;
  return value - baseline;
}

/** Share of one CPU core used over a window, in percent. */
export function coreUtilisation(cpuSeconds: number, wallSeconds: number): number | undefined {
  return wallSeconds > 0 ? (cpuSeconds / wallSeconds) * 100 : undefined;
}

/** KiB to MiB. */
export function mebibytes(kib: number): number {
  return kib / 1024;
}

/**
 * The `p`th percentile of `values` by nearest rank: the smallest value with at least `p` percent of
 * the values at or below it, so always one of the values (with 20 of them, p99 is the largest).
 * Undefined for no values.
 */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}
