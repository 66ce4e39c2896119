/**
 * Scrapes the queue-proxies' `:9090/metrics` endpoints of each revision every second and turns
 * the answers into one revision total. Mirrors `pkg/autoscaler/metrics/stats_scraper.go`
 * (`scrapePods`, `populationMeanSampleSize`) and `http_scrape_client.go` (request and checks).
 *
 * Deliberate differences from Knative: a Pod that fails is skipped for the tick and the total is
 * extrapolated from the Pods that answered (Knative discards the whole tick when it runs out of
 * Pods to replace a failed one, then tries the private Service, which only helps with a mesh we do
 * not run); the body limit is 4 KiB where Knative reads the whole body (a `Stat` is at most ~336
 * bytes, with a pod name of 253); connections are kept alive across ticks (Knative disables
 * keep-alive because its Service fallback must reach a different Pod on every request).
 */

import { decodeStat, joinHostPort, type Logger, positive, type Stat, splitHostPort } from '@zerogate/core';
import { Agent, type Dispatcher } from 'undici';

/** Port of the queue-proxy's autoscaler metrics endpoint (`networking.AutoscalingQueueMetricsPort`). */
export const STATS_PORT = 9090;

/** How often each revision is scraped (`pkg/autoscaler/metrics/collector.go scrapeTickInterval`). */
export const SCRAPE_INTERVAL_MS = 1000;

/** Timeout of one scrape, connection to body (`stats_scraper.go httpClientTimeout`). */
export const SCRAPE_TIMEOUT_MS = 3000;

/** Largest metrics body accepted; a `Stat` is at most ~336 bytes. */
export const MAX_STAT_BODY_BYTES = 4096;

/** The only Content-Type accepted (`network.ProtoAcceptContent`, compared exactly as Knative does). */
export const PROTOBUF_CONTENT_TYPE = 'application/protobuf';

/**
 * The sample size for an unbounded population, C²σ²/MOE² with C = 1.96 (95 % confidence),
 * σ² = 100 and MOE = 5: 15.3664 (`stats_scraper.go` / `scaling/sample_size.go`).
 */
export const UNBOUNDED_SAMPLE_SIZE = (1.96 * 1.96 * 100) / (5 * 5);

/**
 * How many of `population` Pods to scrape so that their mean stands for all of them
 * (`populationMeanSampleSize`): every Pod up to 3, else ⌈N·X / (N + X − 1)⌉ with
 * X = {@link UNBOUNDED_SAMPLE_SIZE}, which approaches 16 for large revisions.
 */
export function populationMeanSampleSize(population: number): number {
  if (population <= 3) return Math.max(population, 0);
  const x = UNBOUNDED_SAMPLE_SIZE;
  return Math.ceil((population * x) / (population + x - 1));
}

/** One revision to scrape. */
export interface ScrapeTarget {
  readonly namespace: string;
  readonly name: string;
  /**
   * The revision's ready Pods, oldest first (Knative's `PodIPsByAge`: older Pods have settled
   * stats). Each is an IP, scraped on the stats port, or a full `host:port`.
   */
  readonly pods: readonly string[];
  /**
   * Scrape every Pod rather than a sample, for each Pod's own load: set while a scale-down is near, when
   * the Pods' deletion costs are kept (`pod-deletion-cost.ts`).
   */
  readonly allPods?: boolean;
}

/** One Pod's answer in a scrape. */
export interface PodAnswer {
  /** The address scraped. */
  readonly address: string;
  /** The Pod's name, as its queue-proxy reports it (`SERVING_POD`). */
  readonly podName: string;
  /** Its average requests in flight over the queue-proxy's last second, proxied ones included. */
  readonly concurrency: number;
}

/** One revision's scrape. */
export interface RevisionScrape {
  readonly namespace: string;
  readonly name: string;
  /** When the scrape finished (ms), the time Knative stamps the stat with. */
  readonly timeMs: number;
  /** Ready Pods the totals are scaled to (N). */
  readonly readyPods: number;
  /** How many Pods were to be sampled (n). */
  readonly sampleSize: number;
  /** The Pod addresses that answered and were summed. */
  readonly answered: readonly string[];
  /** Each answering Pod's own load. */
  readonly pods: readonly PodAnswer[];
  /** Σ(average − proxied average concurrency) over the answers ÷ answers × N. */
  readonly concurrency: number;
  /** Σ(request count − proxied request count) over the answers ÷ answers × N. */
  readonly rps: number;
}

