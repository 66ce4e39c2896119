/**
 * The queue-proxy's request path on the raw HTTP/1.1 relay (docs/queue-proxy.md §3.5): the same stages
 * as proxy-handler.ts's list, for plain HTTP/1.1 requests; probes, gRPC and everything the relay does not
 * take stay on node:http through {@link ProxyHandler}.
 */
import {
  type Drainer,
  type ErrorSource,
  type ExchangeTimeouts,
  isGrpcRequest,
  isProbeAgent,
  type RelayClient,
  RelayExchange,
  type RelayRequest,
  type RelayRoute,
  type RequestFacts,
  readFacts,
  type UpstreamConnections,
} from '@zerogate/core';
import type { HealthResponder } from './health.js';
import { type AdmissionContext, NOT_SENT_HEADERS, QueueAdmission } from './queue-admission.js';
import { upstreamHeaders } from './request-head.js';

/** Everything the relayed request path shares; built once at start. */
export interface QueueRelayContext extends AdmissionContext {
  /** Keep-alive connections to the user container. */
  readonly connections: UpstreamConnections;
  readonly drainer: Drainer;
  readonly health: HealthResponder;
  readonly timeouts: ExchangeTimeouts;
}

/** Takes the plain HTTP/1.1 requests the queue-proxy relays raw: stages 1–3, then a {@link QueueRelayExchange}. */
export class QueueRelayRoute implements RelayRoute {
  constructor(private readonly ctx: QueueRelayContext) {}

  take(client: RelayClient, request: RelayRequest): RelayExchange | undefined {
    const facts = readFacts(request.head.rawHeaders);
    // 1–2. probes are answered by the health responder on node:http; gRPC-over-HTTP/1.1 needs its
    // trailers-only error answers.
    if (isProbeAgent(facts.userAgent) || facts.networkProbe === 'probe' || isGrpcRequest(facts.contentType))
      return undefined;
    // 3. drain touch
    const now = Date.now();
    this.ctx.drainer.touch(now);
    return new QueueRelayExchange(this.ctx, client, request, facts, now, !facts.kubeletProbeHeader);
  }
}

/**
 * One relayed request through the queue-proxy, stages 4–8: its {@link QueueAdmission} counts and admits
 * it, then {@link RelayExchange} moves it to the user container and runs the timeouts.
 */
class QueueRelayExchange extends RelayExchange {
  private readonly admission: QueueAdmission;

  constructor(
    private readonly ctx: QueueRelayContext,
    client: RelayClient,
    request: RelayRequest,
    facts: RequestFacts,
    arrivedAt: number,
    counted: boolean,
  ) {
    super(client, request, ctx.timeouts, ctx.logger, arrivedAt);
    // 4. stats in
    this.admission = new QueueAdmission(ctx, facts, counted, request.head.rawHeaders);
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
    if (!this.admission.admit(() => this.send(false))) {
      this.logger.warn({ path: this.url }, 'pending request queue full');
      this.fail('QUEUE_FULL');
    }
  }

  /** 6. forward; `fresh` for the one resend after a kept-alive connection broke. */
  private send(fresh: boolean): void {
    if (this.isOver) {
      // Admitted after the request already ended (client gone or timed out): hand the slot on.
      this.admission.release();
      return;
    }
    const { head, peer } = this.request;
    const headers = upstreamHeaders(head.rawHeaders, peer);
    if (this.admission.trace !== undefined) this.admission.injectTrace(headers);
    this.forward(this.ctx.connections, headers, fresh);
  }

  protected override upstreamFailed(err: Error, sent: boolean): void {
    const outcome = this.admission.afterFailure(err, sent, this.method, this.url, false);
    // A resend whose app is gone is refused on its fresh connection and answered as never sent.
    if (outcome === 'resend') this.resendAfter(this.admission.resendDelayMs);
    else if (outcome === 'not-sent') this.fail('REQUEST_NOT_SENT', NOT_SENT_HEADERS);
    else super.upstreamFailed(err, sent);
  }

  /** Sends the request again after `ms`, unless it ended meanwhile (its client left, a timeout fired). */
  private resendAfter(ms: number): void {
    if (ms === 0) {
      this.send(true);
      return;
    }
    setTimeout(() => {
      if (!this.isOver) this.send(true);
    }, ms).unref();
  }

  /** 8. stats out, metrics, request log: once, however the exchange ended. */
  protected ended(completed: boolean): void {
    this.admission.end(
      this,
      this.arrivedAt,
      completed || this.timedOut ? this.status : 499,
      this.responseLength,
    );
  }
}
