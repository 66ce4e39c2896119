import type {
  ClientHttp2Session,
  ClientHttp2Stream,
  IncomingHttpHeaders,
  IncomingHttpStatusHeader,
  OutgoingHttpHeaders,
} from 'node:http2';
import { createRequire } from 'node:module';
import { connect as netConnect } from 'node:net';
import type { Readable } from 'node:stream';
import type { Dispatcher as DispatcherType } from 'undici';
import { H2_CANCEL, H2_REFUSED_STREAM, nodeHttp2 } from './node-http.js';

/*
 * The h2c upstream of both proxies, on Node's own HTTP/2 client rather than undici's `H2CClient`: the
 * same session costs ~0.2 ms less per request, most of a proxy's share of a unary gRPC call. Only what
 * the proxies use is implemented: `dispatch` with the DispatchHandler controller API, `close`, `destroy`.
 */
const require = createRequire(import.meta.url);
/** undici's `Dispatcher` base (an EventEmitter with `compose`), so an instance is a `Dispatcher`. */
const Dispatcher: typeof DispatcherType = require('undici/lib/dispatcher/dispatcher.js');

/**
 * undici's `close` and `destroy` with all their overloads (a callback, or a promise) over one method each
 * that returns a promise: the part of `Dispatcher` both dispatchers here implement alike.
 */
abstract class PromisingDispatcher extends Dispatcher {
  /** Closes gracefully: resolves once what was dispatched has ended. */
  protected abstract closing(): Promise<void>;
  /** Closes at once: what is in flight fails with `err` (or an {@link H2cClosedError}). */
  protected abstract destroying(err: Error | null): Promise<void>;

  override close(callback: () => void): void;
  override close(): Promise<void>;
  override close(callback?: () => void): Promise<void> | undefined {
    return settle(this.closing(), callback);
  }

  override destroy(err: Error | null, callback: () => void): void;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null): Promise<void>;
  override destroy(): Promise<void>;
  override destroy(
    errOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | undefined {
    if (typeof errOrCallback === 'function') return settle(this.destroying(null), errOrCallback);
    return settle(this.destroying(errOrCallback ?? null), callback);
  }
}

/** `done` as undici's overloads return it: undefined with the callback called after, else the promise. */
function settle(done: Promise<void>, callback: (() => void) | undefined): Promise<void> | undefined {
  if (!callback) return done;
  void done.then(callback);
  return undefined;
}

/**
 * HTTP/2 flow-control windows, stream and connection, in bytes. The default 64 KiB stalls a stream
 * after one window per round trip; a proxy relays as fast as both ends read, and backpressure still
 * holds because a paused stream stops consuming (and so stops granting window).
 */
const WINDOW_BYTES = 16 * 1024 * 1024;

/** Request headers HTTP/2 forbids (RFC 9113 §8.2.2), which Node refuses to send; `host` becomes `:authority`. */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Options of an {@link H2cDispatcher}. */
export interface H2cDispatcherOptions {
  /** Close a session after this long without frames, in milliseconds; 0 keeps it open. Default 30 s. */
  readonly idleTimeoutMs?: number;
  /** The largest response header list accepted, in bytes (HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`). */
  readonly maxHeaderListSize?: number;
}

/** Error when a request is dispatched to a closed dispatcher. */
export class H2cClosedError extends Error {
  readonly code = 'H2C_CLOSED';
  constructor() {
    super('the h2c dispatcher is closed');
    this.name = 'H2cClosedError';
  }
}

/**
 * Error when an upstream stream ends before its response did (reset or session gone). Its code is
 * `H2C_STREAM_REFUSED` when the peer provably never processed the stream (RFC 9113 §8.7: reset with
 * `REFUSED_STREAM`, or above the last stream id of a GOAWAY), so it may be sent again elsewhere
 * ({@link wasSent}); else `H2C_STREAM_CLOSED`.
 */
