import { emptyStat, encodeStat, type RequestStats } from '@zerogate/core';

/** Knative's `reportingPeriod`: the Stat snapshot is replaced this often. */
export const REPORTING_PERIOD_MS = 1000;

/**
 * Keeps the protobuf `Stat` the autoscaler scrapes from `:9090/metrics` (docs/queue-proxy.md §8.1): every
 * period it closes the request-stats window and encodes a new snapshot, so a scrape only copies bytes. Before
 * the first tick the snapshot carries only the pod name, as Knative's does. Mirrors Knative's
 * `pkg/queue/protobuf_stats_reporter.go`; the activator's counterpart is its `ConcurrencyReporter`.
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
