import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestStats } from './request-stats.js';
import { sendError } from './respond.js';
import { emptyStat, encodeStat } from './stat-proto.js';

/** Knative's `reportingPeriod`: the Stat snapshot is replaced this often. */
export const REPORTING_PERIOD_MS = 1000;

/**
 * Keeps the protobuf `Stat` the autoscaler scrapes from `:9090/metrics` (docs/queue-proxy.md §8.1): every
 * period it closes the request-stats window and encodes a new snapshot, so a scrape only copies bytes. Before
 * the first tick the snapshot carries only the pod name, as Knative's does. Mirrors Knative's
 * `pkg/queue/protobuf_stats_reporter.go`; the activator's counterpart is its `ConcurrencyReporter`. Shared by
 * the queue-proxy and the in-process mode.
 */
export class ProtobufStatsReporter {
  private snapshot: Uint8Array;
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt: number;

  constructor(
    private readonly stats: RequestStats,
    private readonly podName: string,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.startedAt = now();
    this.snapshot = encodeStat(emptyStat(podName));
  }

  /** The latest encoded `Stat`. */
  get current(): Uint8Array {
    return this.snapshot;
  }

  /** Starts the periodic snapshots; a second call adds no second timer. */
  start(): void {
    this.timer ??= setInterval(() => this.tick(), REPORTING_PERIOD_MS);
  }

  /** Stops the periodic snapshots. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Closes the current window into a new snapshot. */
  tick(): void {
    const report = this.stats.report();
    const periodSeconds = REPORTING_PERIOD_MS / 1000;
    this.snapshot = encodeStat({
      podName: this.podName,
      averageConcurrentRequests: report.averageConcurrency,
      averageProxiedConcurrentRequests: report.averageProxiedConcurrency,
      // Knative reports arrivals per second of the window, a rate.
      requestCount: report.requestCount / periodSeconds,
      proxiedRequestCount: report.proxiedRequestCount / periodSeconds,
      processUptime: (this.now() - this.startedAt) / 1000,
      timestamp: 0n,
    });
  }
}

/** The stats port's one path, which Knative's autoscaler scrapes. */
const STATS_PATH = '/metrics';

/**
 * The stats port's request listener: the reporter's latest `Stat` on `/metrics` (any query, any method),
 * `404 page not found` elsewhere, as Knative's stats mux serves it (docs/queue-proxy.md §8.1).
 */
export function statsHandler(reporter: {
  readonly current: Uint8Array;
}): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if ((req.url ?? '/').split('?', 1)[0] !== STATS_PATH) {
      sendError(res, 'NOT_FOUND');
      return;
    }
    const body = reporter.current;
    res.writeHead(200, { 'content-type': 'application/protobuf', 'content-length': body.length });
    res.end(body);
  };
}
