/**
 * What the activator knows of a revision's health beyond its usable Pods (docs/activator.md §10.1, §10.2):
 * whether it is failing (its Pods cannot become ready, and the endpoint source says why), the requests
 * held meanwhile, which a failure refuses at once instead of letting them wait for the revision's timeout,
 * and when the first request found it without a usable Pod, for the waiting page's elapsed time and its
 * guess of when the Pod will be there.
 */
import { zerogateErrorHeaders } from '@zerogate/core';

/** A held request that a failure of its revision ends at once. */
export interface FailingListener {
  /** The revision turned out failing; `detail` fills in `REVISION_FAILING`'s body. */
  revisionFailing(detail: string): void;
}

/** Seconds a client is told to wait after a failing revision refused its request. */
export const FAILING_RETRY_AFTER_SECONDS = '5';

/**
 * The headers of a failing revision's 503 (docs/activator.md §10.1): when to try again, and which
 * component refused and why (`Zerogate-Error: activator; revision-failing`, from core's error table), so a
 * 503 made by the platform is told apart from an app's own.
 */
export const REVISION_FAILING_HEADERS: Readonly<Record<string, string>> = Object.freeze(
  zerogateErrorHeaders('activator', 'REVISION_FAILING', { 'retry-after': FAILING_RETRY_AFTER_SECONDS })!,
);

/** One revision's health, kept current by its {@link Revision} from the source and its usable Pods. */
export class RevisionHealth {
  private reason: string | undefined;
  private refusal: string | undefined;
  private usablePods = 0;
  private readonly held = new Set<FailingListener>();
  /** When the first request found no usable Pod (ms since the epoch); undefined while one is usable. */
  private wokenAtMs: number | undefined;
  /** How long the latest wake took, from its first request to the first usable Pod. */
  private lastWakeMs: number | undefined;

  constructor(private readonly name: string) {}

  /** Pods usable now (healthy, over every activator's share). */
  get usable(): number {
    return this.usablePods;
  }

  /**
   * Why requests are refused now, as `REVISION_FAILING`'s detail (`hello-00002 failing: app exited with
   * code 1 (3 times)`): while the source says the revision is failing and no Pod is usable; undefined
   * otherwise.
   */
  get refusing(): string | undefined {
    return this.refusal;
  }

  /** When the first request found no usable Pod; undefined while one is usable or nobody asked. */
  get wokenAt(): number | undefined {
    return this.wokenAtMs;
  }

  /** How long the latest wake took; undefined before one was seen. */
  get lastWake(): number | undefined {
    return this.lastWakeMs;
  }

  /**
   * Takes the source's failure reason (undefined: not failing) and the usable Pods. Once requests are
   * refused, every held one is ended at once; a Pod usable again ends the wake.
   */
  update(reason: string | undefined, usable: number, now: number): void {
    const before = this.refusal;
    if (reason !== this.reason) this.reason = reason;
    this.usablePods = usable;
    if (usable > 0 && this.wokenAtMs !== undefined) {
      this.lastWakeMs = now - this.wokenAtMs;
      this.wokenAtMs = undefined;
    }
    this.refusal = reason !== undefined && usable === 0 ? `${this.name} failing: ${reason}` : undefined;
    if (this.refusal !== undefined && this.refusal !== before && this.held.size > 0) {
      const detail = this.refusal;
      const held = [...this.held];
      this.held.clear();
      for (const listener of held) listener.revisionFailing(detail);
    }
  }

  /** A request arrived while no Pod is usable: the wake starts now unless it already did. */
  woke(now: number): void {
    if (this.usablePods === 0) this.wokenAtMs ??= now;
  }

  /** `listener` is held until a Pod has room: a failure from now on ends it. */
  hold(listener: FailingListener): void {
    this.held.add(listener);
  }

  /** `listener` is no longer held (granted a Pod, or ended). */
  release(listener: FailingListener): void {
    if (this.held.size > 0) this.held.delete(listener);
  }

  /** Requests held and listening now. */
  get holding(): number {
    return this.held.size;
  }
}
