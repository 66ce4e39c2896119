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
  type Breaker,
  BreakerSlot,
  type Drainer,
  type ExchangeTimeouts,
  H,
  isProbeAgent,
  type Logger,
  originForm,
  ProxyExchange,
  plainAddress,
  type RequestFacts,
  type RequestStats,
  readFacts,
  recordRequestEnd,
} from '@zerogate/core';
import type { RequestMetrics } from '@zerogate/core/request-metrics';
import type { Dispatcher } from 'undici';
import type { HealthResponder } from './health.js';
import { upstreamHeaders } from './request-head.js';

/** Everything the request path shares; built once at start. */
export interface ProxyContext {
  /** HTTP/1.1 keep-alive pool to the user container, as many connections as CC allows. */
  readonly pool: Dispatcher;
  /**
   * The HTTP/1.1 dispatcher of requests outside the breaker (`K-Kubelet-Probe`), made on first use: the
   * CC-sized pool may have every connection busy, and these must reach the app at once, as in Knative.
   */
  readonly bypass: () => Dispatcher;
  /** h2c client to the user container, for requests that arrived over HTTP/2 (protocol kept hop by hop). */
  readonly h2c: () => Dispatcher;
  readonly breaker: Breaker | undefined;
  readonly stats: RequestStats;
  readonly drainer: Drainer;
  readonly health: HealthResponder;
  readonly metrics: RequestMetrics | undefined;
  readonly logger: Logger;
  readonly requestLog: boolean;
  readonly timeouts: ExchangeTimeouts;
}

/**
 * The answer to a request the app refused the connection for (nothing was sent): 503, retry later, and
 * the marker that tells our activator and ingress to send it to another Pod (docs/wire.md §1).
 */
const NOT_SENT_HEADERS = { 'retry-after': '1', [H.requestNotSent]: 'app-refused' };

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

/** Methods a proxy may send again when their connection broke (RFC 9110 §9.2.1). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * One request through the queue-proxy, stages 4–8 of this file's list: counted in the stats, admitted by
 * the breaker, then relayed to the user container by {@link ProxyExchange}, which also runs the
 * timeouts. Kubelet-probe-looking requests skip stats and breaker.
 */
class QueueExchange extends ProxyExchange {
  private slot: BreakerSlot | undefined;
  /** Sent once more after its connection died before any answer ({@link repeatable}). */
  private resent = false;

  constructor(
    private readonly ctx: ProxyContext,
    req: IncomingMessage,
    res: ServerResponse,
    private readonly facts: RequestFacts,
    arrivedAt: number,
    /** False for kubelet-probe-looking requests, which skip stats, the breaker and metrics. */
    private readonly counted: boolean,
  ) {
    super(req, res, ctx.timeouts, ctx.logger, arrivedAt);
    // 4. stats in
    if (counted) ctx.stats.requestIn(facts.proxied);
  }

  /** 5. breaker */
  protected admit(): void {
    const breaker = this.counted ? this.ctx.breaker : undefined;
    if (breaker === undefined) {
      this.send();
      return;
    }
    this.slot = new BreakerSlot(breaker);
    if (!this.slot.acquire(() => this.send())) {
      this.logger.warn({ path: this.req.url }, 'pending request queue full');
      this.fail('QUEUE_FULL');
    }
  }

  /** 6. forward */
  private send(): void {
    if (this.isOver) {
      // Admitted after the request already ended (client gone or timed out): hand the slot on.
      this.slot?.release();
      return;
    }
    const { req } = this;
    const http2 = this.isHttp2;
    this.forward(this.upstream(http2), {
      path: originForm(req.url ?? '/'),
      method: req.method ?? 'GET',
      headers: upstreamHeaders(req.rawHeaders, plainAddress(req.socket.remoteAddress), false, http2),
      body: this.hasBody(this.facts.hasBody) ? req : null,
      // The exchange's own timers govern; undici's defaults (300 s) would cut long requests.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** h2c for a request that came over HTTP/2, else the HTTP/1.1 pool, or the bypass for `K-Kubelet-Probe`. */
  private upstream(http2: boolean): Dispatcher {
    if (http2) return this.ctx.h2c();
    return this.counted ? this.ctx.pool : this.ctx.bypass();
  }

  protected override upstreamFailed(err: Error, sent: boolean): void {
    if (sent && !this.resent && this.repeatable(err)) {
      // A kept-alive connection the app closed or died on as the request arrived: a safe request without
      // body goes once more on a fresh connection, as Go's transport does (RFC 9110 §9.2.2). If the app
      // is gone, that connection is refused and the request is answered as never sent.
      this.resent = true;
      this.send();
      return;
    }
    if (sent) {
      super.upstreamFailed(err, sent);
      return;
    }
    // The app never saw it: the sender may send it elsewhere, and this Pod stops looking ready.
    this.logger.warn({ err, path: this.req.url }, 'the app refused the connection; request not sent');
    this.ctx.health.appRefused();
    this.fail('REQUEST_NOT_SENT', NOT_SENT_HEADERS);
  }
  /**
   * Whether a request whose connection broke before any answer may go again: a safe method, no body, over
   * HTTP/1.1 (an h2c stream error says nothing of a dead connection), and a reset or close, not a timeout.
   */
  private repeatable(err: Error): boolean {
    if (this.isHttp2 || this.facts.hasBody || !SAFE_METHODS.has(this.req.method ?? '')) return false;
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
  }

  /** 8. stats out, metrics, request log: once, however the exchange ended. */
  protected ended(completed: boolean): void {
    const { ctx, res } = this;
    this.slot?.release();
    if (!this.counted) return;
    recordRequestEnd(
      ctx,
      this.req,
      this.facts.proxied,
      this.arrivedAt,
      completed || this.timedOut ? res.statusCode : 499,
    );
  }
}
