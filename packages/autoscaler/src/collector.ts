/**
 * Feeds each revision's {@link Kpa} from the two metric sources and asks it for decisions.
 * Mirrors `pkg/autoscaler/metrics/collector.go` (one collection per revision, scraper and
 * activator stats recorded into the same 1 s buckets, proxied requests subtracted) and
 * `pkg/autoscaler/scaling/multiscaler.go` (a decision per revision every 2 s, and at once on a
 * poke for a revision at zero).
 */

import { type Logger, positive, type Stat } from '@zerogate/core';
import {
  type ClusterAutoscalerConfig,
  type RevisionAutoscaling,
  resolveRevisionAutoscaling,
} from './autoscaler-config.js';
import { Kpa, type KpaDecision, TICK_INTERVAL_MS } from './kpa.js';
import type { RevisionScrape, ScrapeTarget } from './scraper.js';

/** What the collector needs to know about a revision. */
export interface RevisionSpec {
  /** The revision's annotations; autoscaling ones are read, others ignored. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** The revision's `containerConcurrency`; 0 or absent = unlimited. */
  readonly containerConcurrency?: number;
  /** Addresses of the revision's ready Pods, oldest first: IPs, or `host:port` for the stats endpoint. */
  readonly readyPods: readonly string[];
  /** Whether the revision is routed; defaults to true. */
  readonly reachable?: boolean;
  /**
   * True when the revision ran before this autoscaler learnt of it (an autoscaler restart): its
   * decider starts from the ready Pods rather than from the initial scale, so a revision at zero
   * stays at zero. Read only when the revision is first set.
   */
  readonly existing?: boolean;
}

/** Receives every decision, periodic or poked. */
export type DecisionHandler = (namespace: string, name: string, decision: KpaDecision) => void;

/** Options for {@link Collector}. */
export interface CollectorOptions {
  /** Called with each decision. */
  readonly onDecision: DecisionHandler;
  /** Logs dropped stats and failing handlers. */
  readonly logger: Logger;
  /** Cluster-wide autoscaler settings (`config-autoscaler`); Knative's defaults when omitted. */
  readonly cluster?: Readonly<ClusterAutoscalerConfig>;
  /** Clock (ms) for the periodic decisions; defaults to `Date.now`. */
  readonly now?: () => number;
  /** Overrides {@link TICK_INTERVAL_MS}. */
  readonly tickIntervalMs?: number;
  /** Whether every Pod of the revision is to be scraped rather than a sample; default never. */
  readonly scrapeAllPods?: (namespace: string, name: string) => boolean;
}

interface Revision {
  readonly namespace: string;
  readonly name: string;
  config: RevisionAutoscaling;
  configKey: string;
  kpa: Kpa;
  readyPods: readonly string[];
}

function revisionKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * One {@link Kpa} per revision, fed by the `PodScraper` (`recordScrape`, every second) and the
 * `StatServer` (`recordStat`, every activator message); values arriving in the same second
 * add up in the Kpa's buckets, as in Knative. Every tick decides for every revision. An activator
 * report with requests in flight for a revision with no ready Pods and nothing asked for is a poke
 * and is decided on at once, so a cold start does not wait up to a tick. An activator that
 * disconnects simply stops reporting; its contribution ages out of the windows.
 *
 * Wire it as: `new PodScraper({ targets: () => collector.scrapeTargets(), onScrape: (s) =>
 * collector.recordScrape(s) })` and `new StatServer({ onStat: (...a) => collector.recordStat(...a) })`.
 */
export class Collector {
  private readonly onDecision: DecisionHandler;
  private readonly logger: Logger;
  private readonly cluster: Readonly<ClusterAutoscalerConfig> | undefined;
  private readonly now: () => number;
  private readonly tickIntervalMs: number;
  private readonly scrapeAllPods: (namespace: string, name: string) => boolean;
  private readonly revisions = new Map<string, Revision>();
  private timer: NodeJS.Timeout | undefined;

  /** Creates an empty collector; decisions start with {@link start} or {@link tick}. */
  constructor(options: CollectorOptions) {
    const interval = positive('Collector option tickIntervalMs', options.tickIntervalMs ?? TICK_INTERVAL_MS);
    this.onDecision = options.onDecision;
    this.logger = options.logger;
    this.cluster = options.cluster;
    this.now = options.now ?? Date.now;
    this.tickIntervalMs = interval;
    this.scrapeAllPods = options.scrapeAllPods ?? (() => false);
  }

