import { once } from 'node:events';
import {
  type ClientRequest,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import {
  type ClientHttp2Session,
  connect,
  createServer as createHttp2Server,
  type IncomingHttpHeaders as Http2Headers,
  type Http2Server,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ERRORS } from './errors.js';
import { createLogger } from './logger.js';
import { type ExchangeTimeouts, ProxyExchange } from './proxy-exchange.js';

const logger = createLogger({ level: 'silent', base: {} });

const NO_TIMEOUTS: ExchangeTimeouts = { totalMs: 0, responseStartMs: 0, idleMs: 0, error: 'REQUEST_TIMEOUT' };

/** A controller a test inspects: what the exchange asked of the upstream request. */
class FakeController implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  private onResume: (() => void) | null = null;

  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.onResume?.();
  }

  /** Resolves when the exchange resumes the paused upstream. */
  resumed(): Promise<void> {
    return new Promise((resolve) => {
      this.onResume = resolve;
    });
  }
}

/** One upstream request as the fake dispatcher received it; the test plays the upstream's part. */
interface Dispatched {
  readonly options: Dispatcher.DispatchOptions;
  readonly handler: Dispatcher.DispatchHandler;
  readonly controller: FakeController;
}

/** A list that can be awaited for its `n`th item. */
class Arrivals<T> {
  readonly items: T[] = [];
  private waiters: (() => void)[] = [];

