/**
 * The Pods of one revision, kept at the count the autoscaler asks for: Pods are started and stopped to
 * match it, a failed Pod is replaced after a backoff that grows while starts keep failing (the
 * kubelet's crash-loop backoff), and every change is reported to the platform.
 */
import { Backoff } from '@zerogate/core';
import type { RevisionConfig } from './config.js';
import { Pod, type PodSettings } from './pod.js';

/** Where the revision's public traffic goes. */
export type Mode = 'Proxy' | 'Serve';

/** Restart delay after a failed Pod: doubling from 1 s, capped at 30 s, reset by a Pod becoming ready. */
export const FAILURE_BACKOFF = { initialMs: 1000, maxMs: 30_000 } as const;

/** Pods that stopped or failed, kept (newest first) so their end and failure reason can be shown. */
export const ENDED_PODS_KEPT = 5;

/**
 * Failures in a row, with no Pod ready between, from which a revision counts as crash-looping (the
 * kubelet's `CrashLoopBackOff`): one failure may be bad luck, a second start failing again is a pattern.
 */
export const CRASH_LOOP_FAILURES = 2;

/** A failed Pod's failure in a few words: how its container exited, or why it was failed. */
export function failureOf(pod: Pick<Pod, 'exit' | 'failure'>): string {
  const exit = pod.exit;
  if (exit) {
    return exit.signal
      ? `${exit.container} killed by signal ${exit.signal}`
      : `${exit.container} exited with code ${exit.code}`;
  }
  return pod.failure ?? 'failed';
}

/** Makes a Pod; tests pass a fake. */
export type PodFactory = (
  name: string,
  config: RevisionConfig,
  settings: PodSettings,
  onChange: (pod: Pod) => void,
) => Pod;

/**
 * Requests in flight on a Pod, asked for when the revision scales down; the platform counts what its
 * ingress has open on the Pod and what the Pod's stats endpoint reports.
 */
export type PodLoad = (pod: Pod) => Promise<number>;

const realPod: PodFactory = (name, config, settings, onChange) => new Pod(name, config, settings, onChange);

/** What a revision tells the platform. */
export interface RevisionEvents {
  /** A Pod changed phase or addresses (`pod`), or a Pod was added or removed. */
  changed(revision: RevisionPods, pod?: Pod): void;
  /** A Pod failed and will be replaced. */
  podFailed(revision: RevisionPods, pod: Pod): void;
}

/** One revision's Pods and routing mode. */
export class RevisionPods {
  mode: Mode = 'Proxy';
  desired = 0;
  /** Pods starting, running or draining; stopped and failed ones leave this list. */
  readonly pods: Pod[] = [];
  /** The latest Pods that stopped or failed, newest first, at most {@link ENDED_PODS_KEPT}. */
  readonly ended: Pod[] = [];
  /** Pods that failed since the start. */
  failures = 0;
  /** Pods that failed in a row, with no Pod becoming ready since. */
  consecutiveFailures = 0;
  private nextPodNumber = 1;
  private readonly failureBackoff = new Backoff(FAILURE_BACKOFF);
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAt = 0;
  private closed = false;
  /** True while the Pods to stop are being chosen (their loads asked for). */
  private choosing = false;
  /** A reconcile was asked for while choosing: run it once the choice is made. */
  private reconcileAgain = false;

  constructor(
    readonly config: RevisionConfig,
    private readonly settings: PodSettings,
    private readonly events: RevisionEvents,
    private readonly createPod: PodFactory = realPod,
    /** The Pods' requests in flight; without it every Pod counts as idle. */
    private readonly loadOf?: PodLoad,
  ) {}

  get namespace(): string {
    return this.config.namespace;
  }

  get name(): string {
    return this.config.name;
  }

  /** Whether Pods keep failing: {@link CRASH_LOOP_FAILURES} or more in a row. */
  get crashLooping(): boolean {
    return this.consecutiveFailures >= CRASH_LOOP_FAILURES;
  }

  /**
   * Why the revision cannot become ready, for the activator (docs/activator.md §10.1): while it
   * crash-loops ({@link crashLooping}) and no Pod is starting or running, the last failure and how many
   * Pods failed in a row (`app exited with code 1 (3 times)`); undefined otherwise. A Pod started again
   * after the back-off clears it, so requests are held for that Pod's chance.
   */
  get failing(): string | undefined {
    if (!this.crashLooping) return undefined;
    for (const p of this.pods) {
      if (p.phase === 'starting' || p.phase === 'ready' || p.phase === 'unready') return undefined;
    }
    const last = this.ended.find((p) => p.phase === 'failed');
    return `${last ? failureOf(last) : 'its Pods fail'} (${this.consecutiveFailures} times)`;
  }

