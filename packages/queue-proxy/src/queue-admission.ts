/**
 * What a proxied request holds in the queue-proxy, whichever path relays it (node:http and undici, or the
 * raw relay): stages 4, 5 and 8 of proxy-handler.ts's list, and the rule for a failed upstream attempt.
 */
import {
  type AttributeValue,
  type Breaker,
  BreakerSlot,
  causedBy,
  H,
  type RequestAccounting,
  type RequestFacts,
  type RequestLine,
  type RequestTrace,
  recordRequestEnd,
  SPAN_CLIENT,
  SPAN_INTERNAL,
  type Span,
  type Tracer,
  timingDuration,
  writeRequestLog,
} from '@zerogate/core';

/** What admission shares; built once at start. */
export interface AdmissionContext extends RequestAccounting {
  readonly breaker: Breaker | undefined;
  /** Told when the app refused a connection, so health checks fail at once. */
  readonly health: { appRefused(): void };
  /** Requests outside the stats (`K-Kubelet-Probe`) are probes: in the request log only with this on. */
  readonly probeRequestLog: boolean;
  /** Tracing, when it is on (docs/tracing.md); undefined, the request path checks it once and does nothing. */
  readonly tracing: QueueTracing | undefined;
  /** A request that waited for a breaker slot gets `Server-Timing: queue;dur=…` (`QUEUE_SERVER_TIMING`). */
  readonly serverTiming: boolean;
  /** Whether the app has answered yet, which paces the resends ({@link AppStart}). */
  readonly appStart: AppStart;
}

/**
 * Until the app first answers a request, an open port does not prove its handler is ready: a connection
 * it breaks before any answer means it is still starting, and a safe request is sent again every
 * {@link STARTING_RESEND_MS} rather than on {@link RESEND_DELAYS_MS}, for {@link STARTING_WINDOW_MS}
 * from the first such break (an app that breaks every connection is not waited for again).
 */
export class AppStart {
  private answered = false;
  private firstBreakAt: number | undefined;

  /** A response from the app started. */
  answer(): void {
    this.answered = true;
  }

  /** A connection broke before any answer: true while the app may still be starting. */
  starting(now: number): boolean {
    if (this.answered) return false;
    this.firstBreakAt ??= now;
    return now - this.firstBreakAt < STARTING_WINDOW_MS;
  }
}

/** The pause between resends while the app is starting: small next to the 50 ms a wake may add. */
export const STARTING_RESEND_MS = 20;
/** How long an app that has never answered is treated as starting, from the first connection it broke. */
export const STARTING_WINDOW_MS = 10_000;

/** The queue-proxy's tracer and the attributes of every span it reports (revision, namespace, Pod). */
export interface QueueTracing {
  readonly tracer: Tracer;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/**
 * The answer to a request the app refused the connection for (nothing was sent): 503, retry later, and
 * the marker that tells our activator and ingress to send it to another Pod (docs/wire.md §1).
 */
export const NOT_SENT_HEADERS = Object.freeze({ 'retry-after': '1', [H.requestNotSent]: 'app-refused' });

/** Methods a proxy may send again when their connection broke (RFC 9110 §9.2.1). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** What to do after an upstream attempt failed before any answer. */
export type FailureOutcome = 'resend' | 'failed' | 'not-sent';

/**
 * The waits before each resend of a safe request whose connection broke before any answer: the first at
 * once (a kept-alive connection the app had just closed), the next ones paced, 1.5 s in all, for an app
 * whose port opened before its handler was ready.
 */
export const RESEND_DELAYS_MS: readonly number[] = [0, 50, 100, 200, 400, 750];

/**
 * One request's place in the queue-proxy: counted in the stats on arrival (4), admitted by the breaker
 * (5), counted out with its metrics and log line at the end (8). Kubelet-probe-looking requests
 * (`counted` false) skip all three.
 */
export class QueueAdmission {
  private slot: BreakerSlot | undefined;
  /** Sent once more after its connection died before any answer, on {@link RESEND_DELAYS_MS}. */
  private resends = 0;
  /** The wait before the resend {@link afterFailure} last allowed. */
  private nextResendMs = 0;
  /** Whether this request was sent yet once while the app was starting (the first goes at once). */
  private resentWhileStarting = false;
  /** When it was handed to the app (ms since the epoch), which the request metrics time from; kept only with them on. */
  private sentAt: number | undefined;

  /** The client's address, read at arrival for the templated request log (node:http may drop the socket by the end). */
  private peer: RequestLine['socket'];

  /**
   * The request's trace, when tracing is on and the request is sampled: the `queue` span (the breaker
   * wait) from arrival, then the `proxy` span (to the app), both children of the caller's span.
   */
  readonly trace: RequestTrace | undefined;
  /** The span running now: `queue`, then `proxy`. */
  private span: Span | undefined;
  /** What went wrong with the attempt to reach the app, for the span. */
  private spanError: string | undefined;

  constructor(
    private readonly ctx: AdmissionContext,
    readonly facts: RequestFacts,
    readonly counted: boolean,
    /** The request's raw headers, where its trace context is. */
    rawHeaders: readonly string[],
    /** A node:http request, whose client address is read now when the templated log is on. */
    req?: RequestLine,
  ) {
    if (counted) ctx.stats.requestIn(facts.proxied);
    if (req && ctx.templatedLog) {
      this.peer = { remoteAddress: req.socket?.remoteAddress, remotePort: req.socket?.remotePort };
    }
    // Tracing's one check when it is off; probes (`counted` false) are never traced, as in Knative.
    const tracing = ctx.tracing;
    if (tracing !== undefined && counted) {
      this.trace = tracing.tracer.start(rawHeaders);
      this.span = this.trace?.begin('queue', SPAN_INTERNAL, { ...tracing.attributes });
    }
  }