export class H2cStreamError extends Error {
  readonly code: 'H2C_STREAM_CLOSED' | 'H2C_STREAM_REFUSED';
  constructor(
    message: string,
    readonly rstCode: number,
    options?: ErrorOptions & { readonly refused?: boolean },
  ) {
    super(message, options);
    this.name = 'H2cStreamError';
    this.code = options?.refused ? 'H2C_STREAM_REFUSED' : 'H2C_STREAM_CLOSED';
  }
}

/** The last stream id of the GOAWAY a session received, kept on the session. */
const kLastStreamId = Symbol('h2cLastStreamId');
type TrackedSession = ClientHttp2Session & { [kLastStreamId]?: number };

const EMPTY_CONTEXT = Object.freeze({});
const kRequest = Symbol('h2cRequest');
type TaggedStream = ClientHttp2Stream & { [kRequest]?: H2cRequest };

/**
 * Prior-knowledge HTTP/2 cleartext (h2c) to one origin over a single multiplexed `node:http2` session,
 * opened on first use and again after the previous one closed, went away (GOAWAY) or idled out.
 * Implements the part of undici's `Dispatcher` the proxies use (`dispatch`, `close`, `destroy`).
 * Requests wait for the session to connect before their body is read, so a connection error (with
 * the socket's `ECONNREFUSED` as its `cause`) leaves the body untouched for a retry elsewhere.
 */
export class H2cDispatcher extends PromisingDispatcher {
  readonly #origin: string;
  readonly #host: string;
  readonly #port: number;
  readonly #idleTimeoutMs: number;
  readonly #settings: { initialWindowSize: number; enablePush: false; maxHeaderListSize?: number };
  #session: ClientHttp2Session | null = null;
  /** Requests waiting for the current session to connect. */
  #pending: H2cRequest[] = [];
  /** The session `#pending` waits for. */
  #pendingFor: ClientHttp2Session | null = null;
  #closed = false;
  /** Sessions not yet closed, current or going away: `close` waits for them. */
  readonly #sessions = new Set<ClientHttp2Session>();

  constructor(origin: string | URL, options: H2cDispatcherOptions = {}) {
    super();
    const url = new URL(origin);
    if (url.protocol !== 'http:') throw new TypeError(`origin: h2c needs an http: origin, got ${url.href}`);
    this.#origin = url.origin;
    this.#host = url.hostname.replace(/^\[|\]$/g, '');
    this.#port = Number(url.port || 80);
    const idle = options.idleTimeoutMs ?? 30_000;
    if (!(idle >= 0)) throw new RangeError(`idleTimeoutMs: must be ≥ 0, got ${idle}`);
    this.#idleTimeoutMs = idle;
    this.#settings = { initialWindowSize: WINDOW_BYTES, enablePush: false };
    if (options.maxHeaderListSize !== undefined) this.#settings.maxHeaderListSize = options.maxHeaderListSize;
  }

  /** The origin requests go to, `http://host:port`. */
  get origin(): string {
    return this.#origin;
  }

  /** True when nothing is open or waiting: the dispatcher holds no session and no request. */
  get idle(): boolean {
    return this.#sessions.size === 0 && this.#pending.length === 0;
  }

