import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Dispatcher } from 'undici';
import { ERRORS, type ErrorCode, wasSent, ZEROGATE_ERROR, zerogateErrorHeaders } from './errors.js';
import { ExchangeTimers, type TimedExchange, type TimeoutSettings } from './exchange-timers.js';
import { H } from './headers.js';
import type { Logger } from './logger.js';
import { grpcTrailers, isGrpcRequest, sendError, sendGrpcError } from './respond.js';
import { serverTimingToAdd } from './server-timing.js';
import { DONE, NOT_SENT, RUNNING, UpstreamExchange, WAITING } from './upstream-exchange.js';

/** The timeouts of one exchange (docs/queue-proxy.md §5), in milliseconds; 0 turns one off. */
export interface ExchangeTimeouts extends TimeoutSettings {
  /** The coded error sent when one fires before the response started. */
  readonly error: ErrorCode;
}

/** Response headers that describe the upstream connection, not the response. */
const RESPONSE_HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

/** Adds our `Server-Timing` metrics the response does not already name (the app's stay as they are). */
function addServerTiming(headers: Record<string, string | string[] | undefined>, timing: string): void {
  const app = headers['server-timing'];
  const added = serverTimingToAdd(timing, app);
  if (added === '') return;
  headers['server-timing'] = app === undefined ? added : [...(typeof app === 'string' ? [app] : app), added];
}

/** Reading off a queue-proxy's `K-Request-Not-Sent` answer before sending the request again. */
const DISCARDING = 3;

/**
 * What calls an exchange back: the dispatcher (this is the undici handler of its upstream request), its
 * timers, and its response's `close` and `drain` events. One per exchange, made with it; each call goes
 * straight on to a private method of the exchange, so the callbacks stay off its API and none makes a
 * closure.
 */
interface ExchangeCallbacks extends Dispatcher.DispatchHandler, TimedExchange {
  drained(): void;
  closed(): void;
}

const kCallbacks = Symbol('exchange callbacks');
type TaggedResponse = ServerResponse & { [kCallbacks]?: ExchangeCallbacks };

/**
 * One proxied request from arrival to the end of its response: the timeouts of docs/queue-proxy.md §5, the
 * relay of the upstream response (streamed, with backpressure and trailers), and a single `ended` call
 * however it ends. Subclasses decide admission (`admit`, then `forward`) and release what admission held
 * (`ended`).
 *
 * In order: `begin` arms the timers and asks the subclass to `admit`; `forward` dispatches upstream; the
 * response starts, streams and ends (or the upstream fails: `upstreamFailed`, which may `retry`); a
 * timeout or the client leaving may cut it anywhere; `ended` follows the response's `close`, once.
 */
export abstract class ProxyExchange extends UpstreamExchange {
  private controller: Dispatcher.DispatchController | null = null;
  private readonly timers: ExchangeTimers;
  private declaredLength = false;
  /** Body bytes of the response relayed to the client, for the request log. */
  private bodyBytes = 0;
  private readonly callbacks: ExchangeCallbacks;

  constructor(
    protected readonly req: IncomingMessage,
    protected readonly res: ServerResponse,
    protected readonly timeouts: ExchangeTimeouts,
    logger: Logger,
    arrivedAt: number,
  ) {
    super(logger, arrivedAt);
    this.callbacks = new ProxyExchange.Callbacks(this);
    this.timers = new ExchangeTimers(this.callbacks, timeouts);
  }

  /** Arms the timers and the close listener, then asks for admission. */
  begin(): void {
    const { res, callbacks } = this;
    (res as TaggedResponse)[kCallbacks] = callbacks;
    res.on('close', onResponseClose);
    this.timers.arm(this.arrivedAt);
    this.admit();
  }

  protected get path(): string | undefined {
    return this.req.url;
  }

  /** True when the request arrived over HTTP/2. */
  /** Body bytes of the response relayed to the client so far, for the request log. */
  protected get responseLength(): number {
    return this.bodyBytes;
  }

  protected get isHttp2(): boolean {
    return this.req.httpVersionMajor === 2;
  }

  /** Whether the request has a body to stream upstream. */
  protected hasBody(fromHeaders: boolean): boolean {
    // HTTP/2 has no framing headers: a request without body ends its stream with its headers.
    return this.isHttp2 ? !(this.req as unknown as Http2ServerRequest).stream.endAfterHeaders : fromHeaders;
  }

