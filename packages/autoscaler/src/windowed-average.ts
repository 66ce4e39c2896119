/**
 * A sliding-window average over fixed-size time buckets, the aggregation the KPA uses for its
 * stable (60 s) and panic (6 s) windows. Mirrors `pkg/autoscaler/aggregation/bucketing.go`
 * (`TimedFloat64Buckets` with the linear `WindowAverage`).
 */

/** Knative's collection granularity (`config.BucketSize`): one bucket per second. */
export const BUCKET_MS = 1000;

/**
 * Sums values recorded into 1 s buckets and averages them over a trailing window.
 *
 * Values recorded in the same bucket are summed, because Knative sums the scraped Pod total
 * and each activator's report for the same second. The average follows `bucketing.go`:
 * - while less than a window of data exists, it divides only by the buckets since the first
 *   write (a fresh burst is not diluted by time before it);
 * - when no value has arrived for a while (less than a window), the silent tail is not counted
 *   as zeros: it divides by the buckets from the window start to the last write;
 * - a window with no write at all averages to 0, and the next write starts afresh.
 *
 * The sum is recomputed from the buckets on every read rather than kept as a running total,
 * so floating-point drift cannot push `ceil(avg / target)` up by one.
 */
export class WindowedAverage {
  /** Window length in buckets. */
  readonly size: number;
  private readonly buckets: Float64Array;
  private firstWrite = Number.NaN;
  private lastWrite = Number.NaN;

  /** @param windowMs the window length; rounded up to whole buckets, at least one. */
  constructor(windowMs: number) {
    this.size = Math.max(1, Math.ceil(windowMs / BUCKET_MS));
    this.buckets = new Float64Array(this.size);
  }

  /** Adds `value` to the bucket holding `timeMs`; values older than a window before the last write are dropped. */
  record(timeMs: number, value: number): void {
    const b = Math.floor(timeMs / BUCKET_MS);
    if (Number.isNaN(this.lastWrite) || b - this.lastWrite >= this.size) {
      // Nothing for a full window: start over, so the next average covers only new data.
      this.buckets.fill(0);
      this.firstWrite = b;
      this.lastWrite = b;
    } else if (b > this.lastWrite) {
      for (let i = this.lastWrite + 1; i <= b; i++) this.buckets[this.index(i)] = 0;
      this.lastWrite = b;
    } else if (b <= this.lastWrite - this.size) {
      return;
    } else if (b < this.firstWrite) {
      this.firstWrite = b;
    }
    this.buckets[this.index(b)] = (this.buckets[this.index(b)] as number) + value;
  }

  /** Reports whether nothing was recorded within the window ending at `nowMs`. */
  isEmpty(nowMs: number): boolean {
    return Number.isNaN(this.lastWrite) || Math.floor(nowMs / BUCKET_MS) - this.lastWrite > this.size;
  }

  /** The average bucket value over the window ending at `nowMs` (see the class comment). */
  average(nowMs: number): number {
    if (Number.isNaN(this.lastWrite)) return 0;
    const now = Math.floor(nowMs / BUCKET_MS);
    const silent = now - this.lastWrite;
    if (silent >= this.size) return 0;
    // Buckets in (now - size, lastWrite] are valid; those after lastWrite were never written.
    const from = Math.max(now - this.size + 1, this.firstWrite, this.lastWrite - this.size + 1);
    let total = 0;
    for (let i = from; i <= this.lastWrite; i++) total += this.buckets[this.index(i)] as number;
    const count = this.lastWrite - from + 1;
    return count > 0 ? total / count : 0;
  }

  private index(bucket: number): number {
    return ((bucket % this.size) + this.size) % this.size;
  }
}
