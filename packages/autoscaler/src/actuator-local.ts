/**
 * The actuator of the one-machine platform: scale and mode changes are handed to the platform's own
 * programmatic interface; only the activator-in-path check goes over the network, as on Kubernetes.
 */
import { type ActivatorProbeOptions, probeActivatorInPath } from './activator-probe.js';
import type { Actuator, Mode, RevisionRef } from './actuator.js';

/** What the one-machine platform offers the autoscaler. */
export interface LocalPlatform {
  /** Starts or stops revision processes until `n` run. */
  setDesiredPods(rev: RevisionRef, n: number): Promise<void>;
  /** Routes the revision's public traffic through the activator (Proxy) or straight to its processes (Serve). */
  setMode(rev: RevisionRef, mode: Mode): Promise<void>;
  /** The base URL of the revision's public path; the probe goes to `<url>/healthz`. */
  activatorUrl(rev: RevisionRef): string;
}

/** Options of {@link LocalActuator}. */
export interface LocalActuatorOptions {
  readonly platform: LocalPlatform;
  /** Timing of the activator-in-path probe; default Knative's (1 s period, 45 s limit). */
  readonly probe?: ActivatorProbeOptions;
}

/**
 * Drives the one-machine platform. `numActivators` is ignored: one machine runs one activator, so there
 * is no subset to choose.
 */
export class LocalActuator implements Actuator {
  private readonly platform: LocalPlatform;
  private readonly probe: ActivatorProbeOptions;

  constructor(options: LocalActuatorOptions) {
    const platform = options?.platform;
    if (
      !platform ||
      typeof platform.setDesiredPods !== 'function' ||
      typeof platform.setMode !== 'function' ||
      typeof platform.activatorUrl !== 'function'
    ) {
      throw new TypeError('LocalActuator option platform must implement LocalPlatform');
    }
    this.platform = platform;
    this.probe = options.probe ?? {};
  }

  /** Hands the desired count to the platform. */
  scale(rev: RevisionRef, desiredPods: number): Promise<void> {
    if (!(Number.isSafeInteger(desiredPods) && desiredPods >= 0)) {
      return Promise.reject(new RangeError(`desiredPods must be a non-negative integer, got ${desiredPods}`));
    }
    return this.platform.setDesiredPods(rev, desiredPods);
  }

  /** Hands the mode to the platform. */
  setMode(rev: RevisionRef, mode: Mode, _numActivators: number): Promise<void> {
    return this.platform.setMode(rev, mode);
  }

  /**
   * Probes the revision's public path until the activator answers, as Knative's scaler does before
   * scaling to zero: the platform's routing switch may lag the call that asked for it.
   */
  activatorInPath(rev: RevisionRef): Promise<boolean> {
    return probeActivatorInPath(this.platform.activatorUrl(rev), this.probe);
  }
}
