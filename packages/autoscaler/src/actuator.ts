/**
 * The actuator: what the KPA decider drives to act on its decisions, one implementation per platform
 * (Kubernetes, one machine). Mirrors the split in Knative's `pkg/reconciler/autoscaling/kpa/kpa.go`
 * (desired scale and SKS mode) and `kpa/scaler.go` (scale patch and the activator probe).
 */

/** Where a revision's public traffic goes: through the activator (`Proxy`) or straight to its Pods (`Serve`). */
export type Mode = 'Proxy' | 'Serve';

/** Names one revision. */
export interface RevisionRef {
  readonly namespace: string;
  readonly name: string;
}

/** Acts on the decider's decisions for revisions. */
export interface Actuator {
  /** Sets the revision's desired Pod count (scale from/to zero included). */
  scale(rev: RevisionRef, desiredPods: number): Promise<void>;
  /** Points the revision's public traffic at the activator (Proxy) or straight at its ready Pods (Serve). */
  setMode(rev: RevisionRef, mode: Mode, numActivators: number): Promise<void>;
  /**
   * Writes a Pod's `controller.kubernetes.io/pod-deletion-cost` (its requests in flight), so that a
   * scale-down removes idle Pods first; a Pod already gone counts as written. Left out where the
   * platform picks the Pods to stop by their load itself.
   */
  setPodDeletionCost?(namespace: string, pod: string, cost: number): Promise<void>;
  /** Before scaling to zero: resolves true once the activator is confirmed in the path. */
  activatorInPath(rev: RevisionRef): Promise<boolean>;
  /**
   * Starts following the activators' endpoints and calls `onActivatorsChange` whenever the ready ones
   * change, so that revisions pointed at them are pointed again; resolves once they were first read (or
   * the first attempt failed and retries run). Left out where the platform routes to its activator itself.
   */
  start?(onActivatorsChange: () => void): Promise<void>;
  /** Stops what {@link Actuator.start} started. */
  stop?(): Promise<void>;
}

/** Stable codes of {@link ActuatorError}. */
export type ActuatorErrorCode =
  /** The platform refused the change for good (not found, forbidden, invalid) or kept failing past the retries. */
  'ERR_ACTUATOR_SCALE' | 'ERR_ACTUATOR_MODE';

/**
 * A change the actuator could not make. The decider logs it and tries again on its next tick; nothing
 * is left half-written that a later call does not repair.
 */
export class ActuatorError extends Error {
  readonly code: ActuatorErrorCode;
  readonly revision: RevisionRef;

  constructor(
    code: ActuatorErrorCode,
    revision: RevisionRef,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ActuatorError';
    this.code = code;
    this.revision = revision;
  }
}