  push(item: T): void {
    this.items.push(item);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** The `n`th item (from 1), once it arrived. */
  async nth(n: number): Promise<T> {
    while (this.items.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.items[n - 1]!;
  }
}

/**
 * A dispatcher that sends nothing: each dispatch waits for the test to drive its handler. It starts the
 * request at once (`onRequestStart`) unless told to leave that to the test, as a dispatcher still
 * connecting would.
 */
class FakeDispatcher extends Arrivals<Dispatched> {
  constructor(private readonly startAtOnce: boolean) {
    super();
  }

  get dispatched(): readonly Dispatched[] {
    return this.items;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const controller = new FakeController();
    const d = { options, handler, controller };
    if (this.startAtOnce) handler.onRequestStart?.(controller, {});
    this.push(d);
    return true;
  }
}

/** Starts the response of a dispatched request, as undici would. */
function respond(d: Dispatched, status: number, headers: IncomingHttpHeaders = {}): void {
  d.handler.onResponseStart?.(d.controller, status, headers, '');
}

function data(d: Dispatched, chunk: string | Buffer): void {
  d.handler.onResponseData?.(d.controller, Buffer.from(chunk));
}

function end(d: Dispatched, trailers: IncomingHttpHeaders = {}): void {
  d.handler.onResponseEnd?.(d.controller, trailers);
}

function error(d: Dispatched, err: Error): void {
  d.handler.onResponseError?.(d.controller, err);
}

/** An error as undici reports a failed connect (its code in the cause chain). */
function connectError(code: string): Error {
  return new Error('connect failed', { cause: Object.assign(new Error(code), { code }) });
}

interface TestOptions {
  timeouts?: ExchangeTimeouts;
  /** Upstream failures that never reached the app are retried this many times. */
  retries?: number;
  /** The upstream is a queue-proxy (its `K-Request-Not-Sent` answers are read off). */
  marksNotSent?: boolean;
  /** Admission is held until the test calls `admitNow`. */
  hold?: boolean;
  /** The dispatcher leaves `onRequestStart` to the test. */
  lateStart?: boolean;
}

/** The smallest exchange: admits at once (or when told), forwards to the fake dispatcher, records its end. */
class TestExchange extends ProxyExchange {
  readonly endings: boolean[] = [];
  readonly failures: { err: Error; sent: boolean }[] = [];
  readonly over: Promise<boolean>;
  private retries: number;
  private settle!: (completed: boolean) => void;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    private readonly upstream: FakeDispatcher,
    private readonly options: TestOptions,
  ) {
    super(req, res, options.timeouts ?? NO_TIMEOUTS, logger, Date.now());
    this.retries = options.retries ?? 0;
    this.over = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  protected override get upstreamMarksNotSent(): boolean {
    return this.options.marksNotSent === true;
  }

  get wasTimedOut(): boolean {
    return this.timedOut;
  }

  get hasEnded(): boolean {
    return this.isOver;
  }

  protected admit(): void {
    if (!this.options.hold) this.admitNow();
  }

  admitNow(): void {
    if (this.isOver) return;
    this.forward(this.upstream as unknown as Dispatcher, {
      path: this.req.url ?? '/',
      method: this.req.method ?? 'GET',
      headers: [],
      body: null,
    });
  }

  protected override upstreamFailed(err: Error, sent: boolean): void {
    this.failures.push({ err, sent });
    if (!sent && this.retries > 0) {
      this.retries--;
      this.retry();
      return;
    }
    super.upstreamFailed(err, sent);
  }

  protected ended(completed: boolean): void {
    this.endings.push(completed);
    this.settle(completed);
  }
}

/** What a client saw of one response. */
interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  trailers: NodeJS.Dict<string>;
  /** Set when the connection broke before the response ended. */
  error?: Error;
}

const servers: (Server | Http2Server)[] = [];
const sessions: ClientHttp2Session[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const s of sessions.splice(0)) s.destroy();
  await Promise.all(
    servers.splice(0).map((server) => {
      if ('closeAllConnections' in server) server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
});

/** An HTTP/1.1 server on 127.0.0.1 whose every request is a {@link TestExchange} to `upstream`. */
async function serve(options: TestOptions = {}) {
  const upstream = new FakeDispatcher(!options.lateStart);
  const arrivals = new Arrivals<TestExchange>();
  const server = createServer((req, res) => {
    const exchange = new TestExchange(req, res, upstream, options);
    arrivals.push(exchange);
    exchange.begin();
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return { upstream, exchanges: arrivals.items, arrived: () => arrivals.nth(1), port };
}

/** Sends a GET; `reply` settles when the response ended or its connection broke. */
function get(port: number, path = '/', headers: Record<string, string> = {}) {
  const req = request({ host: '127.0.0.1', port, path, headers, agent: false });
  const reply = new Promise<Reply>((resolve) => {
    const out: Reply = { status: 0, headers: {}, body: '', trailers: {} };
    req.on('error', (err) => resolve({ ...out, error: err }));
    req.on('response', (res) => {
      out.status = res.statusCode ?? 0;
      out.headers = res.headers;
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => {
        out.body += chunk;
      });
      res.on('end', () => resolve({ ...out, trailers: res.trailers }));
      res.on('error', (err) => resolve({ ...out, error: err }));
    });
  });
  req.end();
  return { req, reply };
}

/** Lets pending I/O callbacks run (a late `ended` would show up here). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('ProxyExchange', () => {
  it('relays the upstream response without its hop-by-hop headers and ends once, completed', async () => {
    const { upstream, exchanges, port } = await serve();
    const { reply } = get(port, '/hello?x=1');
    const d = await upstream.nth(1);
    expect(d.options.path).toBe('/hello?x=1');
    respond(d, 201, { 'x-app': 'yes', connection: 'keep-alive', 'keep-alive': 'timeout=5' });
    data(d, 'hello ');
    data(d, 'world');
    end(d);
    const r = await reply;
    expect(r.status).toBe(201);
    expect(r.headers['x-app']).toBe('yes');
    expect(r.headers['keep-alive']).toBeUndefined();
    expect(r.body).toBe('hello world');
    expect(await exchanges[0]!.over).toBe(true);
    await settle();
    expect(exchanges[0]!.endings).toEqual([true]);
    expect(d.controller.aborted).toBe(false);
  });

  describe('total timeout', () => {
    const timeouts: ExchangeTimeouts = { ...NO_TIMEOUTS, totalMs: 1000 };

    it('answers 504 `request timeout` when nothing was written, and cancels the upstream', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const { upstream, exchanges, port } = await serve({ timeouts });
      const { reply } = get(port);
      const d = await upstream.nth(1);
      vi.advanceTimersByTime(999);
      expect(exchanges[0]!.hasEnded).toBe(false);
      vi.advanceTimersByTime(1);
      const r = await reply;
      expect(r.status).toBe(504);
      expect(r.body).toBe(ERRORS.REQUEST_TIMEOUT.body);
      expect(d.controller.aborted).toBe(true);
      // The upstream's late answer changes nothing.
      respond(d, 200);
      end(d);
      await exchanges[0]!.over;
      await settle();
      expect(exchanges[0]!.endings).toEqual([true]);
      expect(exchanges[0]!.wasTimedOut).toBe(true);
    });

    it('counts the wait for admission, and a late admission sends nothing', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const { upstream, arrived, port } = await serve({ timeouts, hold: true });
      const { reply } = get(port);
      const exchange = await arrived();
      vi.advanceTimersByTime(1000);
      expect((await reply).status).toBe(504);
      expect(exchange.hasEnded).toBe(true);
      exchange.admitNow();
      expect(upstream.dispatched).toHaveLength(0);
      await exchange.over;
      await settle();
      expect(exchange.endings).toEqual([true]);
    });

    it('ends a started chunked response with the text `request timeout`, status kept', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const { upstream, exchanges, port } = await serve({ timeouts });
      const { reply } = get(port);
      const d = await upstream.nth(1);
      respond(d, 200);
      data(d, 'partial ');
      vi.advanceTimersByTime(1000);
      const r = await reply;
      expect(r.status).toBe(200);
      expect(r.error).toBeUndefined();
      expect(r.body).toBe('partial request timeout');
      expect(d.controller.aborted).toBe(true);
      error(d, new Error('aborted'));
      await exchanges[0]!.over;
      await settle();
      expect(exchanges[0]!.endings).toEqual([true]);
    });

    it('closes the connection of a started response of declared length', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const { upstream, exchanges, port } = await serve({ timeouts });
      const { reply } = get(port);
      const d = await upstream.nth(1);
      respond(d, 200, { 'content-length': '100' });
      data(d, 'partial');
      // Written out before the timeout cuts the connection.
      await settle();
      vi.advanceTimersByTime(1000);
      const r = await reply;
      expect(r.status).toBe(200);
      expect(r.error).toBeDefined();
      expect(d.controller.aborted).toBe(true);
      expect(await exchanges[0]!.over).toBe(false);
      await settle();
      expect(exchanges[0]!.endings).toEqual([false]);
      expect(exchanges[0]!.wasTimedOut).toBe(true);
    });
  });

  describe('response-start timeout', () => {
    const timeouts: ExchangeTimeouts = { ...NO_TIMEOUTS, responseStartMs: 500 };

    it('answers 504 when the response has not started in time', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const { upstream, exchanges, port } = await serve({ timeouts });
      const { reply } = get(port);
      const d = await upstream.nth(1);
      vi.advanceTimersByTime(500);
      const r = await reply;
      expect(r.status).toBe(504);
      expect(r.body).toBe(ERRORS.REQUEST_TIMEOUT.body);
      expect(d.controller.aborted).toBe(true);
      await exchanges[0]!.over;
      await settle();
      expect(exchanges[0]!.endings).toEqual([true]);
    });

    it('stops once the response started, however long it then takes', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const { upstream, exchanges, port } = await serve({ timeouts });
      const { reply } = get(port);
      const d = await upstream.nth(1);
      vi.advanceTimersByTime(499);
      respond(d, 200);
      vi.advanceTimersByTime(10_000);
      data(d, 'late but fine');
      end(d);
      const r = await reply;
      expect(r.status).toBe(200);
      expect(r.body).toBe('late but fine');
      expect(d.controller.aborted).toBe(false);
      await exchanges[0]!.over;
      await settle();
      expect(exchanges[0]!.endings).toEqual([true]);
    });
  });

  describe('idle timeout', () => {
    const timeouts: ExchangeTimeouts = { ...NO_TIMEOUTS, idleMs: 1000 };

    it('answers 504 when nothing was written within it of arrival', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const { upstream, exchanges, port } = await serve({ timeouts });
      const { reply } = get(port);
      const d = await upstream.nth(1);
      vi.advanceTimersByTime(1000);
      expect((await reply).status).toBe(504);
      expect(d.controller.aborted).toBe(true);
      await exchanges[0]!.over;
      await settle();
      expect(exchanges[0]!.endings).toEqual([true]);
    });

    it('is re-armed by every write and closes the connection once the response goes quiet', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const { upstream, exchanges, port } = await serve({ timeouts });
      const { reply } = get(port);
      const d = await upstream.nth(1);
      vi.advanceTimersByTime(600);
      respond(d, 200);
      vi.advanceTimersByTime(600);
      data(d, 'a');
      vi.advanceTimersByTime(600);
      data(d, 'b');
      await settle();
      vi.advanceTimersByTime(999);
      expect(exchanges[0]!.hasEnded).toBe(false);
      vi.advanceTimersByTime(1);
      const r = await reply;
      expect(r.status).toBe(200);
      expect(r.body).toBe('ab');
      expect(r.error).toBeDefined();
      expect(d.controller.aborted).toBe(true);
      await exchanges[0]!.over;
      await settle();
      expect(exchanges[0]!.endings).toEqual([false]);
      expect(exchanges[0]!.wasTimedOut).toBe(true);
    });
  });

  it('pauses the upstream while a slow client reads, and resumes it on drain', async () => {
    const { upstream, exchanges, port } = await serve();
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false });
    req.end();
    const response = once(req, 'response') as Promise<[IncomingMessage]>;
    const d = await upstream.nth(1);
    respond(d, 200);
    // The client reads nothing yet: writes fill the socket until the exchange pauses the upstream.
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    let sent = 0;
    while (!d.controller.paused && sent < 256 * chunk.length) {
      data(d, chunk);
      sent += chunk.length;
    }
    expect(d.controller.paused).toBe(true);
    const resumed = d.controller.resumed();
    const [res] = await response;
    let received = 0;
    res.on('data', (c: Buffer) => {
      received += c.length;
    });
    await resumed;
    expect(d.controller.paused).toBe(false);
    end(d);
    await once(res, 'end');
    expect(received).toBe(sent);
    expect(await exchanges[0]!.over).toBe(true);
  });

  it('passes trailers through a chunked HTTP/1.1 response', async () => {
    const { upstream, exchanges, port } = await serve();
    const { reply } = get(port);
    const d = await upstream.nth(1);
    respond(d, 200, { 'transfer-encoding': 'chunked' });
    data(d, 'body');
    end(d, { 'x-checksum': 'abc' });
    const r = await reply;
    expect(r.body).toBe('body');
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.trailers['x-checksum']).toBe('abc');
    await exchanges[0]!.over;
    await settle();
    expect(exchanges[0]!.endings).toEqual([true]);
  });

  it('over HTTP/2, sends a bodiless response its headers before its trailers (a gRPC status)', async () => {
    const upstream = new FakeDispatcher(true);
    const exchanges: TestExchange[] = [];
    const server = createHttp2Server((req, res) => {
      const exchange = new TestExchange(
        req as unknown as IncomingMessage,
        res as unknown as ServerResponse,
        upstream,
        {},
      );
      exchanges.push(exchange);
      exchange.begin();
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    sessions.push(session);
    session.on('error', () => {});
    const stream = session.request({ ':path': '/pkg.Service/Method', 'content-type': 'application/grpc' });
    stream.end();
    const headers = once(stream, 'response') as Promise<[Http2Headers]>;
    const trailers = once(stream, 'trailers') as Promise<[Http2Headers]>;
    stream.resume();
    const d = await upstream.nth(1);
    respond(d, 200, { 'content-type': 'application/grpc' });
    end(d, { 'grpc-status': '7', 'grpc-message': 'denied' });
    const [h] = await headers;
    expect(h[':status']).toBe(200);
    expect(h['grpc-status']).toBeUndefined();
    const [t] = await trailers;
    expect(t['grpc-status']).toBe('7');
    expect(t['grpc-message']).toBe('denied');
    expect(await exchanges[0]!.over).toBe(true);
    await settle();
    expect(exchanges[0]!.endings).toEqual([true]);
  });

  describe('upstream failures before the response', () => {
    it('retries one that never reached the app (a refused connect)', async () => {
      const { upstream, exchanges, port } = await serve({ retries: 1 });
      const { reply } = get(port);
      const first = await upstream.nth(1);
      error(first, connectError('ECONNREFUSED'));
      const second = await upstream.nth(2);
      respond(second, 200);
      data(second, 'second try');
      end(second);
      const r = await reply;
      expect(r.status).toBe(200);
      expect(r.body).toBe('second try');
      const exchange = exchanges[0]!;
      expect(exchange.failures.map((f) => f.sent)).toEqual([false]);
      await exchange.over;
      await settle();
      expect(exchange.endings).toEqual([true]);
    });

    it('answers 502 for one that may have reached the app (a reset), without retrying', async () => {
      const { upstream, exchanges, port } = await serve({ retries: 1 });
      const { reply } = get(port);
      const d = await upstream.nth(1);
      error(d, connectError('ECONNRESET'));
      const r = await reply;
      expect(r.status).toBe(502);
      expect(r.body).toBe(ERRORS.UPSTREAM_FAILED.body);
      expect(upstream.dispatched).toHaveLength(1);
      const exchange = exchanges[0]!;
      expect(exchange.failures.map((f) => f.sent)).toEqual([true]);
      await exchange.over;
      await settle();
      expect(exchange.endings).toEqual([true]);
    });

    it('cuts the client connection when the upstream fails mid-response', async () => {
      const { upstream, exchanges, port } = await serve();
      const { reply } = get(port);
      const d = await upstream.nth(1);
      respond(d, 200);
      data(d, 'some');
      await settle();
      error(d, connectError('ECONNRESET'));
      const r = await reply;
      expect(r.status).toBe(200);
      expect(r.error).toBeDefined();
      expect(exchanges[0]!.failures).toHaveLength(0);
      await exchanges[0]!.over;
      await settle();
      expect(exchanges[0]!.endings).toEqual([false]);
    });

    it("reads off a queue-proxy's K-Request-Not-Sent answer and retries the request", async () => {
      const { upstream, exchanges, port } = await serve({ retries: 1, marksNotSent: true });
      const { reply } = get(port);
      const first = await upstream.nth(1);
      respond(first, 503, { 'k-request-not-sent': 'app-refused', 'retry-after': '1' });
      data(first, 'request not sent\n');
      expect(upstream.dispatched).toHaveLength(1);
      end(first);
      const second = await upstream.nth(2);
      respond(second, 200);
      end(second);
      const r = await reply;
      expect(r.status).toBe(200);
      expect(r.headers['k-request-not-sent']).toBeUndefined();
      expect(exchanges[0]!.failures.map((f) => f.sent)).toEqual([false]);
      await exchanges[0]!.over;
      await settle();
      expect(exchanges[0]!.endings).toEqual([true]);
    });

    it('answers 503 with Retry-After when such a request is not retried', async () => {
      const { upstream, port } = await serve({ marksNotSent: true });
      const { reply } = get(port);
      const d = await upstream.nth(1);
      respond(d, 503, { 'k-request-not-sent': 'app-refused' });
      end(d);
      const r = await reply;
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.headers['k-request-not-sent']).toBeUndefined();
    });

    it("relays an app's answer carrying the marker as it is, marker removed", async () => {
      const { upstream, exchanges, port } = await serve({ retries: 1 });
      const { reply } = get(port);
      const d = await upstream.nth(1);
      respond(d, 503, { 'k-request-not-sent': 'forged' });
      data(d, 'from the app');
      end(d);
      const r = await reply;
      expect(r.status).toBe(503);
      expect(r.body).toBe('from the app');
      expect(r.headers['k-request-not-sent']).toBeUndefined();
      expect(exchanges[0]!.failures).toHaveLength(0);
      expect(upstream.dispatched).toHaveLength(1);
    });
  });

  describe('a client that leaves', () => {
    async function leave(req: ClientRequest, exchange: TestExchange): Promise<void> {
      req.destroy();
      expect(await exchange.over).toBe(false);
      await settle();
    }

    it('before the response started cancels the upstream request', async () => {
      const { upstream, exchanges, port } = await serve();
      const { req } = get(port);
      const d = await upstream.nth(1);
      await leave(req, exchanges[0]!);
      expect(d.controller.aborted).toBe(true);
      // undici then reports the abort; it is not answered.
      error(d, d.controller.reason!);
      await settle();
      expect(exchanges[0]!.endings).toEqual([false]);
      expect(exchanges[0]!.failures).toHaveLength(0);
    });

    it('mid-response cancels the upstream request', async () => {
      const { upstream, exchanges, port } = await serve();
      const { req } = get(port);
      const d = await upstream.nth(1);
      respond(d, 200);
      data(d, 'some');
      await once(req, 'response');
      await leave(req, exchanges[0]!);
      expect(d.controller.aborted).toBe(true);
      data(d, 'more');
      error(d, d.controller.reason!);
      await settle();
      expect(exchanges[0]!.endings).toEqual([false]);
    });

    it('while waiting for admission ends the exchange, and a late admission sends nothing', async () => {
      const { upstream, arrived, port } = await serve({ hold: true });
      const { req } = get(port);
      const exchange = await arrived();
      await leave(req, exchange);
      expect(exchange.hasEnded).toBe(true);
      exchange.admitNow();
      expect(upstream.dispatched).toHaveLength(0);
      expect(exchange.endings).toEqual([false]);
    });

    it('before the dispatcher started the request aborts it as it starts', async () => {
      const { upstream, exchanges, port } = await serve({ lateStart: true });
      const { req } = get(port);
      const d = await upstream.nth(1);
      await leave(req, exchanges[0]!);
      expect(d.controller.aborted).toBe(false);
      d.handler.onRequestStart?.(d.controller, {});
      expect(d.controller.aborted).toBe(true);
      error(d, d.controller.reason!);
      await settle();
      expect(exchanges[0]!.endings).toEqual([false]);
    });
  });
});
