/**
 * Keeps each Pod's `controller.kubernetes.io/pod-deletion-cost` annotation in step with its requests in
 * flight while its revision is about to scale down, so that the ReplicaSet controller, which deletes the
 * Pods of lowest cost first, removes idle Pods and leaves the busy ones to finish their requests. Knative
 * does not do this: its scale-down removes Pods in the ReplicaSet's own order, busy or not.
 *
 * Writes are bounded three ways (docs/autoscaler.md §5.4): only while a scale-down is near
 * ({@link scaleDownNear}), at most one write per Pod every {@link MIN_PATCH_INTERVAL_MS} and only when the
 * value changed enough ({@link changedEnough}), and at most {@link MAX_PATCHES_PER_SECOND} writes a
 * second over all revisions. Pure apart from the injected `patch`; the clock is injected.
 */
import { type Logger, positive } from '@zerogate/core';
import type { RevisionRef } from './actuator.js';
import type { KpaDecision } from './kpa.js';

/** The annotation the ReplicaSet controller ranks Pods by on scale-down (lower is deleted first). */
export const POD_DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

/** Least time between two writes of one Pod's cost. */
export const MIN_PATCH_INTERVAL_MS = 5000;

/** Most cost writes started in one second, over every revision. */
export const MAX_PATCHES_PER_SECOND = 20;

/** How long a scale-down waits for the cost writes it asked for before it goes ahead anyway. */
export const SETTLE_TIMEOUT_MS = 2000;

/** A Pod is forgotten once it was not seen in a scrape for this long (it is gone, or left the sample). */
export const FORGET_AFTER_MS = 60_000;

/**
 * Whether a scale-down of the revision is near: the decision asks for fewer Pods than are ready, or the
 * revision has excess capacity, the load of its stable window fitting on fewer Pods than are ready
 * (`stablePods`, `recommendedPods`), so a scale-down follows as soon as panic mode, the scale-down delay
 * or `min-scale` let it. Costs are written only then: a revision that grows or runs at its size costs no
 * writes. A revision held above its load by `min-scale` stays near, its writes bounded by the interval
 * and the change threshold.
 */
export function scaleDownNear(
  decision: Pick<KpaDecision, 'desiredPods' | 'recommendedPods' | 'stablePods'>,
  readyPods: number,
): boolean {
  if (readyPods <= 1) return false;
  const fewer = (n: number) => n >= 0 && n < readyPods;
  return fewer(decision.desiredPods) || fewer(decision.recommendedPods) || fewer(decision.stablePods);
}

/** A Pod's cost: its requests in flight, rounded to the integer the annotation must hold. */
export function deletionCost(concurrency: number): number {
  if (!Number.isFinite(concurrency) || concurrency <= 0) return 0;
  return Math.min(Math.round(concurrency), 2_147_483_647);
}

/**
 * Whether a cost moved far enough from the one written to be worth a write: by at least 1 and at least
 * 20 % of the larger of the two. Becoming idle (to 0) or busy (from 0) always is; 10 → 11 is not.
 */
export function changedEnough(written: number, next: number): boolean {
  const delta = Math.abs(next - written);
  return delta >= 1 && delta >= 0.2 * Math.max(written, next);
}

/** One Pod's load, as one scrape saw it. */
export interface PodLoad {
  /** The Pod's name (the queue-proxy's `SERVING_POD`). */
  readonly podName: string;
  /** Its requests in flight (the queue-proxy's average concurrency over its last second). */
  readonly concurrency: number;
}

/** Writes one Pod's cost; rejects when the write failed (a Pod already gone should resolve). */
export type PatchCost = (namespace: string, podName: string, cost: number) => Promise<void>;

/** Options of {@link PodDeletionCosts}. */
export interface PodDeletionCostsOptions {
  readonly patch: PatchCost;
  readonly logger: Logger;
  /** Clock (ms); default `Date.now`. */
  readonly now?: () => number;
  /** Overrides {@link MIN_PATCH_INTERVAL_MS}. */
  readonly minIntervalMs?: number;
  /** Overrides {@link MAX_PATCHES_PER_SECOND}. */
  readonly maxPatchesPerSecond?: number;
  /** Overrides {@link SETTLE_TIMEOUT_MS}. */
  readonly settleTimeoutMs?: number;
}

interface PodState {
  /** The cost last written, undefined until a write succeeded. */
  written: number | undefined;
  /** When a write was last started (ms), successful or not. */
  lastAttemptMs: number;
  /** When a scrape last saw the Pod (ms). */
  seenMs: number;
  /** The write in flight. */
  pending: Promise<void> | undefined;
}

interface RevisionState {
  near: boolean;
  readonly pods: Map<string, PodState>;
  /** The loads of the latest scrape. */
  latest: readonly PodLoad[];
}

/** Keeps the Pods' deletion costs of every revision; see the file comment. */
export class PodDeletionCosts {
  private readonly patch: PatchCost;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly minIntervalMs: number;
  private readonly maxPatchesPerSecond: number;
  private readonly settleTimeoutMs: number;
  private readonly revisions = new Map<string, RevisionState>();
  /** The second (ms ÷ 1000, floored) the budget counts, and the writes started in it. */
  private budgetSecond = -1;
  private budgetUsed = 0;