/** Why one Pod's scrape failed; `code` is stable for logs and tests. */
export class ScrapeError extends Error {
  /** `status` (not 2xx), `content-type`, `too-large`, `decode`, or `transport` (refused, reset, timeout). */
  readonly code: 'status' | 'content-type' | 'too-large' | 'decode' | 'transport';

  constructor(code: ScrapeError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ScrapeError';
    this.code = code;
  }
}

/** Options for {@link PodScraper}. */
export interface PodScraperOptions {
  /** The revisions to scrape, asked for afresh on every tick. */
  readonly targets: () => Iterable<ScrapeTarget>;
  /** Receives each revision's scrape in which at least one Pod answered. */
  readonly onScrape: (scrape: RevisionScrape) => void;
  /** Logs Pod failures, once per failure streak. */
  readonly logger: Logger;
  /** Overrides {@link SCRAPE_INTERVAL_MS}. */
  readonly intervalMs?: number;
  /** Overrides {@link SCRAPE_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Port for Pods given without one; defaults to {@link STATS_PORT}. */
  readonly statsPort?: number;
  /** Overrides {@link MAX_STAT_BODY_BYTES}. */
  readonly maxBodyBytes?: number;
  /** Clock (ms); defaults to `Date.now`. */
  readonly now?: () => number;
}

/** `http://host:port` for a Pod given as an IP (v4 or bare v6) or as `host:port`. */
export function podOrigin(pod: string, defaultPort: number): string {
  const given = splitHostPort(pod);
  if (given) return `http://${joinHostPort(given.host, given.port)}`;
  return `http://${joinHostPort(pod.replace(/^\[(.*)\]$/, '$1'), defaultPort)}`;
}

/**
 * Scrapes every revision's ready Pods once per interval. A revision whose previous scrape is still
 * running (a slow Pod) skips the tick, as Knative's per-revision ticker does.
 */
export class PodScraper {
  private readonly targets: () => Iterable<ScrapeTarget>;
  private readonly onScrape: (scrape: RevisionScrape) => void;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly statsPort: number;
  private readonly maxBodyBytes: number;
  private readonly now: () => number;
  private readonly dispatcher: Dispatcher;
  private readonly inFlight = new Map<string, Promise<RevisionScrape | undefined>>();
  /** Pods in a failure streak, so each streak is logged once. */
  private readonly failing = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped: Promise<void> | undefined;

