import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Breaker,
  BreakerSlot,
  ERRORS,
  type ErrorCode,
  ExchangeTimers,
  grpcTrailers,
  isGrpcRequest,
  type Logger,
  type RequestFacts,
  type RequestLog,
  type RequestStats,
  recordRequestEnd,
  sendError,
  sendGrpcError,
  type TimedExchange,
  timingDuration,
  zerogateErrorHeaders,
} from '@zerogate/core';
import type { RequestMetricsRecorder } from '@zerogate/core/request-metrics';

/** The app's request listener, as node:http calls it. */
export type AppListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Everything the request path shares; built once by `attach`. */
export interface AppContext {
  /** Calls the app's own request listeners. */
  readonly app: AppListener;
  readonly breaker: Breaker | undefined;
  readonly stats: RequestStats;
  readonly metrics: RequestMetricsRecorder | undefined;
  readonly logger: Logger;
  readonly requestLog: boolean;
  readonly templatedLog?: RequestLog | undefined;
  readonly totalMs: number;
  readonly responseStartMs: number;
  readonly idleMs: number;
  /** A request that waited for a breaker slot gets `Server-Timing: queue;dur=…` (`QUEUE_SERVER_TIMING`). */
  readonly serverTiming: boolean;
  /** Exchanges not yet ended, kubelet-probe-looking ones included (the drain waits for them). */
  active: number;
}

const kExchange = Symbol('app-exchange');
type TaggedResponse = ServerResponse & { [kExchange]?: AppExchange };

/** Waiting for a breaker slot. */
const WAITING = 0;
/** Handed to the app. */
const RUNNING = 1;
/** Answered by the timeout or the breaker; the app, if it runs, writes into a detached response. */
const TAKEN = 2;

/**
 * One request through the in-process contract: counted in the stats, admitted by the breaker, then handed
 * to the app's own listener under the queue-proxy's timeouts (docs/queue-proxy.md §5, Knative's
 * `pkg/http/handler/timeout.go`). There is no upstream to cancel: when a timeout answers for the app, the
 * response is detached from it (its later writes are dropped, as Go's timeout writer drops them) and the
 * app's handler runs on until it finishes.
 */
export class AppExchange implements TimedExchange {
  /** When the app was called (ms since the epoch), which the request metrics time from; undefined before, or without them. */
  private ranAt: number | undefined;
  private state = WAITING;
  private slot: BreakerSlot | undefined;
  /** The timeouts; the app's writes restart the idle one. */
  readonly timers: ExchangeTimers;
  private timedOut = false;

  constructor(
    private readonly ctx: AppContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly facts: RequestFacts,
    private readonly arrivedAt: number,
    /** False for kubelet-probe-looking requests, which skip stats, the breaker and metrics. */
    private readonly counted: boolean,
  ) {
    ctx.active++;
    if (counted) ctx.stats.requestIn(facts.proxied);
    this.timers = new ExchangeTimers(this, ctx);
  }

  /** Arms the timers and the close listener, then asks the breaker for a slot. */
  begin(): void {
    const { ctx, res } = this;
    (res as TaggedResponse)[kExchange] = this;
    res.on('close', onResponseClose);
    this.timers.arm(this.arrivedAt);
    if (ctx.idleMs > 0) {
      // Own properties only when the idle timeout is on: the app's writes re-arm it.
      res.write = trackedWrite as ServerResponse['write'];
      res.writeHead = trackedWriteHead as ServerResponse['writeHead'];
    }
    const breaker = this.counted ? ctx.breaker : undefined;
    if (breaker === undefined) {
      this.run();
      return;
    }
    this.slot = new BreakerSlot(breaker);
    if (!this.slot.acquire(() => this.run())) {
      this.ctx.logger.warn({ path: this.req.url }, 'pending request queue full');
      this.answer('QUEUE_FULL');
    }
  }

  private run(): void {
    if (this.state !== WAITING) {
      // Admitted after the request was already answered (client gone or timed out): hand the slot on.
      this.slot?.release();
      return;
    }
    this.state = RUNNING;
    // A request that waited for its slot says how long, as the sidecar's `queue;dur=`
    // (docs/queue-proxy.md §3.2); set before the app runs, so a `Server-Timing` the app sets itself
    // replaces it. The wait is 0 on the hot path.
    const waitedMs = this.slot?.waitedMs ?? 0;
    if (waitedMs > 0 && this.ctx.serverTiming) {
      this.res.setHeader('server-timing', `queue;dur=${timingDuration(waitedMs)}`);
    }
    // The request metrics time the app from here (Knative's app metrics handler); kept only with them on.
    if (this.ctx.metrics) this.ranAt = Date.now();
    this.ctx.app(this.req, this.res);
  }

