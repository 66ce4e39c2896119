import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Logger } from '@zerogate/core';
import { type Breaker, plainAddress, type RequestStats, type Waiter } from '@zerogate/core';
import type { Dispatcher } from 'undici';
import type { Drainer } from './drain.js';
import type { HealthResponder } from './health.js';
import { type RequestFacts, readFacts, upstreamHeaders } from './request-head.js';
import type { RequestMetrics } from './request-metrics.js';
import { sendError } from './respond.js';

/** Everything the request path shares; built once at start. */
export interface ProxyContext {
  /** HTTP/1.1 keep-alive pool to the user container. */
  readonly pool: Dispatcher;
  /** h2c client to the user container, for requests that arrived over HTTP/2 (protocol kept hop by hop). */
  readonly h2c: () => Dispatcher;
  readonly breaker: Breaker | undefined;
  readonly stats: RequestStats;
  readonly drainer: Drainer;
  readonly health: HealthResponder;
  readonly metrics: RequestMetrics | undefined;
  readonly logger: Logger;
  readonly requestLog: boolean;
  readonly revisionTimeoutMs: number;
  readonly responseStartTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

/** User agents whose requests are health checks answered by the queue-proxy itself, on any path. */
const PROBE_AGENTS = ['kube-probe/', 'Knative-Activator-Probe', 'Knative-Autoscaling-Probe'];

function isProbeAgent(ua: string): boolean {
  if (ua === '') return false;
  for (const prefix of PROBE_AGENTS) if (ua.startsWith(prefix)) return true;
  return false;
}

/** Response headers that describe the upstream connection, not the response. */
const RESPONSE_HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

const QUEUED = 0;
const RUNNING = 1;
const DONE = 2;

const kExchange = Symbol('exchange');
type TaggedResponse = ServerResponse & { [kExchange]?: Exchange };

/**
 * The serving port's request handler (spec §1.2): probes first (on any path), then stats, the
 * breaker and the timeouts around a streaming proxy to the user container.
 */
export class ProxyHandler {
  constructor(private readonly ctx: ProxyContext) {}

  /** Handles one request; suitable as a `request` listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const facts = readFacts(req.rawHeaders);
    if (isProbeAgent(facts.userAgent)) {
      this.ctx.health.healthCheck(facts, res);
      return;
    }
    if (facts.networkProbe === 'probe') {
      this.ctx.health.networkProbe(facts, res);
      return;
    }
    const now = Date.now();
    this.ctx.drainer.touch(now);
    new Exchange(this.ctx, req, res, facts, now, !facts.kubeletProbeHeader).begin();
  };
}

/**
 * One proxied request: its admission, timers and upstream dispatch. It is also the undici handler of
 * its own upstream request, so a request costs one object, and every path out of it runs `finish` once.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private state = QUEUED;
  private waiter: Waiter | null = null;
  private holdsSlot = false;
  private controller: Dispatcher.DispatchController | null = null;
  private totalTimer: NodeJS.Timeout | null = null;
  private startTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastWrite = 0;
  private timedOut = false;
  private declaredLength = false;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly facts: RequestFacts,
    private readonly arrivedAt: number,
    /** False for kubelet-probe-looking requests, which skip stats, the breaker and metrics. */
    private readonly counted: boolean,
  ) {}

  begin(): void {
    const { ctx, res } = this;
    (res as TaggedResponse)[kExchange] = this;
    res.on('close', onResponseClose);
    if (this.counted) ctx.stats.requestIn(this.facts.proxied);
    if (ctx.revisionTimeoutMs > 0) this.totalTimer = setTimeout(onTotalTimeout, ctx.revisionTimeoutMs, this);
    if (ctx.responseStartTimeoutMs > 0) {
      this.startTimer = setTimeout(onStartTimeout, ctx.responseStartTimeoutMs, this);
    }
    if (ctx.idleTimeoutMs > 0) {
      this.lastWrite = this.arrivedAt;
      this.idleTimer = setTimeout(onIdleTimeout, ctx.idleTimeoutMs, this);
    }
    const breaker = this.counted ? ctx.breaker : undefined;
    if (breaker === undefined) {
      this.dispatch();
      return;
    }
    const admission = breaker.enter(() => {
      this.waiter = null;
      this.holdsSlot = true;
      this.dispatch();
    });
    if (admission === 'run') {
      this.holdsSlot = true;
      this.dispatch();
    } else if (admission === 'full') {
      ctx.logger.warn({ path: this.req.url }, 'pending request queue full');
      this.fail('QUEUE_FULL');
    } else {
      this.waiter = admission;
    }
  }

