/**
 * A latency histogram fine enough to resolve a tenth of a millisecond: nanosecond values in Node's
 * HDR histogram (3 significant digits), reported as millisecond percentiles.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Latency percentiles in milliseconds. */
export interface LatencyMs {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
}

/** Records latencies in nanoseconds and summarises them in milliseconds. */
export class LatencyHistogram {
  readonly #histogram: RecordableHistogram = createHistogram();

  /** Records one latency in nanoseconds (at least 1, the histogram's floor). */
  recordNs(ns: number): void {
    this.#histogram.record(Math.max(1, Math.round(ns)));
  }

  /** Records one latency in (fractional) milliseconds. */
  recordMs(ms: number): void {
    this.recordNs(ms * 1e6);
  }

  /** p50, p90, p99, mean and max of everything recorded, in milliseconds. */
  latencyMs(): LatencyMs {
    const h = this.#histogram;
    const ms = (ns: number) => ns / 1e6;
    return {
      p50: ms(h.percentile(50)),
      p90: ms(h.percentile(90)),
      p99: ms(h.percentile(99)),
      mean: ms(h.mean),
      max: ms(h.max),
    };
  }
}