  override dispatch(
    options: DispatcherType.DispatchOptions,
    handler: DispatcherType.DispatchHandler,
  ): boolean {
    const request = new H2cRequest(this.#origin, options, handler);
    if (this.#closed) {
      request.fail(new H2cClosedError());
      return false;
    }
    request.start();
    if (request.done) return true;
    const session = this.#session ?? this.#connect();
    if (session.connecting) {
      this.#pendingFor = session;
      this.#pending.push(request);
    } else request.send(session);
    return true;
  }

  protected closing(): Promise<void> {
    this.#closed = true;
    this.#session = null;
    // Sessions close once their streams ended; requests still waiting for a connection are sent first.
    return Promise.all([...this.#sessions].map((session) => closeSession(session))).then(() => undefined);
  }

  protected destroying(err: Error | null): Promise<void> {
    this.#closed = true;
    this.#session = null;
    const reason = err ?? new H2cClosedError();
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingFor = null;
    for (const request of pending) request.fail(reason);
    const closing = Promise.all(
      [...this.#sessions].map((session) => {
        const closed = closeSession(session);
        session.destroy();
        return closed;
      }),
    );
    return closing.then(() => undefined);
  }

  #connect(): ClientHttp2Session {
    const host = this.#host;
    const port = this.#port;
    const session = nodeHttp2().connect(this.#origin, {
      settings: this.#settings,
      // Small writes (gRPC frames, headers) leave at once instead of waiting on Nagle's algorithm.
      createConnection: () => netConnect({ host, port, noDelay: true }),
    });
    this.#session = session;
    this.#sessions.add(session);
    session.once('connect', () => {
      // The connection-level window is not a SETTINGS value: it is raised with a WINDOW_UPDATE.
      session.setLocalWindowSize(WINDOW_BYTES);
      this.#flush(session, null);
    });
    session.on('error', (err: Error) => this.#flush(session, err));
    session.on('goaway', (_code: number, lastStreamId: number) => {
      (session as TrackedSession)[kLastStreamId] = lastStreamId;
      this.#retire(session);
    });
    session.once('close', () => {
      this.#retire(session);
      this.#sessions.delete(session);
      this.#flush(session, new H2cStreamError('h2c session closed before connecting', H2_CANCEL));
      (this as NodeJS.EventEmitter).emit('disconnect', this.#origin);
    });
    if (this.#idleTimeoutMs > 0) session.setTimeout(this.#idleTimeoutMs, () => session.close());
    return session;
  }

  /** Stops sending new requests to `session` (it is going away); the next request opens another. */
  #retire(session: ClientHttp2Session): void {
    if (this.#session === session) this.#session = null;
  }

  /** Sends the requests waiting for `session`, or fails them with `err` (it could not connect). */
  #flush(session: ClientHttp2Session, err: Error | null): void {
    if (this.#pendingFor !== session) return;
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingFor = null;
    if (err !== null) {
      this.#retire(session);
      for (const request of pending) request.fail(err);
      return;
    }
    for (const request of pending) if (!request.done) request.send(session);
  }
}

function closeSession(session: ClientHttp2Session): Promise<void> {
  if (session.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    session.once('close', resolve);
    if (!session.closed) session.close();
  });
}

/**
 * One request on an {@link H2cDispatcher}: its undici controller, and the listener state of its stream
 * (the stream's listeners are shared functions that find it through a symbol, so a request costs one
 * object and no closures).
 */
class H2cRequest implements DispatcherType.DispatchController {
  #stream: TaggedStream | null = null;
  /** The session the stream is on (a destroyed stream no longer names it). */
  #session: TrackedSession | null = null;
  #body: Readable | null = null;
  #trailers: IncomingHttpHeaders | null = null;
  #reason: Error | null = null;
  #aborted = false;
  #paused = false;
  /** Response headers arrived: the peer processed the stream, whatever happens to it next. */
  #responded = false;
  /** The handler was told how the request ended (end or error); nothing more goes to it. */
  done = false;

  readonly #origin: string;
  readonly #options: DispatcherType.DispatchOptions;
  readonly #handler: DispatcherType.DispatchHandler;

  constructor(
    origin: string,
    options: DispatcherType.DispatchOptions,
    handler: DispatcherType.DispatchHandler,
  ) {
    this.#origin = origin;
    this.#options = options;
    this.#handler = handler;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  /** Tells the handler the request starts (it may abort it right there). */
  start(): void {
    this.#handler.onRequestStart?.(this, EMPTY_CONTEXT);
  }

  /** Opens the stream on `session` and streams the body into it. */
  send(session: ClientHttp2Session): void {
    const options = this.#options;
    let stream: TaggedStream;
    try {
      const body = options.body;
      const ends = body === null || body === undefined;
      stream = session.request(requestHeaders(options, this.#origin), { endStream: ends });
      this.#stream = stream;
      this.#session = session;
      stream[kRequest] = this;
      stream.on('response', onResponse);
      stream.on('data', onData);
      stream.on('trailers', onTrailers);
      stream.on('end', onEnd);
      stream.on('error', onError);
      stream.on('close', onClose);
      if (ends) return;
      if (typeof body === 'string' || body instanceof Uint8Array) stream.end(body);
      else if (isReadable(body)) {
        this.#body = body;
        body.on('error', onBodyError);
        (body as Readable & { [kRequest]?: H2cRequest })[kRequest] = this;
        body.pipe(stream);
      } else throw new TypeError('body: only a string, a Uint8Array or a Readable is supported');
    } catch (err) {
      this.abortStream();
      this.fail(err as Error);
    }
  }

  abort(reason: Error): void {
    if (this.#aborted || this.done) return;
    this.#aborted = true;
    this.#reason = reason;
    this.abortStream();
    // undici tells the handler the reason once; a handler that aborted ignores it.
    this.fail(reason);
  }

  pause(): void {
    this.#paused = true;
    this.#stream?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#stream?.resume();
  }

  /** Ends the request with `err`, unless it already ended. */
  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.detachBody();
    this.#handler.onResponseError?.(this, err);
  }

  /** Cancels the stream, if one was opened, without telling the handler. */
  abortStream(): void {
    this.detachBody();
    const stream = this.#stream;
    if (stream && !stream.destroyed) stream.close(H2_CANCEL);
  }

  private detachBody(): void {
    const body = this.#body;
    if (body === null) return;
    this.#body = null;
    body.off('error', onBodyError);
    if (this.#stream) body.unpipe(this.#stream);
  }

  onResponse(headers: IncomingHttpHeaders & IncomingHttpStatusHeader): void {
    this.#responded = true;
    if (this.done) return;
    const status = Number(headers[':status']);
    for (const name in headers) if (name.charCodeAt(0) === 0x3a) delete headers[name];
    this.#handler.onResponseStart?.(this, status, headers);
  }

  onData(chunk: Buffer): void {
    if (!this.done) this.#handler.onResponseData?.(this, chunk);
  }

  onTrailers(trailers: IncomingHttpHeaders): void {
    this.#trailers = trailers;
  }

  onEnd(): void {
    if (this.done) return;
    this.done = true;
    this.detachBody();
    this.#handler.onResponseEnd?.(this, this.#trailers ?? {});
  }

  onError(err: Error): void {
    const stream = this.#stream;
    if (stream && !this.#responded && neverProcessed(stream, this.#session)) {
      this.fail(refusedError(stream, err));
      return;
    }
    this.fail(err);
  }

  onClose(): void {
    const stream = this.#stream;
    if (!stream) return;
    stream[kRequest] = undefined;
    // Reset with NO_ERROR, CANCEL or REFUSED_STREAM before the response ended: Node emits no 'error'.
    if (this.done || stream.readableEnded) return;
    if (!this.#responded && neverProcessed(stream, this.#session)) this.fail(refusedError(stream));
    else this.fail(new H2cStreamError(`h2c stream closed (code ${stream.rstCode})`, stream.rstCode ?? 0));
  }

  onBodyError(err: Error): void {
    this.abortStream();
    this.fail(err);
  }
}

/**
 * Whether the peer provably never processed `stream` (RFC 9113 §8.7): it reset it with `REFUSED_STREAM`,
 * or its id is above the last one of a GOAWAY the session received (nghttp2 closes those streams with
 * `REFUSED_STREAM` after a graceful GOAWAY; an error GOAWAY destroys the session first, so the id is
 * what tells).
 */
function neverProcessed(stream: ClientHttp2Stream, session: TrackedSession | null): boolean {
  if (stream.rstCode === H2_REFUSED_STREAM) return true;
  const lastStreamId = session?.[kLastStreamId];
  return lastStreamId !== undefined && stream.id !== undefined && stream.id > lastStreamId;
}

function refusedError(stream: ClientHttp2Stream, cause?: Error): H2cStreamError {
  return new H2cStreamError(
    `h2c stream ${stream.id ?? '?'} refused by the peer before it was processed`,
    stream.rstCode ?? H2_REFUSED_STREAM,
    { cause, refused: true },
  );
}

function requestHeaders(options: DispatcherType.DispatchOptions, origin: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    ':method': options.method,
    ':path': options.path,
    ':scheme': 'http',
  };
  const headers = options.headers;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2)
      addHeader(out, headers[i] as string, headers[i + 1] as string);
  } else if (headers !== null && headers !== undefined) {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      if (Array.isArray(value)) for (const item of value) addHeader(out, name, String(item));
      else if (value !== undefined) addHeader(out, name, String(value));
    }
  }
  if (out[':authority'] === undefined) out[':authority'] = new URL(origin).host;
  return out;
}

function addHeader(out: OutgoingHttpHeaders, rawName: string, value: string): void {
  const name = rawName.toLowerCase();
  if (name === 'host') {
    out[':authority'] = value;
    return;
  }
  if (CONNECTION_SPECIFIC.has(name) || name.charCodeAt(0) === 0x3a) return;
  // Only `te: trailers` may cross HTTP/2 (gRPC sends it).
  if (name === 'te' && value.trim().toLowerCase() !== 'trailers') return;
  const existing = out[name];
  if (existing === undefined) out[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else out[name] = [String(existing), value];
}

function isReadable(body: unknown): body is Readable {
  return typeof (body as Readable).pipe === 'function' && typeof (body as Readable).on === 'function';
}

function onResponse(this: TaggedStream, headers: IncomingHttpHeaders & IncomingHttpStatusHeader): void {
  this[kRequest]?.onResponse(headers);
}

function onData(this: TaggedStream, chunk: Buffer): void {
  this[kRequest]?.onData(chunk);
}

function onTrailers(this: TaggedStream, trailers: IncomingHttpHeaders): void {
  this[kRequest]?.onTrailers(trailers);
}

function onEnd(this: TaggedStream): void {
  this[kRequest]?.onEnd();
}

function onError(this: TaggedStream, err: Error): void {
  this[kRequest]?.onError(err);
}

function onClose(this: TaggedStream): void {
  this[kRequest]?.onClose();
}

function onBodyError(this: Readable & { [kRequest]?: H2cRequest }, err: Error): void {
  this[kRequest]?.onBodyError(err);
}

/**
 * An {@link H2cDispatcher} per origin, for the activator's many Pods: requests name their Pod in
 * `origin`. A Pod's dispatcher is dropped once its session closed with nothing waiting (it idled
 * out, or the Pod went away), so Pods that are gone hold nothing.
 */
export class H2cDispatcherPool extends PromisingDispatcher {
  readonly #dispatchers = new Map<string, H2cDispatcher>();
  readonly #options: H2cDispatcherOptions;
  #closed = false;

  constructor(options: H2cDispatcherOptions = {}) {
    super();
    this.#options = options;
  }

  /** How many origins have a dispatcher. */
  get size(): number {
    return this.#dispatchers.size;
  }

  override dispatch(
    options: DispatcherType.DispatchOptions,
    handler: DispatcherType.DispatchHandler,
  ): boolean {
    const origin = options.origin;
    if (origin === undefined || this.#closed) {
      const request = new H2cRequest('', options, handler);
      request.fail(this.#closed ? new H2cClosedError() : new TypeError('origin: required'));
      return false;
    }
    const key = typeof origin === 'string' ? origin : origin.origin;
    let dispatcher = this.#dispatchers.get(key);
    if (dispatcher === undefined) {
      const created = new H2cDispatcher(key, this.#options);
      created.on('disconnect', () => {
        if (created.idle && this.#dispatchers.get(key) === created) this.#dispatchers.delete(key);
      });
      this.#dispatchers.set(key, created);
      dispatcher = created;
    }
    return dispatcher.dispatch(options, handler);
  }

  protected closing(): Promise<void> {
    this.#closed = true;
    return Promise.all([...this.#dispatchers.values()].map((d) => d.close())).then(() => undefined);
  }

  protected destroying(err: Error | null): Promise<void> {
    this.#closed = true;
    return Promise.all([...this.#dispatchers.values()].map((d) => d.destroy(err))).then(() => undefined);
  }
}
