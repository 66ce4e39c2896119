/**
 * The Knative Pod Autoscaler's decision for one revision, as a pure state machine on an injected
 * clock: metric windows, the stable/panic scaling rule, scale bounds, the scale-to-zero timing,
 * and the Proxy/Serve choice with its activator count.
 *
 * Mirrors `pkg/autoscaler/scaling/autoscaler.go` (the decider), `pkg/autoscaler/scaling/multiscaler.go`
 * (2 s ticks, pokes), `pkg/reconciler/autoscaling/kpa/scaler.go` (bounds, scale to zero) and
 * `pkg/reconciler/autoscaling/kpa/kpa.go` (Active condition, SKS mode, numActivators).
 */

import type { RevisionAutoscaling } from './autoscaler-config.js';
import { MaxWindow } from './max-window.js';
import { WindowedAverage } from './windowed-average.js';

/** How often Knative's multiscaler asks each decider for a scale (`tickInterval`). */
export const TICK_INTERVAL_MS = 2000;

/**
 * How long a revision may stay activating (Pods asked for, none ready) before it is scaled back
 * to zero: the Deployment progress deadline (600 s) plus a buffer (`kpa/scaler.go activationTimeout`).
 */
export const ACTIVATION_TIMEOUT_MS = 630_000;

/** The fewest activators put in a revision's path (`kpa.go minActivators`). */
export const MIN_ACTIVATORS = 2;

/** The scaler's "no opinion yet" result (`kpa/scaler.go scaleUnknown`). */
export const SCALE_UNKNOWN = -1;

/** Whether the activator (Proxy) or the revision's Pods (Serve) back the public Service. */
export type SksMode = 'Proxy' | 'Serve';

/**
 * The PodAutoscaler's Active condition: `activating` (Pods asked for, not yet ready),
 * `active` (enough ready Pods), `inactive` (scaled or scaling to zero behind the activator).
 */
export type ActiveState = 'activating' | 'active' | 'inactive';

/** One scaling decision. */
export interface KpaDecision {
  /** When the decision was made (ms). */
  readonly timeMs: number;
  /** Replicas the revision's Deployment should have now. */
  readonly desiredPods: number;
  /** The decider's recommendation before scale bounds and scale-to-zero timing (`DesiredScale`). */
  readonly recommendedPods: number;
  /**
   * The Pods the stable window's load needs, ⌈stable ÷ target⌉, before the rate limits, panic mode, the
   * scale-down delay and the bounds: fewer than the ready Pods means a scale-down once these allow it.
   */
  readonly stablePods: number;
  /**
   * The scaler's result that drives the mode: the applied scale, 0 while the revision is (being)
   * scaled to zero, or {@link SCALE_UNKNOWN} while activating without a recommendation.
   */
  readonly want: number;
  /** Spare capacity beyond target-burst-capacity; negative puts the activator in the path. */
  readonly excessBurstCapacity: number;
  /** Activators to put in the path in Proxy mode. */
  readonly numActivators: number;
  /** Serve iff `want > 0 && excessBurstCapacity ≥ 0`, else Proxy. */
  readonly mode: SksMode;
  /** Whether the decider is in panic mode after this decision. */
  readonly panic: boolean;
  /** Average of the scaling metric (concurrency, or RPS when metric=rps) over the stable window. */
  readonly stableConcurrency: number;
  /** Average of the scaling metric over the panic window. */
  readonly panicConcurrency: number;
  /** The Active condition after this decision. */
  readonly state: ActiveState;
}

/** Options for {@link Kpa}. */
export interface KpaOptions {
  /**
   * Ready Pods when the decider is created for a revision that already runs (an autoscaler
   * restart). Omit for a new revision, which starts at its initial scale.
   */
  readonly readyPodsAtStart?: number;
  /** Overrides {@link ACTIVATION_TIMEOUT_MS}. */
  readonly activationTimeoutMs?: number;
}

