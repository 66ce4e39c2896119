/**
 * The queue-proxy's request path, in the order docs/queue-proxy.md §3.1 gives; the code marks each stage
 * with its number where it happens:
 *
 * 1. probes: a health check (`kube-probe/…` and Knative's probe agents), on any path, never proxied;
 * 2. the network probe (`K-Network-Probe: probe`);
 * 3. drain touch: a proxied request restarts the drain's quiet period (docs/queue-proxy.md §7.1);
 * 4. stats in: counted for the autoscaler (docs/queue-proxy.md §8.1);
 * 5. breaker: admitted, queued or refused 503 (docs/queue-proxy.md §3.2);
 * 6. forward: over h2c when the request came over HTTP/2, else the HTTP/1.1 pool, or the bypass pool
 *    for a `K-Kubelet-Probe` request (which skips stats, breaker and metrics) (docs/queue-proxy.md §3.3);
 * 7. timeouts: the revision, response-start and idle timeouts (docs/queue-proxy.md §5), armed at
 *    arrival so the breaker's queue counts, govern until the response ended ({@link ProxyExchange});
 * 8. stats out, metrics and the request log, once, when the response is over (docs/queue-proxy.md §8).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Drainer,
  type ErrorSource,
  type ExchangeTimeouts,
  isProbeAgent,
  originForm,
  ProxyExchange,
  plainAddress,
  type RequestFacts,
  readFacts,
} from '@zerogate/core';
import type { Dispatcher } from 'undici';
import type { HealthResponder } from './health.js';
import { type AdmissionContext, NOT_SENT_HEADERS, QueueAdmission } from './queue-admission.js';
import { upstreamHeaders } from './request-head.js';

/** Everything the request path shares; built once at start. */
export interface ProxyContext extends AdmissionContext {
  /** HTTP/1.1 keep-alive pool to the user container, as many connections as CC allows; made on first use. */
  readonly pool: () => Dispatcher;
  /**
   * The HTTP/1.1 dispatcher of requests outside the breaker (`K-Kubelet-Probe`), made on first use: the
   * CC-sized pool may have every connection busy, and these must reach the app at once, as in Knative.
   */
  readonly bypass: () => Dispatcher;
  /** h2c client to the user container, for requests that arrived over HTTP/2 (protocol kept hop by hop). */
  readonly h2c: () => Dispatcher;
  readonly drainer: Drainer;
  readonly health: HealthResponder;
  readonly timeouts: ExchangeTimeouts;
}

/**
 * The serving port's request handler (docs/queue-proxy.md §3.1): stages 1–3 of this file's list, then a
 * {@link QueueExchange} for the rest.
 */
export class ProxyHandler {
  constructor(private readonly ctx: ProxyContext) {}

  /** Handles one request; suitable as a `request` listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const facts = readFacts(req.rawHeaders);
    // 1. probes
    if (isProbeAgent(facts.userAgent)) {
      this.ctx.health.healthCheck(facts, res);
      return;
    }
    // 2. network probe
    if (facts.networkProbe === 'probe') {
      this.ctx.health.networkProbe(facts, res);
      return;
    }
    // 3. drain touch
    const now = Date.now();
    this.ctx.drainer.touch(now);
    // 4–8: `begin` arms the timeouts (7), then asks `admit` (5).
    new QueueExchange(this.ctx, req, res, facts, now, !facts.kubeletProbeHeader).begin();
  };
}

/**
 * One request through the queue-proxy on node:http and undici, stages 4–8 of this file's list: its
 * {@link QueueAdmission} counts and admits it, then {@link ProxyExchange} relays it to the user container
 * and runs the timeouts.
 */
class QueueExchange extends ProxyExchange {
  private readonly admission: QueueAdmission;

  constructor(
    private readonly ctx: ProxyContext,
    req: IncomingMessage,
    res: ServerResponse,
    facts: RequestFacts,
    arrivedAt: number,
    /** False for kubelet-probe-looking requests, which skip stats, the breaker and metrics. */
    counted: boolean,
  ) {
    super(req, res, ctx.timeouts, ctx.logger, arrivedAt);
    // 4. stats in
    this.admission = new QueueAdmission(ctx, facts, counted, req.rawHeaders, req);
  }

  protected override get errorSource(): ErrorSource {
    return 'queue-proxy';
  }

  /** `Server-Timing: queue;dur=…` for a request that waited for a breaker slot (docs/queue-proxy.md). */
  protected override responseTiming(): string | undefined {
    return this.admission.responseStarts();
  }

  /** 5. breaker */
  protected admit(): void {
    if (!this.admission.admit(() => this.send())) {
      this.logger.warn({ path: this.req.url }, 'pending request queue full');
      this.fail('QUEUE_FULL');
    }
  }

  /** 6. forward */
  private send(): void {
    if (this.isOver) {
      // Admitted after the request already ended (client gone or timed out): hand the slot on.
      this.admission.release();
      return;
    }
    const { req } = this;
    const http2 = this.isHttp2;
    const headers = upstreamHeaders(req.rawHeaders, plainAddress(req.socket.remoteAddress), false, http2);
    if (this.admission.trace !== undefined) this.admission.injectTrace(headers);
    this.forward(this.upstream(http2), {
      path: originForm(req.url ?? '/'),
      method: req.method ?? 'GET',
      headers,
      body: this.hasBody(this.admission.facts.hasBody) ? req : null,
      // The exchange's own timers govern; undici's defaults (300 s) would cut long requests.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** h2c for a request that came over HTTP/2, else the HTTP/1.1 pool, or the bypass for `K-Kubelet-Probe`. */
  private upstream(http2: boolean): Dispatcher {
    if (http2) return this.ctx.h2c();
    return this.admission.counted ? this.ctx.pool() : this.ctx.bypass();
  }

  protected override upstreamFailed(err: Error, sent: boolean): void {
    const outcome = this.admission.afterFailure(err, sent, this.req.method ?? '', this.req.url, this.isHttp2);
    // A resend whose app is gone is refused on its fresh connection and answered as never sent.
    if (outcome === 'resend') this.resendAfter(this.admission.resendDelayMs);
    else if (outcome === 'not-sent') this.fail('REQUEST_NOT_SENT', NOT_SENT_HEADERS);
    else super.upstreamFailed(err, sent);
  }

  /** Sends the request again after `ms`, unless it ended meanwhile (its client left, a timeout fired). */
  private resendAfter(ms: number): void {
    if (ms === 0) {
      this.send();
      return;
    }
    setTimeout(() => {
      if (!this.isOver) this.send();
    }, ms).unref();
  }

  /** 8. stats out, metrics, request log: once, however the exchange ended. */
  protected ended(completed: boolean): void {
    const status = completed || this.timedOut ? this.res.statusCode : 499;
    this.admission.end(this.req, this.arrivedAt, status, this.responseLength);
  }
}
