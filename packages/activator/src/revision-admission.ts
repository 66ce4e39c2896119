/**
 * What a proxied request holds in the activator, whichever path relays it (node:http and undici, or the
 * raw relay): stages 4, 5 and 8 of activator-handler.ts's list, and what a failed attempt does to its Pod.
 */
import {
  type AttributeValue,
  type ErrorCode,
  type LoggedRequest,
  type Logger,
  type RequestTrace,
  rawHeader,
  SPAN_CLIENT,
  SPAN_INTERNAL,
  type Span,
  type Tracer,
  timingDuration,
} from '@zerogate/core';
import type { ActivatorMetrics } from './activator-metrics.js';
import type { ActivatorRequestLog } from './activator-request-log.js';
import type { HeldRequest } from './held-queue.js';
import { type FailingListener, REVISION_FAILING_HEADERS } from './revision-health.js';
import type { Revision } from './revisions.js';
import type { PodSlot } from './throttler.js';

/** Where the activator reports request arrivals and departures (the autoscaler's stat reporter). */
export interface ConcurrencySink {
  /** Counts a request in; true when this sent the autoscaler a poke (the revision's first request). */
  requestIn(namespace: string, name: string): boolean;
  requestOut(namespace: string, name: string): void;
  readonly everConnected: boolean;
}

/** What admission shares; built once at start. */
export interface AdmissionContext {
  readonly reporter: ConcurrencySink;
  readonly metrics: ActivatorMetrics | undefined;
  readonly logger: Logger;
  /** Tracing, when it is on (docs/tracing.md); left out, the request path checks it once and does nothing. */
  readonly tracing?: Tracer | undefined;
  /** The request log `config-observability` may turn on (docs/activator.md §7). */
  readonly requestLog?: ActivatorRequestLog | undefined;
}

/**
 * How many times a request that never reached an app is sent again, each time to a Pod that has not
 * refused it yet (a refusing Pod leaves until a probe finds it healthy).
 */
export const MAX_RETRIES = 3;

/** Seconds a client is told to wait after the activator refused to hold its request. */
export const RETRY_AFTER_SECONDS = '1';

const OVERLOADED_HEADERS = Object.freeze({ 'retry-after': RETRY_AFTER_SECONDS });

/** An exchange's coded error answer (its `fail`). */
export type ExchangeFail = (code: ErrorCode, headers?: Record<string, string>, detail?: string) => void;

/** How a request waited in the activator: not at all, at zero (`hold`), or for room (`throttle`). */
const NOT_HELD = 0;
const HOLD = 1;
const THROTTLE = 2;

/**
 * One request's place in its revision: reported to the autoscaler from arrival (4; held ones count, so a
 * revision at zero is woken at once), held until the revision's throttler grants a Pod (5), the Pod's
 * slot released, reported out and measured at the end (8).
 */
export class RevisionAdmission {
  private pod: PodSlot | null = null;
  private held: HeldRequest<PodSlot> | null = null;
  private attempts = 0;
  /** The autoscaler was poked for this request (the `hold` span says so). */
  private readonly poked: boolean;
  /**
   * The request's trace, when tracing is on and the request is sampled (docs/tracing.md): a `hold` span
   * (no Pod yet) or `throttle` span (no Pod with room) while it waits, a `proxy` span per attempt at a Pod.
   */
  private trace: RequestTrace | undefined;
  private waitSpan: Span | undefined;
  private proxySpan: Span | undefined;
  /**
   * How it waited ({@link NOT_HELD}, {@link HOLD}, {@link THROTTLE}), for its `Server-Timing` and the
   * cold-start metrics: the only field a request that never waited reads. Times are `performance.now()` ms.
   */
  private waited = NOT_HELD;
  /** When it was first held. */
  private firstHeldAt = 0;
  /** When it was held last (0 while not held). */
  private heldAt = 0;
  /** Milliseconds held, over every attempt. */
  private waitMs = 0;
  /** When its last attempt left for a Pod. */
  private sentAt = 0;

  constructor(
    private readonly ctx: AdmissionContext,
    readonly revision: Revision,
  ) {
    this.poked = ctx.reporter.requestIn(revision.namespace, revision.name);
  }