/** Clamps `x` to Knative's scale bounds, where a `max` of 0 means unbounded (`kpa/scaler.go applyBounds`). */
function applyBounds(min: number, max: number, x: number): number {
  if (x < min) return min;
  if (max !== 0 && x > max) return max;
  return x;
}

/**
 * The KPA for one revision. Feed it metrics with {@link record} (every second), ask it for a
 * decision with {@link decide} (every {@link TICK_INTERVAL_MS}), and {@link poke} it when the
 * activator sees the first request for an idle revision. All times are caller-supplied ms, so
 * tests and the trace replay run it on a fake clock.
 *
 * Scale-to-zero timing (`kpa/scaler.go handleScaleToZero`, modelled without the API server):
 * when the bounded recommendation is 0, an `active` revision that has been active for at least
 * the stable window turns `inactive` (mode Proxy) but keeps its Pods; an `inactive` revision
 * drops its last Pods once it has been inactive for the scale-to-zero grace period. The
 * activator probe that Knative runs in between is taken to succeed at once. An `active` revision
 * active for less than the stable window holds one Pod. Since the stable average reaches 0 only
 * a stable window after load stops, an idle revision reaches zero Pods about stable window +
 * grace period (60 s + 30 s) after its last request.
 */
export class Kpa {
  /** The resolved parameters this decider follows. */
  readonly config: RevisionAutoscaling;

  private readonly stableConcurrency: WindowedAverage;
  private readonly panicConcurrency: WindowedAverage;
  private readonly stableRps: WindowedAverage;
  private readonly panicRps: WindowedAverage;
  private readonly delayWindow: MaxWindow | undefined;
  private readonly activationTimeoutMs: number;

  /** Last time the panic condition held; undefined when not panicking (`autoscaler.go panicTime`). */
  private lastOverThresholdMs: number | undefined;
  private startInPanic: boolean;
  private maxPanicPods = 0;
  private lastRecommended = SCALE_UNKNOWN;
  private lastReadyPods: number;
  private applied: number;
  private initialized: boolean;
  /** ⌈stable ÷ target⌉ of the latest decision. */
  private lastStablePods = 0;
  private activeState: ActiveState;
  /** When {@link activeState} last changed; set from the first timestamp seen if unknown. */
  private stateSinceMs: number | undefined;

  /** Creates the decider for one revision; a new revision starts at its initial scale unless `readyPodsAtStart` is given. */
  constructor(config: RevisionAutoscaling, options: KpaOptions = {}) {
    this.config = config;
    this.stableConcurrency = new WindowedAverage(config.stableWindowMs);
    this.panicConcurrency = new WindowedAverage(config.panicWindowMs);
    this.stableRps = new WindowedAverage(config.stableWindowMs);
    this.panicRps = new WindowedAverage(config.panicWindowMs);
    // Why autoscaler.go only builds the window when a delay is set: a one-slot window would still
    // turn two decisions within one tick into their maximum.
    this.delayWindow =
      config.scaleDownDelayMs > 0 ? new MaxWindow(config.scaleDownDelayMs, TICK_INTERVAL_MS) : undefined;
    this.activationTimeoutMs = options.activationTimeoutMs ?? ACTIVATION_TIMEOUT_MS;

    const restored = options.readyPodsAtStart;
    if (restored !== undefined) {
      // An existing revision: Knative keeps its state in the PodAutoscaler status; treat it as
      // long settled. autoscaler.go starts a restarted decider in panic when more than one Pod
      // runs, so losing the metric history does not scale it down.
      this.applied = restored;
      this.lastReadyPods = restored;
      this.initialized = true;
      this.activeState =
        restored === 0 ? 'inactive' : restored >= Math.max(config.minScale, 1) ? 'active' : 'activating';
      // Settled long ago, except that an activation's timeout counts from now.
      this.stateSinceMs = this.activeState === 'activating' ? undefined : Number.NEGATIVE_INFINITY;
      this.startInPanic = restored > 1;
      this.maxPanicPods = restored;
    } else {
      // A new revision starts at initial-scale, raised to min-scale (Knative ignores an initial
      // scale below min-scale), and is activating until those Pods are ready.
      const start = applyBounds(config.minScale, config.maxScale, config.initialScale);
      this.applied = start;
      this.lastReadyPods = 0;
      this.initialized = false;
      this.activeState = start === 0 ? 'inactive' : 'activating';
      this.stateSinceMs = undefined;
      this.startInPanic = false;
    }
  }

