import type { Drainer } from './drainer.js';
import type { Logger } from './logger.js';

/**
 * Knative's `/wait-for-drain` resets the drain when no SIGTERM follows within this time (#13229): the
 * preStop hook also runs when the kubelet restarts the user container (liveness), and then the Pod must
 * become ready again instead of staying drained.
 */
export const KNATIVE_DRAIN_RESET_MS = 1000;

/** What {@link WaitForDrain} needs besides the drainer. */
export interface WaitForDrainOptions {
  /**
   * The queue-proxy runs as a native sidecar (an init container with `restartPolicy: Always`), which the
   * kubelet signals only after every app container has exited.
   */
  readonly nativeSidecar: boolean;
  /**
   * Native sidecar only: how long after a drain completed a SIGTERM may take to arrive before the drain is
   * taken for an app container restart and reset.
   */
  readonly sigtermWaitMs: number;
  /**
   * Native sidecar only: whether requests or upgraded connections (websockets) are still open through the
   * queue-proxy. The app is then still serving them while its Pod terminates (a restarted app container
   * would have broken them), so the wait for SIGTERM starts again instead of the drain being reset.
   */
  readonly busy?: () => boolean;
  readonly logger: Logger;
}

/**
 * The admin port's `/wait-for-drain` (every user container's preStop hook) and the SIGTERM of the
 * queue-proxy, tied to one {@link Drainer}.
 *
 * Knative's queue-proxy is an ordinary container: the kubelet sends it SIGTERM while the preStop hook
 * runs, both join one drain, and a hook that no SIGTERM follows within 1 s is an app restart, so the drain
 * is reset (`cmd/queue/main.go` adminHandler, #13229).
 *
 * A native sidecar gets SIGTERM only after the app containers have exited, so that test would end every
 * drain after 1 s. Instead the hook starts the drain itself and returns once it completed (probes fail at
 * once, requests are served until the quiet period passes with none). The kubelet then stops the app
 * containers and signals the sidecar as soon as the last has exited; when no SIGTERM came within
 * `sigtermWaitMs` of the drain's end, the app container was restarted rather than the Pod stopped, and the
 * drain is reset so the Pod can become ready again. While requests or websockets are open (`busy`), the app
 * is still finishing them within the Pod's termination grace period, which may last minutes: the wait
 * starts again, and the Pod stays not ready. A SIGTERM after a completed drain stops at once.
 */
export class WaitForDrain {
  private terminating = false;
  private resetTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly drainer: Drainer,
    private readonly options: WaitForDrainOptions,
  ) {}

  /** Serves one `/wait-for-drain`: resolves when the hook may return (200). */
  request(): Promise<void> {
    return this.options.nativeSidecar ? this.nativeRequest() : this.knativeRequest();
  }

  /** SIGTERM: cancels any pending reset and resolves once drained (at once after a completed drain). */
  terminate(): Promise<void> {
    this.terminating = true;
    clearTimeout(this.resetTimer);
    this.resetTimer = undefined;
    return this.drainer.drain();
  }

  private knativeRequest(): Promise<void> {
    const reset = setTimeout(() => {
      // No SIGTERM followed: the user container is restarting (liveness), not the Pod stopping.
      if (!this.terminating) this.drainer.reset();
    }, KNATIVE_DRAIN_RESET_MS);
    return this.drainer.drain().then(() => clearTimeout(reset));
  }

  private async nativeRequest(): Promise<void> {
    await this.drainer.drain();
    if (this.terminating || !this.drainer.drained) return;
    // Each answered hook restarts the wait: SIGTERM follows the exit of the last app container.
    clearTimeout(this.resetTimer);
    this.resetTimer = setTimeout(() => this.restarted(), this.options.sigtermWaitMs);
    this.options.logger.info(
      { sigtermWaitSeconds: this.options.sigtermWaitMs / 1000 },
      'drained; the user container may stop',
    );
  }

  private restarted(): void {
    this.resetTimer = undefined;
    if (this.terminating) return;
    if (this.options.busy?.()) {
      this.resetTimer = setTimeout(() => this.restarted(), this.options.sigtermWaitMs);
      return;
    }
    this.options.logger.info(
      { sigtermWaitSeconds: this.options.sigtermWaitMs / 1000 },
      'no SIGTERM after the drain: the user container restarted; drain reset',
    );
    this.drainer.reset();
  }
}