  /** Whether the request could be sent again whole: by default, while nothing of its body was read. */
  protected get canSendAgain(): boolean {
    return !this.req.readableDidRead;
  }

  /** Sends the request upstream through `dispatcher`. */
  protected forward(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): void {
    this.state = RUNNING;
    this.controller = null;
    dispatcher.dispatch(options, this.callbacks);
  }

  /** Puts a request whose upstream attempt failed before it was sent back to waiting, for a retry. */
  protected retry(): void {
    this.state = WAITING;
    this.controller = null;
    this.admit();
  }

  /** Ends the exchange with a coded error response (the client connection stays usable). */
  protected fail(code: ErrorCode, headers?: Record<string, string>, detail?: string): void {
    this.state = DONE;
    this.abortUpstream();
    if (this.res.headersSent) return;
    headers = zerogateErrorHeaders(this.errorSource, code, headers);
    if (isGrpcRequest(this.req.headers['content-type'])) sendGrpcError(this.res, code, headers, detail);
    else sendError(this.res, code, headers, detail);
  }

  // The upstream request, as the dispatcher reports it (through `callbacks`).

  private requestStarted(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.state === DONE) controller.abort(new Error('request ended before dispatch'));
  }

  private responseStarted(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (this.state !== RUNNING) {
      controller.abort(new Error('request already ended'));
      return;
    }
    if (headers[H.requestNotSent] !== undefined) {
      delete headers[H.requestNotSent];
      // A body already streamed upstream cannot be sent again: that answer is relayed as it is.
      if (this.upstreamMarksNotSent && this.canSendAgain) {
        // Read off (the connection stays reusable); the retry starts when the answer has ended.
        this.state = DISCARDING;
        return;
      }
    }
    this.timers.responseStarted();
    for (const name of RESPONSE_HOP_BY_HOP) if (headers[name] !== undefined) delete headers[name];
    // Only the platform may say it made a response (docs/wire.md §6): the app's marker is removed.
    if (headers[ZEROGATE_ERROR] !== undefined && !this.upstreamMarksNotSent) delete headers[ZEROGATE_ERROR];
    const timing = this.responseTiming();
    if (timing !== undefined) addServerTiming(headers, timing);
    this.declaredLength = headers['content-length'] !== undefined;
    const { res } = this;
    if (this.isHttp2) {
      // Set, not written: they leave with the first DATA frame, or alone with END_STREAM when the
      // response has no body, so a gRPC trailers-only answer (an error status) stays trailers-only.
      res.statusCode = statusCode;
      for (const name in headers) {
        const value = headers[name];
        if (value !== undefined) res.setHeader(name, value);
      }
    } else {
      if (statusMessage) res.statusMessage = statusMessage;
      res.writeHead(statusCode, headers);
    }
    this.timers.wrote();
  }

  private responseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.state !== RUNNING) return;
    this.timers.wrote();
    this.bodyBytes += chunk.length;
    if (!this.res.write(chunk)) {
      // Backpressure from a slow client reaches the upstream instead of piling up here.
      controller.pause();
      this.res.once('drain', onResponseDrain);
    }
  }

  private responseEnded(trailers: Record<string, string | string[] | undefined>): void {
    if (this.state === DISCARDING) {
      this.notSentAnswered();
      return;
    }
    if (this.state !== RUNNING) return;
    // Relayed whole: nothing upstream is left to cancel when the client connection closes.
    this.state = DONE;
    // Trailers (gRPC's status among them) pass through; HTTP/1.1 can carry them only when chunked.
    for (const _ in trailers) {
      // HTTP/2 headers still unsent would leave with END_STREAM and the trailers would be dropped (a
      // gRPC status after headers but before any message then reaches the client as UNKNOWN): send them
      // first. A trailers-only upstream answer has no trailers here, so it stays trailers-only.
      if (this.isHttp2 && !this.res.headersSent) this.res.flushHeaders();
      this.res.addTrailers(trailers as Record<string, string>);
      break;
    }
    this.res.end();
  }

  private responseFailed(err: Error): void {
    if (this.state === DISCARDING) {
      this.notSentAnswered();
      return;
    }
    if (this.state !== RUNNING) return;
    if (this.res.headersSent) {
      this.logger.warn({ err, path: this.req.url }, 'upstream failed mid-response');
      this.state = DONE;
      this.res.destroy(err);
      return;
    }
    this.upstreamFailed(err, wasSent(err));
  }

  /** A queue-proxy's `K-Request-Not-Sent` answer was read off: the request failed, never sent. */
  private notSentAnswered(): void {
    this.state = RUNNING;
    this.upstreamFailed(NOT_SENT, false);
  }

  // The timeouts (docs/queue-proxy.md §5).

  /** The total deadline passed: the timeout error if nothing was written, else the started response ends. */
  private totalTimedOut(): void {
    if (this.state === DONE) return;
    // A gRPC call ends with DEADLINE_EXCEEDED in its trailers. A chunked response can be ended cleanly
    // with the timeout text, as Knative ≥ 1.19 does; one of declared length cannot, so its connection closes.
    this.timeOut(() => {
      if (isGrpcRequest(this.req.headers['content-type'])) {
        this.res.addTrailers(grpcTrailers(this.timeouts.error));
        this.res.end();
      } else if (this.declaredLength) this.res.destroy();
      else this.res.end(ERRORS.REQUEST_TIMEOUT.body);
    });
  }

  /** The response-start deadline passed. */
  private startTimedOut(): void {
    if (this.state === DONE || this.res.headersSent) return;
    this.timedOut = true;
    this.fail(this.timeouts.error);
  }

  /** Nothing was written for the idle timeout. */
  private idleTimedOut(): void {
    if (this.state === DONE) return;
    this.timeOut(() => this.res.destroy());
  }

  /** Ends a timed-out exchange: the timeout error if nothing was written yet, else `endStarted`. */
  private timeOut(endStarted: () => void): void {
    this.timedOut = true;
    if (!this.res.headersSent) {
      this.fail(this.timeouts.error);
      return;
    }
    this.state = DONE;
    this.abortUpstream();
    endStarted();
  }

  // The client side.

  /** The client drained what it was sent: the upstream resumes. */
  private drained(): void {
    this.controller?.resume();
  }

  /** Runs once, when the response finished or its connection is gone. */
  private closed(): void {
    if (this.state !== DONE) {
      // The client left before the response ended.
      this.state = DONE;
      this.abortUpstream();
    }
    this.timers.clear();
    this.ended(this.res.writableEnded);
  }

  /** Cancels the upstream request, if one was dispatched; `state` is DONE first so its error is ignored. */
  private abortUpstream(): void {
    const controller = this.controller;
    if (controller && !controller.aborted) controller.abort(ENDED_BY_PROXY);
  }

  /**
   * The one implementation of {@link ExchangeCallbacks}; declared inside the exchange, the only place
   * that may call its private methods.
   */
  private static readonly Callbacks = class implements ExchangeCallbacks {
    constructor(private readonly exchange: ProxyExchange) {}

    onRequestStart(controller: Dispatcher.DispatchController): void {
      this.exchange.requestStarted(controller);
    }

    onResponseStart(
      controller: Dispatcher.DispatchController,
      statusCode: number,
      headers: Record<string, string | string[] | undefined>,
      statusMessage?: string,
    ): void {
      this.exchange.responseStarted(controller, statusCode, headers, statusMessage);
    }

    onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
      this.exchange.responseData(controller, chunk);
    }

    onResponseEnd(
      _controller: Dispatcher.DispatchController,
      trailers: Record<string, string | string[] | undefined>,
    ): void {
      this.exchange.responseEnded(trailers);
    }

    onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
      this.exchange.responseFailed(err);
    }

    totalTimedOut(): void {
      this.exchange.totalTimedOut();
    }

    startTimedOut(): void {
      this.exchange.startTimedOut();
    }

    idleTimedOut(): void {
      this.exchange.idleTimedOut();
    }

    drained(): void {
      this.exchange.drained();
    }

    closed(): void {
      this.exchange.closed();
    }
  };
}

/** The reason given to undici when the proxy cancels an upstream request (made once: it is never thrown). */
const ENDED_BY_PROXY = new Error('request ended by the proxy');

// Listener functions made once: `this` is the response, which carries the exchange's callbacks.

function onResponseClose(this: TaggedResponse): void {
  const callbacks = this[kCallbacks];
  this[kCallbacks] = undefined;
  callbacks?.closed();
}

function onResponseDrain(this: TaggedResponse): void {
  this[kCallbacks]?.drained();
}

/** Turns an absolute-form request target (`http://host/path?q`) into origin form (`/path?q`). */
export function originForm(target: string): string {
  if (target.charCodeAt(0) === 0x2f) return target;
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return `/${target}`;
  }
}