  /**
   * Answers for the app with a coded error and detaches the response from it. A 5xx says it is the
   * platform's, `Zerogate-Error: queue-proxy; <reason>`: the in-process mode carries the queue-proxy's
   * contract, so it answers as the queue-proxy would (docs/wire.md §6).
   */
  private answer(code: ErrorCode): void {
    const { res } = this;
    this.state = TAKEN;
    if (!res.headersSent && !res.destroyed) {
      const headers = zerogateErrorHeaders('queue-proxy', code);
      if (isGrpcRequest(this.req.headers['content-type'])) sendGrpcError(res, code, headers);
      else sendError(res, code, headers);
    }
    detach(res);
  }

  /** The total deadline passed: the timeout error if the app wrote nothing, else the started response ends. */
  totalTimedOut(): void {
    if (this.state === TAKEN) return;
    this.timedOut = true;
    const { res } = this;
    if (!res.headersSent) {
      this.answer('REQUEST_TIMEOUT');
      return;
    }
    this.state = TAKEN;
    // As the queue-proxy ends a started response (docs/queue-proxy.md §5): gRPC with DEADLINE_EXCEEDED in
    // its trailers, a chunked body with the timeout text, one of declared length by closing the connection.
    if (isGrpcRequest(this.req.headers['content-type'])) {
      res.addTrailers(grpcTrailers('REQUEST_TIMEOUT'));
      res.end();
    } else if (declaresLength(res)) res.destroy();
    else res.end(ERRORS.REQUEST_TIMEOUT.body);
    detach(res);
  }

  /** The response-start deadline passed. */
  startTimedOut(): void {
    if (this.state === TAKEN || this.res.headersSent) return;
    this.timedOut = true;
    this.answer('REQUEST_TIMEOUT');
  }

  /** The app wrote nothing for the idle timeout. */
  idleTimedOut(): void {
    if (this.state === TAKEN) return;
    this.timedOut = true;
    if (!this.res.headersSent) {
      this.answer('REQUEST_TIMEOUT');
      return;
    }
    this.state = TAKEN;
    this.res.destroy();
    detach(this.res);
  }

  /** Runs once, when the response finished or its connection is gone. */
  onClose(): void {
    const { ctx, res } = this;
    this.timers.clear();
    if (this.state === WAITING) this.state = TAKEN;
    ctx.active--;
    this.slot?.release();
    if (!this.counted) return;
    recordRequestEnd(
      ctx,
      this.req,
      this.facts.proxied,
      this.arrivedAt,
      res.writableEnded || this.timedOut ? res.statusCode : 499,
      0,
      this.ranAt,
    );
  }
}

/** True when the response declared its length (HTTP/1.1 not chunked, or a `Content-Length` header). */
function declaresLength(res: ServerResponse): boolean {
  const chunked = (res as ServerResponse & { chunkedEncoding?: boolean }).chunkedEncoding;
  if (typeof chunked === 'boolean' && res.req?.httpVersionMajor === 1) return !chunked;
  return res.getHeader('content-length') !== undefined;
}

function trackedWrite(this: TaggedResponse, ...args: Parameters<ServerResponse['write']>): boolean {
  this[kExchange]?.timers.wrote();
  return Object.getPrototypeOf(this).write.apply(this, args);
}

function trackedWriteHead(this: TaggedResponse, ...args: unknown[]): ServerResponse {
  this[kExchange]?.timers.wrote();
  return Object.getPrototypeOf(this).writeHead.apply(this, args);
}

/**
 * Methods the app may still call on a response that was answered for it: each does nothing (and calls
 * its callback), so a late write cannot throw `ERR_HTTP_HEADERS_SENT` or reach the client.
 */
const DETACHED: Record<string, (...args: unknown[]) => unknown> = {
  writeHead() {
    return this;
  },
  setHeader() {
    return this;
  },
  setHeaders() {
    return this;
  },
  appendHeader() {
    return this;
  },
  removeHeader() {},
  flushHeaders() {},
  addTrailers() {},
  writeContinue() {},
  writeEarlyHints() {},
  write(...args: unknown[]) {
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    if (cb) process.nextTick(cb);
    return true;
  },
  end(...args: unknown[]) {
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    if (cb) process.nextTick(cb);
    return this;
  },
};

function detach(res: ServerResponse): void {
  Object.assign(res, DETACHED);
}

function onResponseClose(this: TaggedResponse): void {
  const exchange = this[kExchange];
  this[kExchange] = undefined;
  exchange?.onClose();
}
