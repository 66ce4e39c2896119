import { type Logger, serverTimingSetting } from '@zerogate/core';
import {
  type EndpointListener,
  type RevisionInfo,
  revisionKey,
  sameAnnotations,
  WAITING_PAGE_ANNOTATION,
} from './endpoint-source.js';
import { type PodProbe, RevisionBackends } from './revision-backends.js';
import { RevisionHealth } from './revision-health.js';
import { holdingSettings } from './revision-settings.js';
import { RevisionThrottler, type ThrottleLimits } from './throttler.js';

/** One revision the activator serves: what the source says, which Pods are usable, and its throttle. */
export class Revision {
  readonly throttler: RevisionThrottler;
  readonly backends: RevisionBackends;
  /** Whether it is failing, the requests a failure ends, and its wake (docs/activator.md §10). */
  readonly health: RevisionHealth;
  /** Browsers get the waiting page while no Pod is usable (docs/activator.md §10.2). */
  waitingPage = false;
  /** Held and throttled requests' responses carry `Server-Timing` (docs/activator.md §7.2). */
  serverTiming = true;

  constructor(
    public info: RevisionInfo,
    limits: ThrottleLimits,
    probe: PodProbe,
    probeFrequencyMs: number,
    private readonly self: string,
    private readonly logger: Logger,
  ) {
    this.health = new RevisionHealth(info.name);
    this.throttler = new RevisionThrottler(limits);
    this.configure(info);
    this.backends = new RevisionBackends(probe, probeFrequencyMs, (healthy) => this.retarget(healthy));
  }

  get namespace(): string {
    return this.info.namespace;
  }

  get name(): string {
    return this.info.name;
  }

  /** Takes a new state from the source. */
  update(info: RevisionInfo): void {
    const old = this.info;
    this.info = info;
    if (!sameAnnotations(old.annotations, info.annotations)) this.configure(info);
    this.waitingPage = info.annotations?.[WAITING_PAGE_ANNOTATION] === 'true';
    this.backends.update(info.ready, info.notReady);
    this.health.update(info.failing, this.backends.current.length, Date.now());
    if (
      old.containerConcurrency !== info.containerConcurrency ||
      old.activators.join() !== info.activators.join()
    ) {
      this.retarget(this.backends.current);
    }
  }

  /** Stops its prober and timers (the revision is gone). */
  stop(): void {
    this.backends.stop();
    this.throttler.stop();
  }

  /** Holding and waking as the revision's annotations say; a malformed one is logged and its default used. */
  private configure(info: RevisionInfo): void {
    const { settings, problems } = holdingSettings(info.annotations);
    const timing = serverTimingSetting(info.annotations);
    this.serverTiming = timing.enabled;
    if (timing.problem !== undefined) problems.push(timing.problem);
    for (const problem of problems) {
      this.logger.warn({ revision: revisionKey(info.namespace, info.name), problem }, 'annotation ignored');
    }
    this.throttler.configure(settings);
  }

  private retarget(healthy: readonly string[]): void {
    this.health.update(this.info.failing, healthy.length, Date.now());
    this.throttler.update(this.info.containerConcurrency, healthy, this.info.activators, this.self);
  }
}

/** Every revision the activator knows, kept current by an endpoint source. */
export class RevisionRegistry implements EndpointListener {
  private readonly revisions = new Map<string, Revision>();

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly probe: PodProbe,
    private readonly probeFrequencyMs: number,
    /** This activator's own IP, to find its share of Pods when several activators are in the path. */
    private readonly self: string,
    private readonly logger: Logger,
  ) {}

  /** The revision, or undefined when no source mentioned it. */
  get(namespace: string, name: string): Revision | undefined {
    return this.revisions.get(revisionKey(namespace, name));
  }

  /** Every known revision. */
  all(): IterableIterator<Revision> {
    return this.revisions.values();
  }

  upsert(info: RevisionInfo): void {
    const key = revisionKey(info.namespace, info.name);
    const existing = this.revisions.get(key);
    if (existing) {
      existing.update(info);
      return;
    }
    const revision = new Revision(
      info,
      this.limits,
      this.probe,
      this.probeFrequencyMs,
      this.self,
      this.logger,
    );
    this.revisions.set(key, revision);
    revision.update(info);
    this.logger.info(
      {
        revision: key,
        containerConcurrency: info.containerConcurrency,
        ready: info.ready.length,
        notReady: info.notReady.length,
      },
      'revision added',
    );
  }

  remove(namespace: string, name: string): void {
    const key = revisionKey(namespace, name);
    const revision = this.revisions.get(key);
    if (!revision) return;
    revision.stop();
    // Requests already held keep their throttler and end at their timeout; new ones get 404.
    this.revisions.delete(key);
    this.logger.info({ revision: key }, 'revision removed');
  }

  /** Stops every prober. */
  stop(): void {
    for (const revision of this.revisions.values()) revision.stop();
  }
}