  /**
   * 5. held until a Pod has room: `send` runs with the Pod now or once one frees; `bytes` is what the
   * request's body may hold in memory while waiting, `rawHeaders` place it by the revision's key and
   * priority headers. Refused with `fail` (`ACTIVATOR_OVERLOADED`) at a hold limit, now or later when a
   * fairer claim to the caps pushes it out; `listener` hears if the revision turns out failing meanwhile.
   */
  admit(
    listener: FailingListener,
    send: (pod: PodSlot) => void,
    bytes: number,
    rawHeaders: readonly string[],
    fail: ExchangeFail,
  ): void {
    this.revision.health.hold(listener);
    if (!this.acquire(send, bytes, rawHeaders, () => fail('ACTIVATOR_OVERLOADED', OVERLOADED_HEADERS))) {
      fail('ACTIVATOR_OVERLOADED', OVERLOADED_HEADERS);
    }
  }

  /** A held request of a revision found failing is refused at once (docs/activator.md §10.1). */
  refuseFailing(detail: string, fail: ExchangeFail): void {
    this.ctx.logger.warn({ revision: this.revision.name }, 'revision failing: held request refused');
    fail('REVISION_FAILING', REVISION_FAILING_HEADERS, detail);
  }

  /**
   * Asks the throttler for a Pod: `send` runs with the Pod now or once one frees; false when the hold
   * limit is reached (send never runs; the caller answers `ACTIVATOR_OVERLOADED`). `bytes`: the body
   * bytes the request may hold in memory while waiting; `rawHeaders` place it by the revision's key and
   * priority headers. A held request pushed out later by a fairer claim to the caps gets `refused` instead.
   */
  private acquire(
    send: (pod: PodSlot) => void,
    bytes: number,
    rawHeaders: readonly string[],
    refused: () => void,
  ): boolean {
    const { revision } = this;
    const retry = this.attempts > 0;
    // Tracing's one check when it is off.
    if (this.ctx.tracing !== undefined && !retry) this.trace = this.ctx.tracing.start(rawHeaders);
    const result = revision.throttler.acquire(
      (pod) => {
        this.held = null;
        this.ctx.logger.debug({ revision: revision.name, pod: pod.address }, 'held request forwarded');
        send(pod);
      },
      bytes,
      retry,
      retry ? undefined : revision.throttler.placeOf((name) => rawHeader(rawHeaders, name)),
      () => {
        this.held = null;
        this.holdLimitReached('pushed out by a revision or key under its fair share');
        refused();
      },
    );
    if (result === 'full') {
      this.holdLimitReached('refused');
      return false;
    }
    if ('address' in result) send(result);
    else {
      this.held = result;
      const now = performance.now();
      if (this.waited === NOT_HELD) {
        this.waited = revision.throttler.podCount === 0 ? HOLD : THROTTLE;
        this.firstHeldAt = now;
      }
      this.heldAt = now;
      this.ctx.logger.debug({ revision: revision.name, namespace: revision.namespace }, 'request held');
      if (this.trace !== undefined) this.beginWait(this.trace);
    }
    return true;
  }

  /** The attributes of every span of the request. */
  private spanAttributes(): Record<string, AttributeValue> {
    return { 'kn.revision.name': this.revision.name, 'k8s.namespace.name': this.revision.namespace };
  }

  /** A traced request is held: at zero (no Pod at all) a `hold` span, else a `throttle` span. */
  private beginWait(trace: RequestTrace): void {
    const atZero = this.revision.throttler.podCount === 0;
    const attributes = this.spanAttributes();
    if (atZero) attributes['kn.activator.poked'] = this.poked;
    this.waitSpan = trace.begin(atZero ? 'hold' : 'throttle', SPAN_INTERNAL, attributes);
  }

  /**
   * Writes the `proxy` span as the parent in the headers forwarded to the Pod, so the queue-proxy's spans
   * are its children; only a traced request's (the others' trace headers pass as they came).
   */
  injectTrace(headers: string[]): void {
    if (this.trace !== undefined && this.proxySpan !== undefined) this.trace.inject(headers, this.proxySpan);
  }

  /** Whether this request is traced (its forwarded headers need {@link injectTrace}). */
  get traced(): boolean {
    return this.trace !== undefined;
  }