  /** Replicas the Deployment should have, as of the last decision (or the starting scale). */
  get desiredPods(): number {
    return this.applied;
  }

  /** The Active condition as of the last decision. */
  get state(): ActiveState {
    return this.activeState;
  }

  /**
   * Records one observation: total in-flight requests (summed over Pods, as the scraper reports
   * them, or an activator's report) and requests per second, at `timeMs`. Observations in the
   * same second add up.
   */
  record(timeMs: number, concurrency: number, rps = 0): void {
    this.begin(timeMs);
    this.stableConcurrency.record(timeMs, concurrency);
    this.panicConcurrency.record(timeMs, concurrency);
    this.stableRps.record(timeMs, rps);
    this.panicRps.record(timeMs, rps);
  }

  /**
   * The activator's poke for a revision it had no stats for: records one request in flight and,
   * when the last recommendation was zero (or none yet), decides at once instead of waiting for
   * the next tick (`multiscaler.go Poke`). Returns that decision, which asks for at least one Pod,
   * or undefined when no immediate decision was needed.
   */
  poke(timeMs: number, readyPods: number = this.lastReadyPods): KpaDecision | undefined {
    this.record(timeMs, 1, 1);
    if (this.lastRecommended > 0) return undefined;
    return this.decide(timeMs, readyPods);
  }

  /** Makes one scaling decision at `timeMs` given the revision's currently ready Pods. */
  decide(timeMs: number, readyPods: number): KpaDecision {
    this.begin(timeMs);
    const c = this.config;
    this.lastReadyPods = readyPods;
    const rps = c.metric === 'rps';
    const stable = (rps ? this.stableRps : this.stableConcurrency).average(timeMs);
    const panic = (rps ? this.panicRps : this.panicConcurrency).average(timeMs);

    const recommended = this.recommend(timeMs, readyPods, stable, panic);
    const want = this.scale(timeMs, recommended);
    this.updateActiveCondition(timeMs, want, readyPods);

    // Why autoscaler.go uses the panic-window value: the activator's place in the path should
    // follow the burst now, not the minute-long average.
    const tbc = c.targetBurstCapacity;
    const excessBurstCapacity =
      tbc === 0 ? 0 : tbc > 0 ? Math.floor(readyPods * c.totalValue - tbc - panic) : -1;
    const numActivators =
      tbc === 0
        ? MIN_ACTIVATORS
        : Math.max(
            MIN_ACTIVATORS,
            Math.ceil((readyPods * c.totalValue + Math.max(tbc, 0)) / c.activatorCapacity),
          );

    return {
      timeMs,
      desiredPods: this.applied,
      recommendedPods: recommended,
      stablePods: this.lastStablePods,
      want,
      excessBurstCapacity,
      numActivators,
      mode: want > 0 && excessBurstCapacity >= 0 ? 'Serve' : 'Proxy',
      panic: this.lastOverThresholdMs !== undefined,
      stableConcurrency: stable,
      panicConcurrency: panic,
      state: this.activeState,
    };
  }

