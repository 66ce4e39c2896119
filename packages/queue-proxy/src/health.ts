import type { ServerResponse } from 'node:http';
import {
  answerHealthCheck,
  answerNetworkProbe,
  type Drainer,
  type Logger,
  type RequestFacts,
  type RequestLog,
  refuseHealthCheck,
  sendProbeError,
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
  /** The app refused a connection: health checks fail at once until a readiness check passes again. */
  private refused = false;
  private rechecking = false;

  constructor(
    private readonly drainer: Drainer,
    private readonly readiness: ReadinessCheck,
    private readonly logger: Logger,
    private readonly logProbes: boolean,
    /** Knative's templated request log: with {@link logProbes}, each probe answered is a line of it. */
    private readonly templatedLog?: RequestLog,
  ) {}

  /** A health check: 503 while draining; 400 unless `K-Network-Probe: queue`; else 200 `queue` iff ready. */
  healthCheck(facts: RequestFacts, res: ServerResponse): void {
    if (this.templatedLog && this.logProbes) this.logWhenAnswered(res);
    if (refuseHealthCheck(facts, res, this.drainer.draining)) return;
    if (this.refused) {
      // Not ready at once, not after a probe's polling: the kubelet and the activator stop sending now.
      this.recheck();
      sendProbeError(res, 'NOT_READY');
      return;
    }
    this.readiness.check().then(
      (ready) => {
        if (this.logProbes && !this.templatedLog)
          this.logger.info({ userAgent: facts.userAgent, ready }, 'probe');
        answerHealthCheck(res, ready, this.drainer.draining);
      },
      (err: unknown) => {
        this.logger.error({ err }, 'readiness check failed');
        if (!res.destroyed && !res.headersSent) sendProbeError(res, 'INTERNAL');
      },
    );
  }

  /**
   * The app refused a connection (docs/queue-proxy.md §4.1): health checks answer 503 until the app
   * passes its readiness probe again, which starts now.
   */
  appRefused(): void {
    if (this.refused) return;
    this.refused = true;
    this.logger.warn('the app refused a connection; not ready until it passes its readiness probe');
    this.recheck();
  }

  /** Runs a readiness check in the background; a pass ends the refusal. */
  private recheck(): void {
    if (this.rechecking) return;
    this.rechecking = true;
    this.readiness.check().then(
      (ready) => {
        this.rechecking = false;
        if (!ready || !this.refused) return;
        this.refused = false;
        this.logger.info('the app passes its readiness probe again');
      },
      () => {
        this.rechecking = false;
      },
    );
  }

  /** `K-Network-Probe: probe`: echoes `K-Network-Hash` with 200; 400 without one; 503 while draining. */
  networkProbe(facts: RequestFacts, res: ServerResponse): void {
    if (this.templatedLog && this.logProbes) this.logWhenAnswered(res);
    answerNetworkProbe(facts, res, this.drainer.draining);
  }

  /**
   * Writes the probe's request log line once its answer is sent, with the body bytes it wrote (counted
   * on `write` and `end`, wrapped only for this response while the probe log is on).
   */
  private logWhenAnswered(res: ServerResponse): void {
    const start = Date.now();
    const log = this.templatedLog!;
    let size = 0;
    const count = (chunk: unknown): void => {
      if (typeof chunk === 'string') size += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) size += chunk.length;
    };
    const { write, end } = res;
    res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      count(chunk);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as ServerResponse['write'];
    res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      count(chunk);
      return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } as ServerResponse['end'];
    res.once('finish', () => {
      log.write(res.req, res.statusCode, size, (Date.now() - start) / 1000);
    });
  }
}