  constructor(options: PodDeletionCostsOptions) {
    this.patch = options.patch;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.minIntervalMs = positive(
      'PodDeletionCosts option minIntervalMs',
      options.minIntervalMs ?? MIN_PATCH_INTERVAL_MS,
    );
    this.maxPatchesPerSecond = positive(
      'PodDeletionCosts option maxPatchesPerSecond',
      options.maxPatchesPerSecond ?? MAX_PATCHES_PER_SECOND,
    );
    this.settleTimeoutMs = positive(
      'PodDeletionCosts option settleTimeoutMs',
      options.settleTimeoutMs ?? SETTLE_TIMEOUT_MS,
    );
  }

  /** Records the latest decision's verdict ({@link scaleDownNear}) for the revision. */
  setNear(rev: RevisionRef, near: boolean): void {
    const state = this.revision(rev);
    if (state.near !== near) {
      this.logger.debug({ namespace: rev.namespace, name: rev.name, near }, 'scale-down near changed');
    }
    state.near = near;
  }

  /** Whether a scale-down of the revision is near, as last recorded: then every Pod is scraped. */
  near(rev: RevisionRef): boolean {
    return this.revisions.get(key(rev))?.near ?? false;
  }

  /** Forgets a revision that is gone. */
  remove(rev: RevisionRef): void {
    this.revisions.delete(key(rev));
  }

  /**
   * Takes one scrape's Pod loads for the revision and, while its scale-down is near, writes the costs
   * that changed enough, within the per-Pod interval and the budget, the biggest changes first.
   */
  observe(rev: RevisionRef, loads: readonly PodLoad[]): void {
    const state = this.revision(rev);
    const now = this.now();
    state.latest = loads;
    for (const { podName } of loads) {
      const pod = state.pods.get(podName);
      if (pod) pod.seenMs = now;
      else
        state.pods.set(podName, {
          written: undefined,
          lastAttemptMs: -Infinity,
          seenMs: now,
          pending: undefined,
        });
    }
    for (const [name, pod] of state.pods) {
      if (now - pod.seenMs > FORGET_AFTER_MS && pod.pending === undefined) state.pods.delete(name);
    }
    if (state.near) this.write(rev, state, loads, false);
  }

  /**
   * Before a scale-down: writes the costs of the latest scrape that changed enough, the per-Pod interval
   * waived (this is the moment they matter), and waits for the revision's writes in flight, at most
   * the settle timeout, so the ReplicaSet controller ranks the Pods by them.
   */
  async settle(rev: RevisionRef): Promise<void> {
    const state = this.revisions.get(key(rev));
    if (state === undefined) return;
    this.write(rev, state, state.latest, true);
    const pending = [...state.pods.values()].flatMap((p) => (p.pending ? [p.pending] : []));
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(pending),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.settleTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private revision(rev: RevisionRef): RevisionState {
    const k = key(rev);
    let state = this.revisions.get(k);
    if (state === undefined) {
      state = { near: false, pods: new Map(), latest: [] };
      this.revisions.set(k, state);
    }
    return state;
  }

  private write(rev: RevisionRef, state: RevisionState, loads: readonly PodLoad[], urgent: boolean): void {
    const now = this.now();
    const due: { podName: string; pod: PodState; cost: number; change: number }[] = [];
    for (const { podName, concurrency } of loads) {
      const pod = state.pods.get(podName);
      if (pod === undefined || pod.pending !== undefined || podName === '') continue;
      if (!urgent && now - pod.lastAttemptMs < this.minIntervalMs) continue;
      const cost = deletionCost(concurrency);
      // A Pod not written yet may carry an earlier autoscaler's value: write it once whatever it is.
      if (pod.written !== undefined && !changedEnough(pod.written, cost)) continue;
      due.push({ podName, pod, cost, change: Math.abs(cost - (pod.written ?? 0)) });
    }
    due.sort((a, b) => b.change - a.change);
    for (const d of due) {
      if (!this.takeBudget(now)) {
        this.logger.debug(
          { namespace: rev.namespace, name: rev.name },
          'pod deletion cost writes over budget; the rest wait',
        );
        return;
      }
      this.start(rev, d.podName, d.pod, d.cost, now);
    }
  }

  private takeBudget(now: number): boolean {
    const second = Math.floor(now / 1000);
    if (second !== this.budgetSecond) {
      this.budgetSecond = second;
      this.budgetUsed = 0;
    }
    if (this.budgetUsed >= this.maxPatchesPerSecond) return false;
    this.budgetUsed++;
    return true;
  }

  private start(rev: RevisionRef, podName: string, pod: PodState, cost: number, now: number): void {
    pod.lastAttemptMs = now;
    pod.pending = this.patch(rev.namespace, podName, cost).then(
      () => {
        pod.written = cost;
        pod.pending = undefined;
      },
      (err: unknown) => {
        pod.pending = undefined;
        this.logger.warn(
          { err, namespace: rev.namespace, pod: podName, cost },
          'writing the pod deletion cost failed; retrying after the interval',
        );
      },
    );
  }
}

function key(rev: RevisionRef): string {
  return `${rev.namespace}/${rev.name}`;
}