  /** The decider proper (`autoscaler.go Scale`): stable/panic Pods, rate limits, panic mode, delay. */
  private recommend(timeMs: number, readyPods: number, stable: number, panic: number): number {
    const c = this.config;
    // With no ready Pods the rate limits and the panic ratio are taken against one.
    const ready = Math.max(1, readyPods);
    // ceil so that a cautious rate still allows growing by one Pod.
    const maxScaleUp = Math.ceil(c.maxScaleUpRate * ready);
    const maxScaleDown = c.reachable ? Math.floor(ready / c.maxScaleDownRate) : 0;

    const dspc = Math.ceil(stable / c.targetValue);
    this.lastStablePods = dspc;
    const dppc = Math.ceil(panic / c.targetValue);
    let desiredStable = Math.min(Math.max(dspc, maxScaleDown), maxScaleUp);
    let desiredPanic = Math.min(Math.max(dppc, maxScaleDown), maxScaleUp);
    if (c.activationScale > 1) {
      if (dspc > 0 && c.activationScale > desiredStable) desiredStable = c.activationScale;
      if (dppc > 0 && c.activationScale > desiredPanic) desiredPanic = c.activationScale;
    }

    const overThreshold = dppc / ready >= c.panicThreshold;
    if (overThreshold) {
      // Entering panic, or extending it: it lasts a stable window past the last burst.
      this.lastOverThresholdMs = timeMs;
    } else if (
      this.lastOverThresholdMs !== undefined &&
      this.lastOverThresholdMs + c.stableWindowMs < timeMs
    ) {
      // The burst has made its way into the stable average.
      this.lastOverThresholdMs = undefined;
      this.maxPanicPods = 0;
    }

    let desired = desiredStable;
    if (this.lastOverThresholdMs !== undefined) {
      // In panic, provision for the larger of the two windows and never scale down.
      desired = Math.max(desired, desiredPanic, this.maxPanicPods);
      this.maxPanicPods = desired;
    }
    if (this.delayWindow !== undefined) desired = this.delayWindow.record(timeMs, desired);
    this.lastRecommended = desired;
    return desired;
  }

  /**
   * Applies scale bounds and the scale-to-zero timing (`kpa/scaler.go Scale`, `handleScaleToZero`)
   * and returns the scaler's result ("want"); updates the applied scale when it applies.
   */
  private scale(timeMs: number, recommended: number): number {
    const c = this.config;
    let min = c.minScale;
    // Until the revision first reaches its initial scale, that scale is a floor.
    if (!this.initialized && c.initialScale > 1) min = Math.max(min, c.initialScale);
    const desired = applyBounds(min, c.maxScale, recommended);
    if (desired !== 0) return this.apply(desired);
    if (!c.enableScaleToZero) return this.apply(1);

    const inStateFor = timeMs - (this.stateSinceMs as number);
    switch (this.activeState) {
      case 'activating':
        // Still waiting for Pods: keep asking for them until activation times out.
        return inStateFor >= this.activationTimeoutMs ? this.apply(0) : SCALE_UNKNOWN;
      case 'active':
        // Active long enough: turn inactive (the activator takes over) but keep the Pods for now.
        if (inStateFor >= c.stableWindowMs) return 0;
        // Otherwise hold one Pod for the rest of the stable window.
        return this.apply(1);
      case 'inactive':
        // Behind the activator for the grace period: the last Pods may go.
        return inStateFor >= c.scaleToZeroGracePeriodMs ? this.apply(0) : 0;
    }
  }

  private apply(scale: number): number {
    this.applied = scale;
    return scale;
  }

  /** Updates the Active condition from the scaler's result and ready Pods (`kpa.go computeActiveCondition`). */
  private updateActiveCondition(timeMs: number, want: number, readyPods: number): void {
    const c = this.config;
    const minReady = this.initialized ? Math.max(c.minScale, 1) : Math.max(c.minScale, c.initialScale);
    if (readyPods >= minReady) this.initialized = true;
    if (want === 0 || minReady === 0) this.setState('inactive', timeMs);
    else if (want > 0 || this.activeState !== 'inactive') {
      this.setState(readyPods < minReady ? 'activating' : 'active', timeMs);
    }
  }

  private setState(state: ActiveState, timeMs: number): void {
    if (state === this.activeState) return;
    this.activeState = state;
    this.stateSinceMs = timeMs;
  }

  /** Fixes times that depend on the first timestamp seen. */
  private begin(timeMs: number): void {
    if (this.stateSinceMs === undefined) this.stateSinceMs = timeMs;
    if (this.startInPanic) {
      this.startInPanic = false;
      this.lastOverThresholdMs = timeMs;
    }
  }
}