  /** Number of revisions tracked. */
  get size(): number {
    return this.revisions.size;
  }

  /**
   * Adds a revision or updates its ready Pods and parameters. Throws `AutoscalingAnnotationError`
   * (listing every bad annotation) or `RangeError` for invalid parameters, leaving any existing
   * entry untouched. A change of parameters starts a new decider from the current ready Pods,
   * as a restarted Knative autoscaler would.
   */
  setRevision(namespace: string, name: string, spec: RevisionSpec): void {
    const config = resolveRevisionAutoscaling({
      annotations: spec.annotations ?? {},
      containerConcurrency: spec.containerConcurrency ?? 0,
      reachable: spec.reachable ?? true,
      ...(this.cluster ? { cluster: this.cluster } : {}),
    });
    const configKey = JSON.stringify(config);
    const key = revisionKey(namespace, name);
    const readyPods = [...spec.readyPods];
    const current = this.revisions.get(key);
    if (current === undefined) {
      const kpa = new Kpa(config, spec.existing ? { readyPodsAtStart: readyPods.length } : {});
      this.revisions.set(key, { namespace, name, config, configKey, kpa, readyPods });
      return;
    }
    current.readyPods = readyPods;
    if (current.configKey !== configKey) {
      current.config = config;
      current.configKey = configKey;
      current.kpa = new Kpa(config, { readyPodsAtStart: readyPods.length });
    }
  }

  /** Forgets a revision and its metrics; reports whether it was tracked. */
  removeRevision(namespace: string, name: string): boolean {
    return this.revisions.delete(revisionKey(namespace, name));
  }

  /** The decider of a revision, for inspection. */
  kpa(namespace: string, name: string): Kpa | undefined {
    return this.revisions.get(revisionKey(namespace, name))?.kpa;
  }

  /** The revisions with their ready Pods, for `PodScraper`'s `targets`. */
  *scrapeTargets(): Generator<ScrapeTarget> {
    for (const r of this.revisions.values()) {
      if (r.readyPods.length === 0) continue;
      const allPods = this.scrapeAllPods(r.namespace, r.name);
      yield { namespace: r.namespace, name: r.name, pods: r.readyPods, ...(allPods ? { allPods } : {}) };
    }
  }

  /** Records one revision's scrape (already net of proxied requests and scaled to all Pods). */
  recordScrape(scrape: RevisionScrape): void {
    const r = this.revisions.get(revisionKey(scrape.namespace, scrape.name));
    if (r === undefined) return;
    r.kpa.record(scrape.timeMs, scrape.concurrency, scrape.rps);
  }

  /**
   * Records one activator report, and decides at once when it is a poke: requests in flight
   * for a revision with no ready Pods whose decider asks for none (`multiscaler.go Poke`, which
   * pokes when the last scale is 0 and the concurrency is not).
   */
  recordStat(namespace: string, name: string, stat: Stat, receivedAtMs: number): void {
    const r = this.revisions.get(revisionKey(namespace, name));
    if (r === undefined) {
      this.logger.debug({ namespace, name }, 'dropping stat for an unknown revision');
      return;
    }
    // Proxied requests are counted by whoever proxied them (`collector.go record`); an
    // activator leaves the proxied fields at 0, so this is its raw report.
    const concurrency = stat.averageConcurrentRequests - stat.averageProxiedConcurrentRequests;
    r.kpa.record(receivedAtMs, concurrency, stat.requestCount - stat.proxiedRequestCount);
    if (concurrency > 0 && r.readyPods.length === 0 && r.kpa.desiredPods === 0) {
      this.logger.debug({ namespace, name, concurrency }, 'poked');
      this.emit(r, r.kpa.decide(receivedAtMs, 0));
    }
  }

  /** Decides for every revision now and hands each decision to `onDecision`. */
  tick(): void {
    const now = this.now();
    for (const r of this.revisions.values()) this.emit(r, r.kpa.decide(now, r.readyPods.length));
  }

  /** Starts deciding every tick interval. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.tickIntervalMs);
  }

  /** Stops the periodic decisions. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private emit(r: Revision, decision: KpaDecision): void {
    try {
      this.onDecision(r.namespace, r.name, decision);
    } catch (err) {
      // One revision's failing actuation must not stop the others' decisions.
      this.logger.error({ err, namespace: r.namespace, name: r.name }, 'decision handler failed');
    }
  }
}