  /** Checks the options; nothing is scraped until {@link start} or {@link scrapeAll}. */
  constructor(options: PodScraperOptions) {
    this.targets = options.targets;
    this.onScrape = options.onScrape;
    this.logger = options.logger;
    this.intervalMs = positive('PodScraper option intervalMs', options.intervalMs ?? SCRAPE_INTERVAL_MS);
    this.timeoutMs = positive('PodScraper option timeoutMs', options.timeoutMs ?? SCRAPE_TIMEOUT_MS);
    this.maxBodyBytes = positive(
      'PodScraper option maxBodyBytes',
      options.maxBodyBytes ?? MAX_STAT_BODY_BYTES,
    );
    const port = options.statsPort ?? STATS_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`statsPort must be an integer in [1, 65535], was ${port}`);
    }
    this.statsPort = port;
    this.now = options.now ?? Date.now;
    // Keep-alive outlives one interval so each Pod's connection is reused from tick to tick.
    this.dispatcher = new Agent({
      keepAliveTimeout: this.intervalMs * 4,
      connect: { timeout: this.timeoutMs },
    });
  }

  /** Starts scraping every interval. */
  start(): void {
    if (this.timer !== undefined || this.stopped !== undefined) return;
    this.timer = setInterval(() => void this.scrapeAll(), this.intervalMs);
  }

  /** Stops the ticks, waits for scrapes in flight, and closes the connections. Idempotent. */
  stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.stopped ??= Promise.allSettled(this.inFlight.values()).then(() => this.dispatcher.close());
    return this.stopped;
  }

  /**
   * Scrapes every target not already being scraped, hands each result with an answer to
   * `onScrape`, and resolves with them.
   */
  async scrapeAll(): Promise<RevisionScrape[]> {
    if (this.stopped !== undefined) return [];
    const live = new Set<string>();
    const runs: Promise<RevisionScrape | undefined>[] = [];
    for (const target of this.targets()) {
      const key = `${target.namespace}/${target.name}`;
      for (const pod of target.pods) live.add(pod);
      if (this.inFlight.has(key)) continue;
      const run = this.scrapeRevision(target).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, run);
      runs.push(run);
    }
    // Forget streaks of Pods that are gone, so the set cannot grow without bound.
    for (const pod of this.failing) if (!live.has(pod)) this.failing.delete(pod);

    const out: RevisionScrape[] = [];
    for (const scrape of await Promise.all(runs)) {
      if (scrape === undefined) continue;
      out.push(scrape);
      try {
        this.onScrape(scrape);
      } catch (err) {
        this.logger.error({ err, namespace: scrape.namespace, name: scrape.name }, 'scrape handler failed');
      }
    }
    return out;
  }

  /**
   * Scrapes one revision: n = {@link populationMeanSampleSize}(N) workers take Pods oldest first,
   * and a worker whose Pod fails moves on to the next unscraped Pod (`scrapePods`). Resolves
   * undefined when there are no Pods or none answered.
   */
  async scrapeRevision(target: ScrapeTarget): Promise<RevisionScrape | undefined> {
    const pods = target.pods;
    const readyPods = pods.length;
    const sampleSize = target.allPods ? readyPods : populationMeanSampleSize(readyPods);
    if (sampleSize === 0) return undefined;

    const answers: { pod: string; stat: Stat }[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < pods.length) {
        const pod = pods[next++] as string;
        const stat = await this.scrapePod(pod);
        if (stat !== undefined) {
          answers.push({ pod, stat });
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: sampleSize }, worker));
    if (answers.length === 0) return undefined;

    let concurrency = 0;
    let rps = 0;
    for (const { stat } of answers) {
      // Requests the activator proxied are counted in its own reports: subtract them here
      // (`collector.go record`) so they are not counted twice.
      concurrency += stat.averageConcurrentRequests - stat.averageProxiedConcurrentRequests;
      rps += stat.requestCount - stat.proxiedRequestCount;
    }
    // The sampled Pods stand for all: mean × N (`scrapePods`).
    const scale = readyPods / answers.length;
    return {
      namespace: target.namespace,
      name: target.name,
      timeMs: this.now(),
      readyPods,
      sampleSize,
      answered: answers.map((a) => a.pod),
      pods: answers.map((a) => ({
        address: a.pod,
        podName: a.stat.podName,
        concurrency: a.stat.averageConcurrentRequests,
      })),
      concurrency: concurrency * scale,
      rps: rps * scale,
    };
  }

  /** Scrapes one Pod; undefined (and a log line at the start of a failure streak) when it fails. */
  private async scrapePod(pod: string): Promise<Stat | undefined> {
    try {
      const stat = await this.fetchStat(podOrigin(pod, this.statsPort));
      if (this.failing.delete(pod)) this.logger.info({ pod }, 'scraping pod recovered');
      return stat;
    } catch (err) {
      if (!this.failing.has(pod)) {
        this.failing.add(pod);
        this.logger.warn({ err, pod }, 'scraping pod failed; skipping it until it answers');
      }
      return undefined;
    }
  }

  /** `GET <origin>/metrics` with the checks of `http_scrape_client.go`; throws {@link ScrapeError}. */
  private async fetchStat(origin: string): Promise<Stat> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.dispatcher.request({
        origin,
        path: '/metrics',
        method: 'GET',
        headers: { accept: PROTOBUF_CONTENT_TYPE },
        signal,
      });
    } catch (err) {
      throw new ScrapeError('transport', `GET ${origin}/metrics failed`, { cause: err });
    }
    try {
      if (res.statusCode < 200 || res.statusCode >= 300) {
        throw new ScrapeError('status', `GET ${origin}/metrics returned HTTP status ${res.statusCode}`);
      }
      const type = res.headers['content-type'];
      if (type !== PROTOBUF_CONTENT_TYPE) {
        throw new ScrapeError('content-type', `GET ${origin}/metrics returned Content-Type ${String(type)}`);
      }
      const chunks: Buffer[] = [];
      let length = 0;
      try {
        for await (const chunk of res.body) {
          length += (chunk as Buffer).length;
          if (length > this.maxBodyBytes) {
            throw new ScrapeError(
              'too-large',
              `GET ${origin}/metrics body exceeds ${this.maxBodyBytes} bytes`,
            );
          }
          chunks.push(chunk as Buffer);
        }
      } catch (err) {
        if (err instanceof ScrapeError) throw err;
        throw new ScrapeError('transport', `reading ${origin}/metrics failed`, { cause: err });
      }
      try {
        return decodeStat(Buffer.concat(chunks, length));
      } catch (err) {
        throw new ScrapeError('decode', `GET ${origin}/metrics body is not a Stat`, { cause: err });
      }
    } finally {
      // Release the connection whatever happened to the body; undici reports destroying an
      // unread body as an error on the stream, which nobody else is listening for.
      if (!res.body.destroyed) res.body.on('error', () => {}).destroy();
    }
  }
}
