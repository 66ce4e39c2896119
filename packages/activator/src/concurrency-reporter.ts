/**
 * What the activator reports to the autoscaler (docs/wire.md §4): per-revision concurrency of the requests
 * passing through (held ones included) and their arrival counts, as `WireStatMessage`s. Mirrors Knative's
 * `pkg/activator/handler/concurrency_reporter.go`. It does no I/O: the messages go to a `send` callback
 * (the activator passes its `AutoscalerConnection`), and the clock is injected, so the windows and
 * the poke are tested with fake timers.
 */
import { emptyStat, positive, RequestStats, type Stat, type WireStatMessage } from '@zerogate/core';

/** Knative's activator reports once a second. */
export const DEFAULT_PERIOD_MS = 1000;

/** Options of {@link ConcurrencyReporter}. */
export interface ConcurrencyReporterOptions {
  /** The activator pod, sent as `Stat.pod_name`. */
  podName: string;
  /**
   * Takes each batch of messages, in order: a poke (one message) or a period's report (every revision
   * with an entry). Called synchronously; it must not throw.
   */
  send: (messages: readonly WireStatMessage[]) => void;
  /** Batch period; default {@link DEFAULT_PERIOD_MS}. */
  periodMs?: number;
  /** Millisecond clock for the request-stats windows; default `performance.now`. */
  now?: () => number;
}

/** One revision's window and whether the poke sent for it is still to be taken off its next report. */
interface RevisionEntry {
  readonly stats: RequestStats;
  /** 1 until the first report after the poke, then 0. */
  poke: number;
}

/**
 * Tracks per-revision concurrency of requests through the activator and hands the autoscaler's Stat
 * messages to `send`.
 *
 * The first request of a revision with no entry is reported at once (the "poke"), so a revision at zero
 * is scaled up without waiting for the next batch; every period one batch carries every revision with an
 * entry, the poke taken off the next report. An entry with no activity in a window is reported once more
 * and dropped, so memory holds one entry per active revision.
 */
export class ConcurrencyReporter {
  private readonly podName: string;
  private readonly send: (messages: readonly WireStatMessage[]) => void;
  private readonly periodMs: number;
  private readonly now: () => number;

  /** Entries by namespace then name: looking one up allocates no key string. */
  private readonly revisions = new Map<string, Map<string, RevisionEntry>>();
  private tickTimer: NodeJS.Timeout | undefined;

  constructor(options: ConcurrencyReporterOptions) {
    if (typeof options.podName !== 'string' || options.podName === '') {
      throw new TypeError('ConcurrencyReporter: podName must be a non-empty string');
    }
    if (typeof options.send !== 'function') {
      throw new TypeError('ConcurrencyReporter: send must be a function');
    }
    this.podName = options.podName;
    this.send = options.send;
    this.periodMs = positive('ConcurrencyReporter option periodMs', options.periodMs ?? DEFAULT_PERIOD_MS);
    this.now = options.now ?? performance.now.bind(performance);
  }

  /** Starts the periodic batches (concurrency_reporter.go `Run`). */
  start(): void {
    this.tickTimer ??= setInterval(() => this.tick(), this.periodMs);
  }

  /** Stops the periodic batches. */
  stop(): void {
    clearInterval(this.tickTimer);
    this.tickTimer = undefined;
  }

  /**
   * Records the arrival of a request for the revision (held ones included); the first one pokes the
   * autoscaler, and returns true.
   */
  requestIn(namespace: string, name: string): boolean {
    let byName = this.revisions.get(namespace);
    if (byName === undefined) {
      byName = new Map();
      this.revisions.set(namespace, byName);
    }
    const entry = byName.get(name);
    if (entry !== undefined) {
      entry.stats.requestIn(false);
      return false;
    }
    const created: RevisionEntry = { stats: new RequestStats(this.now), poke: 1 };
    byName.set(name, created);
    created.stats.requestIn(false);
    // concurrency_reporter.go: a revision's first request is reported at once, so a scale from zero
    // need not wait for the next batch. It can only ever be 1 and 1: the entry is new.
    this.send([{ namespace, name, stat: this.stat(1, 1) }]);
    return true;
  }

  /** Records the end of a request counted by {@link requestIn}. */
  requestOut(namespace: string, name: string): void {
    const entry = this.revisions.get(namespace)?.get(name);
    if (entry !== undefined && entry.stats.current > 0) entry.stats.requestOut(false);
  }

  /** Closes every revision's window and sends them in one batch now, if any; the period timer calls this. */
  tick(): void {
    const messages = this.report();
    if (messages.length > 0) this.send(messages);
  }

  /**
   * Closes every revision's window and returns its message (concurrency_reporter.go `report`), dropping
   * the entries that were idle the whole window.
   */
  report(): WireStatMessage[] {
    const messages: WireStatMessage[] = [];
    for (const [namespace, byName] of this.revisions) {
      for (const [name, entry] of byName) {
        const report = entry.stats.report();
        const poke = entry.poke;
        entry.poke = 0;
        // concurrency_reporter.go: take off the poke already sent. The window's average may be below 1
        // even though the poke said 1, hence the floor.
        messages.push({
          namespace,
          name,
          stat: this.stat(
            Math.max(report.averageConcurrency - poke, 0),
            Math.max(report.requestCount - poke, 0),
          ),
        });
        // A window without any activity is still reported (as zeros) but ends the entry, so the next
        // request pokes again and idle revisions cost no memory.
        if (report.averageConcurrency === 0 && report.requestCount === 0 && entry.stats.current === 0) {
          byName.delete(name);
        }
      }
      if (byName.size === 0) this.revisions.delete(namespace);
    }
    return messages;
  }

  /**
   * The activator's Stat: only concurrency and the raw arrival count of the window (not a rate, unlike
   * the queue-proxy's), no proxied figures, timestamp 0 as the autoscaler stamps the receive time.
   */
  private stat(averageConcurrentRequests: number, requestCount: number): Stat {
    const stat = emptyStat(this.podName);
    stat.averageConcurrentRequests = averageConcurrentRequests;
    stat.requestCount = requestCount;
    return stat;
  }
}
