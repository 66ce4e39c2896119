/**
 * Drives HTTP load with autocannon in this process and measures latency finely enough to resolve
 * a tenth of a millisecond.
 *
 * autocannon's own latency histogram stores whole milliseconds (HDR histogram with a lowest
 * discernible value of 1 ms), so at one connection on loopback its p50 is 0 or 1 and a proxy's
 * added latency vanishes. It does time every response with `process.hrtime` and reports that time
 * in its `response` event, so those times are recorded here into a nanosecond histogram instead.
 */
import autocannon from 'autocannon';
import { LatencyHistogram, type LatencyMs } from './latency-histogram.js';

export type { LatencyMs } from './latency-histogram.js';

/** One load run. */
export interface LoadOptions {
  readonly url: string;
  /** Keep-alive connections, each with one request in flight. */
  readonly connections: number;
  readonly durationSeconds: number;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What one load run measured. */
export interface LoadResult {
  readonly connections: number;
  /** Wall-clock length of the run, seconds. */
  readonly seconds: number;
  /** Responses received, any status. */
  readonly requests: number;
  /** Responses per second over the run. */
  readonly rps: number;
  /** From per-response hrtime, nanosecond histogram (3 significant digits). */
  readonly latencyMs: LatencyMs;
  /** autocannon's own figures, for reference: its latency is in whole milliseconds. */
  readonly autocannon: { readonly p50Ms: number; readonly p99Ms: number; readonly rpsAverage: number };
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
}

/** Seconds a request may take before autocannon counts it as timed out. */
const REQUEST_TIMEOUT_S = 10;

/** Runs autocannon against `url` and resolves with its figures once it is done. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const histogram = new LatencyHistogram();
  let requests = 0;
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    pipelining: 1,
    timeout: REQUEST_TIMEOUT_S,
    headers: { ...options.headers },
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
    requests++;
    histogram.recordMs(responseTimeMs);
  });
  const result = await instance;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    connections: options.connections,
    seconds,
    requests,
    rps: requests / seconds,
    latencyMs: histogram.latencyMs(),
    autocannon: { p50Ms: result.latency.p50, p99Ms: result.latency.p99, rpsAverage: result.requests.average },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
}
