import type { ServerResponse } from 'node:http';
import {
  answerHealthCheck,
  answerNetworkProbe,
  type Drainer,
  type Logger,
  type RequestFacts,
  refuseHealthCheck,
  sendError,
} from '@zerogate/core';

/** Something that tells whether the user container is ready (the readiness prober). */
export interface ReadinessCheck {
  check(): Promise<boolean>;
}

/**
 * Answers the probes the queue-proxy handles itself, on any path (docs/queue-proxy.md §4.1, §4.3): health
 * checks from the kubelet, activator and autoscaler, and `K-Network-Probe: probe` with its hash echoed.
 */
export class HealthResponder {
  constructor(
    private readonly drainer: Drainer,
    private readonly readiness: ReadinessCheck,
    private readonly logger: Logger,
    private readonly logProbes: boolean,
  ) {}

  /** A health check: 503 while draining; 400 unless `K-Network-Probe: queue`; else 200 `queue` iff ready. */
  healthCheck(facts: RequestFacts, res: ServerResponse): void {
    if (refuseHealthCheck(facts, res, this.drainer.draining)) return;
    this.readiness.check().then(
      (ready) => {
        if (this.logProbes) this.logger.info({ userAgent: facts.userAgent, ready }, 'probe');
        answerHealthCheck(res, ready, this.drainer.draining);
      },
      (err: unknown) => {
        this.logger.error({ err }, 'readiness check failed');
        if (!res.destroyed && !res.headersSent) sendError(res, 'INTERNAL');
      },
    );
  }

  /** `K-Network-Probe: probe`: echoes `K-Network-Hash` with 200; 400 without one; 503 while draining. */
  networkProbe(facts: RequestFacts, res: ServerResponse): void {
    answerNetworkProbe(facts, res, this.drainer.draining);
  }
}