  private holdLimitReached(what: string): void {
    const { revision } = this;
    this.ctx.logger.warn(
      { revision: revision.name, namespace: revision.namespace, outcome: what },
      'activator hold limit reached',
    );
  }

  /** The request goes to `pod` now; false when it already ended (the slot was handed back). */
  sending(pod: PodSlot, over: boolean): boolean {
    if (over) {
      this.revision.throttler.release(pod);
      return false;
    }
    this.pod = pod;
    this.attempts++;
    if (this.waited !== NOT_HELD) {
      const now = performance.now();
      if (this.heldAt !== 0) this.waitMs += now - this.heldAt;
      this.heldAt = 0;
      this.sentAt = now;
    }
    const trace = this.trace;
    if (trace !== undefined) {
      if (this.waitSpan !== undefined) trace.end(this.waitSpan, 0);
      this.waitSpan = undefined;
      this.proxySpan = trace.begin('proxy', SPAN_CLIENT, {
        ...this.spanAttributes(),
        'server.address': pod.address,
        'kn.activator.attempt': this.attempts,
      });
    }
    return true;
  }

  /**
   * An attempt failed before the response started: the Pod loses its slots at once and is probed again
   * before it gets more traffic. True when the request never reached an app and should be tried again,
   * at most {@link MAX_RETRIES} times (the refusing Pod left the throttler, so the retry goes elsewhere
   * or waits, bounded by the revision's timeout like any held request); past that the caller answers
   * `503` with `Retry-After`.
   */
  failed(err: Error, sent: boolean): boolean {
    const pod = this.pod;
    this.pod = null;
    if (this.trace !== undefined && this.proxySpan !== undefined) {
      this.trace.end(this.proxySpan, 0, err.message);
      this.proxySpan = undefined;
    }
    if (pod) {
      this.revision.backends.reportFailure(pod.address);
      this.revision.throttler.release(pod);
    }
    if (sent || this.attempts > MAX_RETRIES) return false;
    this.ctx.logger.warn(
      { err, pod: pod?.address, revision: this.revision.name },
      'request did not reach the app; trying another pod',
    );
    return true;
  }

  /**
   * The response from the Pod starts: for a request that waited, its cold start is measured (held at
   * zero) and its `Server-Timing` value returned (`hold` or `throttle`, then `proxy`, to the first byte),
   * unless the revision turned it off; undefined for a request that never waited, after one comparison.
   */
  responseTiming(): string | undefined {
    if (this.waited === NOT_HELD) return undefined;
    const proxyMs = performance.now() - this.sentAt;
    const { revision } = this;
    if (this.waited === HOLD) {
      // The hold until the revision's Pods appeared, the probe from then until one was usable.
      const seen = Math.min(Math.max(revision.backends.podsSeenAt, this.firstHeldAt), this.sentAt);
      this.ctx.metrics?.coldStart(revision, seen - this.firstHeldAt, this.sentAt - seen, proxyMs);
    }
    if (!revision.serverTiming) return undefined;
    const wait = this.waited === HOLD ? 'hold;dur=' : 'throttle;dur=';
    return `${wait}${timingDuration(this.waitMs)}, proxy;dur=${timingDuration(proxyMs)}`;
  }

  /**
   * 8. the Pod's slot released, reported out, measured and logged: once, however the exchange ended;
   * `size` is the response body's length.
   */
  end(status: number, arrivedAt: number, request: LoggedRequest, size: number): void {
    const { revision } = this;
    const trace = this.trace;
    if (trace !== undefined) {
      const error = status === 499 ? 'client closed the request' : undefined;
      if (this.waitSpan !== undefined) trace.end(this.waitSpan, status, error ?? 'ended while held');
      if (this.proxySpan !== undefined) trace.end(this.proxySpan, status, error);
    }
    if (this.held) {
      revision.throttler.cancel(this.held);
      this.held = null;
    }
    if (this.pod) {
      revision.throttler.release(this.pod);
      this.pod = null;
    }
    this.ctx.reporter.requestOut(revision.namespace, revision.name);
    const seconds = (Date.now() - arrivedAt) / 1000;
    this.ctx.metrics?.observe(revision, status, seconds);
    this.ctx.requestLog?.write(request, revision, status, size, seconds);
  }
}