  /** 5. breaker: `send` runs now or once a slot frees; false when the queue is full (send never runs). */
  admit(send: () => void): boolean {
    if (this.trace !== undefined) {
      const untraced = send;
      send = () => {
        this.proxying();
        untraced();
      };
    }
    const breaker = this.counted ? this.ctx.breaker : undefined;
    if (breaker === undefined) {
      if (this.ctx.metrics) this.sentAt = Date.now();
      send();
      return true;
    }
    this.slot = new BreakerSlot(breaker);
    return this.slot.acquire(
      this.ctx.metrics
        ? () => {
            this.sentAt = Date.now();
            send();
          }
        : send,
    );
  }

  /** A traced request leaves the breaker: its `queue` span ends and its `proxy` span begins. */
  private proxying(): void {
    const trace = this.trace!;
    if (this.span !== undefined && this.span.name === 'queue') trace.end(this.span, 0);
    this.span = trace.begin('proxy', SPAN_CLIENT, { ...this.ctx.tracing!.attributes });
  }

  /**
   * Writes the `proxy` span as the parent in the headers forwarded to the app; only for a traced
   * request (check {@link trace} first): the others' trace headers pass as they came.
   */
  injectTrace(headers: string[]): void {
    if (this.span !== undefined) this.trace!.inject(headers, this.span);
  }

  /**
   * The app's response starts: the app is answering ({@link AppStart}), and the `Server-Timing` value
   * of a request that waited for a breaker slot (`queue;dur=<ms>`) is returned; undefined for one that
   * did not wait, or with `QUEUE_SERVER_TIMING` off.
   */
  responseStarts(): string | undefined {
    this.ctx.appStart.answer();
    const slot = this.slot;
    if (slot === undefined || slot.waitedMs === 0 || !this.ctx.serverTiming) return undefined;
    return `queue;dur=${timingDuration(slot.waitedMs)}`;
  }

  /** Hands back a slot granted after the request already ended. */
  release(): void {
    this.slot?.release();
  }

  /**
   * Decides what follows an upstream failure: `resend` (after {@link resendDelayMs}) for a request
   * without body over HTTP/1.1 whose connection a starting app ({@link AppStart}) dropped as it connected,
   * every {@link STARTING_RESEND_MS}; else `not-sent` when the app never saw the request (logged, and
   * health checks fail; the caller answers {@link NOT_SENT_HEADERS}, so the sender may send it
   * elsewhere); `resend` for a safe request without body over HTTP/1.1 whose connection broke before any
   * answer: every {@link STARTING_RESEND_MS} while the app is starting; else (the app closed a kept-alive
   * one as the request arrived, as Go's transport resends for) at most {@link RESEND_DELAYS_MS}.length
   * times; else `failed`. RFC 9110 §9.2.2 allows the resends of safe requests.
   */
  afterFailure(
    err: Error,
    sent: boolean,
    method: string,
    path: string | undefined,
    http2: boolean,
  ): FailureOutcome {
    if (this.trace !== undefined) this.spanError = err.message;
    if (!sent) {
      // A starting app whose port is open dropped the connection before it completed: sent again here,
      // whatever the method, rather than back to the sender, which would wait for this Pod's next probe.
      if (!http2 && !this.facts.hasBody && !causedBy(err, 'ECONNREFUSED') && this.startingResend()) {
        return 'resend';
      }
      // The app never saw it: the sender may send it elsewhere, and this Pod stops looking ready.
      this.ctx.logger.warn({ err, path }, 'the app refused the connection; request not sent');
      this.ctx.health.appRefused();
      return 'not-sent';
    }
    if (http2 || this.facts.hasBody || !SAFE_METHODS.has(method)) return 'failed';
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET' && code !== 'EPIPE') return 'failed';
    if (this.startingResend()) return 'resend';
    if (this.resends >= RESEND_DELAYS_MS.length) return 'failed';
    this.nextResendMs = RESEND_DELAYS_MS[this.resends++]!;
    return 'resend';
  }

  /** While the app is starting, allows a resend after {@link STARTING_RESEND_MS} (the first at once). */
  private startingResend(): boolean {
    if (!this.ctx.appStart.starting(Date.now())) return false;
    this.nextResendMs = this.resentWhileStarting ? STARTING_RESEND_MS : 0;
    this.resentWhileStarting = true;
    return true;
  }

  /** How long to wait before the resend {@link afterFailure} just allowed. */
  get resendDelayMs(): number {
    return this.nextResendMs;
  }

  /**
   * 8. stats out, metrics, request log: once, however the exchange ended; `size` is the response body's
   * declared length.
   */
  end(request: RequestLine, arrivedAt: number, status: number, size: number): void {
    const slot = this.slot;
    if (slot !== undefined) {
      slot.release();
      if (slot.waitedMs !== 0) this.ctx.metrics?.observeBreakerWait?.(slot.waitedMs / 1000);
    }
    if (this.trace !== undefined && this.span !== undefined) {
      this.trace.end(this.span, status, status === 499 ? 'client closed the request' : this.spanError);
    }
    const { ctx } = this;
    if (this.peer) {
      const { method, url, rawHeaders, httpVersion } = request;
      request = { method, url, rawHeaders, httpVersion, socket: this.peer };
    }
    if (this.counted) {
      recordRequestEnd(ctx, request, this.facts.proxied, arrivedAt, status, size, this.sentAt);
    } else if (ctx.requestLog && ctx.probeRequestLog) {
      writeRequestLog(ctx, request, status, (Date.now() - arrivedAt) / 1000, size, this.facts.proxied);
    }
  }
}
