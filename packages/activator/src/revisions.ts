import type { Logger } from '@zerogate/core';
import { type EndpointListener, type RevisionInfo, revisionKey } from './endpoint-source.js';
import { type PodProbe, RevisionBackends } from './revision-backends.js';
import { RevisionThrottler, type ThrottleLimits } from './throttler.js';

/** One revision the activator serves: what the source says, which Pods are usable, and its throttle. */
export class Revision {
  readonly throttler: RevisionThrottler;
  readonly backends: RevisionBackends;

  constructor(
    public info: RevisionInfo,
    limits: ThrottleLimits,
    probe: PodProbe,
    probeFrequencyMs: number,
    private readonly self: string,
  ) {
    this.throttler = new RevisionThrottler(limits);
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
    this.backends.update(info.ready, info.notReady);
    if (
      old.containerConcurrency !== info.containerConcurrency ||
      old.activators.join() !== info.activators.join()
    ) {
      this.retarget(this.backends.current);
    }
  }

  private retarget(healthy: readonly string[]): void {
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
    const revision = new Revision(info, this.limits, this.probe, this.probeFrequencyMs, this.self);
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
    revision.backends.stop();
    // Requests already held keep their throttler and end at their timeout; new ones get 404.
    this.revisions.delete(key);
    this.logger.info({ revision: key }, 'revision removed');
  }

  /** Stops every prober. */
  stop(): void {
    for (const revision of this.revisions.values()) revision.backends.stop();
  }
}
