/**
 * The end of a request a queue-proxy counted (the sidecar's and the in-process one alike): out of the
 * stats window, into the request metrics, and one request log line when that log is on.
 */
import type { Logger } from './logger.js';
import type { LoggedRequest, RequestLog } from './request-log.js';
// A type only: prom-client stays unloaded unless the metrics are on.
import type { RequestMetricsRecorder } from './request-metrics.js';
import type { RequestStats } from './request-stats.js';

/** What the request log and metrics read of a request (node:http's request has all of it). */
export type RequestLine = LoggedRequest;

/** What a counted request's end updates. */
export interface RequestAccounting {
  readonly stats: RequestStats;
  readonly metrics: RequestMetricsRecorder | undefined;
  readonly requestLog: boolean;
  readonly logger: Logger;
  /** Knative's templated request log; when set, request log lines are its, else the logger's. */
  readonly templatedLog?: RequestLog | undefined;
}

/**
 * Records the end of a counted request that arrived at `arrivedAt` (ms since the epoch); `status` is the
 * answer's, or 499 when the client left before it was whole; `size` the response body bytes as far as
 * known; `sentAt` when it was handed to the app (undefined if it never was). Call it once per request.
 * Positional, so the hot path allocates nothing for it.
 */
export function recordRequestEnd(
  accounting: RequestAccounting,
  req: RequestLine,
  proxied: boolean,
  arrivedAt: number,
  status: number,
  size = 0,
  sentAt?: number,
): void {
  accounting.stats.requestOut(proxied);
  const now = Date.now();
  const seconds = (now - arrivedAt) / 1000;
  accounting.metrics?.observe(status, seconds, req, sentAt === undefined ? undefined : (now - sentAt) / 1000);
  if (accounting.requestLog) writeRequestLog(accounting, req, status, seconds, size, proxied);
}

/** One request log line: the template's when there is one, else a JSON `request` line. */
export function writeRequestLog(
  accounting: Pick<RequestAccounting, 'logger' | 'templatedLog'>,
  req: RequestLine,
  status: number,
  seconds: number,
  size: number,
  proxied: boolean,
): void {
  if (accounting.templatedLog) accounting.templatedLog.write(req, status, size, seconds);
  else {
    accounting.logger.info(
      { method: req.method, path: req.url, status, latencySeconds: seconds, proxied },
      'request',
    );
  }
}
