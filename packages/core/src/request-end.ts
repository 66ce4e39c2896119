/**
 * The end of a request a queue-proxy counted (the sidecar's and the in-process one alike): out of the
 * stats window, into the request metrics, and one request log line when that log is on.
 */
import type { Logger } from './logger.js';
// A type only: prom-client stays unloaded unless the metrics are on.
import type { RequestMetrics } from './request-metrics.js';
import type { RequestStats } from './request-stats.js';

/** What the request log names of a request (a node:http request has both). */
export interface RequestLine {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
}

/** What a counted request's end updates. */
export interface RequestAccounting {
  readonly stats: RequestStats;
  readonly metrics: RequestMetrics | undefined;
  readonly requestLog: boolean;
  readonly logger: Logger;
}

/**
 * Records the end of a counted request that arrived at `arrivedAt` (ms since the epoch); `status` is the
 * answer's, or 499 when the client left before it was whole. Call it once per request.
 */
export function recordRequestEnd(
  accounting: RequestAccounting,
  req: RequestLine,
  proxied: boolean,
  arrivedAt: number,
  status: number,
): void {
  accounting.stats.requestOut(proxied);
  const seconds = (Date.now() - arrivedAt) / 1000;
  accounting.metrics?.observe(status, seconds);
  if (accounting.requestLog) {
    accounting.logger.info(
      { method: req.method, path: req.url, status, latencySeconds: seconds, proxied },
      'request',
    );
  }
}