  /** When the next Pod may start after a failure (ms since the epoch); 0 or past when it may now. */
  get nextStartAt(): number {
    return this.retryAt;
  }

  /** Pods that pass their readiness probe. */
  ready(): Pod[] {
    return this.pods.filter((p) => p.phase === 'ready');
  }

  /** Pods the activator may use or probe: started and not stopping. */
  routable(): Pod[] {
    return this.pods.filter(
      (p) =>
        p.servingAddress !== undefined &&
        (p.phase === 'starting' || p.phase === 'ready' || p.phase === 'unready'),
    );
  }

  /** Sets the desired Pod count and starts or stops Pods to reach it. */
  scale(desired: number): void {
    this.desired = desired;
    this.reconcile();
  }

  /** Stops every Pod (draining each) and starts no more. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await Promise.all([...this.pods].map((p) => p.stop()));
  }

  private live(): Pod[] {
    return this.pods.filter((p) => p.phase !== 'stopping');
  }

  private reconcile(): void {
    if (this.closed) return;
    if (this.choosing) {
      this.reconcileAgain = true;
      return;
    }
    const live = this.live();
    if (live.length > this.desired) {
      if (this.loadOf === undefined) {
        this.stopExcess(live, new Map());
        return;
      }
      this.choosing = true;
      void this.stopLeastBusy(this.loadOf).finally(() => {
        this.choosing = false;
        if (this.reconcileAgain) {
          this.reconcileAgain = false;
          this.reconcile();
        }
      });
      return;
    }
    const missing = this.desired - live.length;
    if (missing <= 0) return;
    const wait = this.retryAt - Date.now();
    if (wait > 0) {
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.reconcile();
        }, wait);
      }
      return;
    }
    for (let i = 0; i < missing; i++) this.startPod();
  }

  /** Asks every live Pod for its load, then stops the excess Pods as {@link stopExcess} orders them. */
  private async stopLeastBusy(loadOf: PodLoad): Promise<void> {
    const asked = this.live();
    const loads = new Map<Pod, number>();
    await Promise.all(
      asked.map(async (pod) => {
        loads.set(pod, await loadOf(pod).catch(() => 0));
      }),
    );
    if (this.closed) return;
    // The desired count or the Pods may have changed while the loads were asked for.
    const live = this.live();
    if (live.length > this.desired) this.stopExcess(live, loads);
  }

  /**
   * Stops the Pods beyond the desired count: those not ready first, then the least busy (fewest requests
   * in flight), then the youngest (the oldest have the warmest caches). A Pod with requests in flight
   * is thus never stopped while an idle one is left running, so long requests are not cut short by a
   * scale-down (a Pod whose load is unknown counts as idle).
   */
  private stopExcess(live: readonly Pod[], loads: ReadonlyMap<Pod, number>): void {
    const victims = [...live]
      .sort(
        (a, b) =>
          Number(a.phase === 'ready') - Number(b.phase === 'ready') ||
          (loads.get(a) ?? 0) - (loads.get(b) ?? 0) ||
          b.timeline.spawnedAt - a.timeline.spawnedAt,
      )
      .slice(0, live.length - this.desired);
    for (const pod of victims) void pod.stop();
  }

  private startPod(): void {
    const pod = this.createPod(`${this.name}-${this.nextPodNumber++}`, this.config, this.settings, (p) =>
      this.podChanged(p),
    );
    pod.restarts = this.consecutiveFailures;
    this.pods.push(pod);
    this.events.changed(this);
    void pod.start();
  }

  private podChanged(pod: Pod): void {
    if (pod.phase === 'ready') {
      this.failureBackoff.reset();
      this.consecutiveFailures = 0;
    }
    if (pod.phase === 'failed' || pod.phase === 'stopped') {
      const at = this.pods.indexOf(pod);
      if (at !== -1) this.pods.splice(at, 1);
      if (!this.ended.includes(pod)) {
        this.ended.unshift(pod);
        this.ended.length = Math.min(this.ended.length, ENDED_PODS_KEPT);
      }
    }
    if (pod.phase === 'failed') {
      this.failures++;
      this.consecutiveFailures++;
      this.retryAt = Date.now() + this.failureBackoff.next();
      this.events.podFailed(this, pod);
    }
    this.events.changed(this, pod);
    if (pod.phase === 'failed' || pod.phase === 'stopped') this.reconcile();
  }
}