  private dispatch(): void {
    if (this.state !== QUEUED) {
      // Admitted after the request already ended (client gone or timed out): hand the slot on.
      this.releaseSlot();
      return;
    }
    this.state = RUNNING;
    const { req } = this;
    const http2 = req.httpVersionMajor === 2;
    const path = req.url ?? '/';
    const options: Dispatcher.DispatchOptions = {
      path: path.charCodeAt(0) === 0x2f ? path : originForm(path),
      method: req.method ?? 'GET',
      headers: upstreamHeaders(req.rawHeaders, plainAddress(req.socket.remoteAddress), false, http2),
      body: (http2 ? !(req as unknown as Http2ServerRequest).stream.endAfterHeaders : this.facts.hasBody)
        ? req
        : null,
      // The queue-proxy's own timers govern; undici's defaults (300 s) would cut long requests.
      headersTimeout: 0,
      bodyTimeout: 0,
    };
    (http2 ? this.ctx.h2c() : this.ctx.pool).dispatch(options, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.state === DONE) controller.abort(new Error('request ended before dispatch'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (this.state !== RUNNING) {
      controller.abort(new Error('request already ended'));
      return;
    }
    if (this.startTimer) {
      clearTimeout(this.startTimer);
      this.startTimer = null;
    }
    for (const name of RESPONSE_HOP_BY_HOP) if (headers[name] !== undefined) delete headers[name];
    const { res } = this;
    this.declaredLength = headers['content-length'] !== undefined;
    if (statusMessage && this.req.httpVersionMajor === 1) res.statusMessage = statusMessage;
    res.writeHead(statusCode, headers);
    if (this.idleTimer) this.lastWrite = Date.now();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.state !== RUNNING) return;
    if (this.idleTimer) this.lastWrite = Date.now();
    if (!this.res.write(chunk)) {
      // Backpressure from a slow client reaches the app instead of piling up here.
      controller.pause();
      this.res.once('drain', onResponseDrain);
    }
  }

  onResponseEnd(
    _controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    if (this.state !== RUNNING) return;
    // Trailers (gRPC's status among them) pass through; HTTP/1.1 can carry them only when chunked.
    for (const _ in trailers) {
      this.res.addTrailers(trailers as Record<string, string>);
      break;
    }
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.state !== RUNNING) return;
    if (this.res.headersSent) {
      this.ctx.logger.warn({ err, path: this.req.url }, 'upstream failed mid-response');
      this.res.destroy(err);
      return;
    }
    this.ctx.logger.error({ err, path: this.req.url }, 'error reverse proxying request');
    this.fail('UPSTREAM_FAILED');
  }

  /** Ends the exchange with a coded error response (the connection stays usable). */
  private fail(code: 'QUEUE_FULL' | 'UPSTREAM_FAILED' | 'REQUEST_TIMEOUT'): void {
    this.state = DONE;
    this.abortUpstream();
    if (!this.res.headersSent) sendError(this.res, code);
  }

  /** The total deadline passed: 504 if nothing was written, else the started response is ended. */
  totalTimeout(): void {
    this.totalTimer = null;
    if (this.state === DONE) return;
    this.timedOut = true;
    if (!this.res.headersSent) {
      this.fail('REQUEST_TIMEOUT');
      return;
    }
    this.state = DONE;
    this.abortUpstream();
    // A chunked response can be ended cleanly with the timeout text, as Knative ≥ 1.19 does; a
    // response with a declared length cannot, so its connection is closed.
    if (this.declaredLength) this.res.destroy();
    else this.res.end('request timeout');
  }

  /** The response-start deadline passed. */
  startTimeout(): void {
    this.startTimer = null;
    if (this.state === DONE || this.res.headersSent) return;
    this.timedOut = true;
    this.fail('REQUEST_TIMEOUT');
  }

  /** The idle timer fired: end the exchange unless something was written since it was armed. */
  idleTimeout(): void {
    this.idleTimer = null;
    if (this.state === DONE) return;
    const idleFor = Date.now() - this.lastWrite;
    if (idleFor < this.ctx.idleTimeoutMs) {
      this.idleTimer = setTimeout(onIdleTimeout, this.ctx.idleTimeoutMs - idleFor, this);
      return;
    }
    this.timedOut = true;
    if (!this.res.headersSent) {
      this.fail('REQUEST_TIMEOUT');
      return;
    }
    this.state = DONE;
    this.abortUpstream();
    this.res.destroy();
  }

  resume(): void {
    this.controller?.resume();
  }

  /** Runs once, when the response is finished or its connection is gone: releases everything. */
  closed(): void {
    const { ctx, res } = this;
    const completed = res.writableEnded;
    if (this.state !== DONE) {
      // The client left before the response ended.
      this.state = DONE;
      this.abortUpstream();
    }
    if (this.waiter) {
      ctx.breaker?.cancel(this.waiter);
      this.waiter = null;
    }
    this.releaseSlot();
    if (this.totalTimer) clearTimeout(this.totalTimer);
    if (this.startTimer) clearTimeout(this.startTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.totalTimer = this.startTimer = this.idleTimer = null;
    if (!this.counted) return;
    ctx.stats.requestOut(this.facts.proxied);
    const seconds = (Date.now() - this.arrivedAt) / 1000;
    const status = completed || this.timedOut ? res.statusCode : 499;
    ctx.metrics?.observe(status, seconds);
    if (ctx.requestLog) {
      ctx.logger.info(
        {
          method: this.req.method,
          path: this.req.url,
          status,
          latencySeconds: seconds,
          proxied: this.facts.proxied,
        },
        'request',
      );
    }
  }

  /** Cancels the upstream request, if one was dispatched; set `state` to DONE first so its error is ignored. */
  private abortUpstream(): void {
    const controller = this.controller;
    if (controller && !controller.aborted) controller.abort(new Error('request ended by the queue-proxy'));
  }

  private releaseSlot(): void {
    if (!this.holdsSlot) return;
    this.holdsSlot = false;
    this.ctx.breaker?.release();
  }
}

function onResponseClose(this: TaggedResponse): void {
  const exchange = this[kExchange];
  this[kExchange] = undefined;
  exchange?.closed();
}

function onResponseDrain(this: TaggedResponse): void {
  this[kExchange]?.resume();
}

function onTotalTimeout(exchange: Exchange): void {
  exchange.totalTimeout();
}

function onStartTimeout(exchange: Exchange): void {
  exchange.startTimeout();
}

function onIdleTimeout(exchange: Exchange): void {
  exchange.idleTimeout();
}

/** Turns an absolute-form request target (`http://host/path?q`) into origin form (`/path?q`). */
function originForm(target: string): string {
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return `/${target}`;
  }
}
