import { once } from 'node:events';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket, TlsOptions, Server as TlsServer } from 'node:tls';
import { answerBadHead, answerClientError, answerHeaderTimeout } from './client-error.js';
import { DEFAULT_H2_LIMITS, type H2Limits, H2StreamGuard } from './h2-stream-guard.js';
import type { Logger } from './logger.js';
import { nodeTls } from './node-builtins.js';
import { nodeHttp, nodeHttp2 } from './node-http.js';
import { Http1Relay, type RelayRoute } from './relay/index.js';
import { headProblem } from './request-head-rules.js';
import { sendError } from './respond.js';

/** The client connection preface that opens every HTTP/2 connection (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * Default of the time a client has to send a request head: Go's ReadHeaderTimeout on Knative's serving
 * listeners (`pkg:network/h2c.go` `NewServer`: one minute).
 */
export const DEFAULT_HEADER_TIMEOUT_MS = 60_000;

/** Where {@link ConnectionRouter} hands a connection: a server's `connection` event. */
export interface ConnectionTarget {
  emit(event: 'connection', socket: Socket): boolean;
}

const kHeadTimer = Symbol('headTimer');
const kRouted = Symbol('routed');
const kExpired = Symbol('headExpired');
type RoutedSocket = Socket & { [kHeadTimer]?: NodeJS.Timeout; [kRouted]?: boolean; [kExpired]?: boolean };

/**
 * Hands each new connection to the HTTP/1.1 or the HTTP/2 server and bounds the time its first request
 * head may take, as Go's ReadHeaderTimeout does from the connection's start (after the TLS handshake).
 * Node's own `headersTimeout` only starts once bytes reach the HTTP/1.1 parser, so a connection that
 * sends nothing, or trickles the HTTP/2 preface, would otherwise be held forever.
 */
export class ConnectionRouter {
  constructor(
    private readonly http1: HttpServer,
    private readonly http2: ConnectionTarget,
    private readonly headerTimeoutMs: number,
    private readonly logger: Logger,
    /** Takes plain HTTP/1.1 connections before node:http does, when set. */
    private readonly relay?: Http1Relay,
  ) {}

  /** Takes a new connection: its first bytes decide where it goes (see {@link createServingListener}). */
  readonly accept = (socket: Socket): void => {
    this.#arm(socket);
    this.#sniff(socket, EMPTY);
  };

  /** Hands a connection known to speak HTTP/1.1 (by ALPN) to that server, its head timer armed. */
  http1Connection(socket: Socket): void {
    this.#arm(socket);
    (socket as RoutedSocket)[kRouted] = true;
    this.http1.emit('connection', socket);
  }

  #arm(socket: Socket): void {
    (socket as RoutedSocket)[kHeadTimer] = setTimeout(onHeadTimeout, this.headerTimeoutMs, socket, this);
  }

  #sniff(socket: Socket, seen: Buffer): void {
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      const head = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      if (head.length < H2_PREFACE.length && H2_PREFACE.subarray(0, head.length).equals(head)) {
        // Could still be the preface: wait for more (the head timer still runs).
        socket.resume();
        this.#sniff(socket, head);
        return;
      }
      socket.unshift(head);
      (socket as RoutedSocket)[kRouted] = true;
      if (head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE)) {
        // The preface is in; the HTTP/2 server times the SETTINGS that follow it.
        headComplete(socket);
        this.http2.emit('connection', socket);
      } else {
        if (this.relay) this.relay.accept(socket);
        else this.http1.emit('connection', socket);
        socket.resume();
      }
    });
  }

  /** The head timer fired: 408 to a started HTTP/1.1 head, a plain close to a connection that said nothing. */
  timedOut(socket: Socket): void {
    (socket as RoutedSocket)[kHeadTimer] = undefined;
    if (socket.destroyed) return;
    if ((socket as RoutedSocket)[kRouted] === true) {
      expireHead(socket, this.logger);
      return;
    }
    this.logger.debug({ headerTimeoutMs: this.headerTimeoutMs }, 'connection sent no request in time');
    socket.destroy();
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * A request head on `socket` is complete (its `request` or `upgrade` came): stops timing the connection's
 * first head; false when the head came after it was answered 408 (the request must not run).
 */
function headComplete(socket: Socket | null): boolean {
  const routed = socket as RoutedSocket | null;
  if (routed === null) return true;
  const timer = routed[kHeadTimer];
  if (timer !== undefined) {
    clearTimeout(timer);
    routed[kHeadTimer] = undefined;
  }
  if (routed[kExpired] !== true) return true;
  socket?.destroy();
  return false;
}

/** Answers 408 to a head past its timeout; a head completed while the answer lingers is dropped. */
function expireHead(socket: Socket, logger: Logger): void {
  (socket as RoutedSocket)[kExpired] = true;
  answerHeaderTimeout(socket, logger);
}

function onHeadTimeout(socket: Socket, router: ConnectionRouter): void {
  router.timedOut(socket);
}

/**
 * One listener for HTTP/1.1 and prior-knowledge h2c, as Knative's serving port (`pkg:network/h2c.go`):
 * each new connection's first bytes decide which server gets it, and are put back for that server to
 * read. Only the first packet of a connection is inspected, so keep-alive traffic pays nothing.
 */
export function createServingListener(router: ConnectionRouter, logger: Logger): Server {
  return onAcceptErrors(createServer({ noDelay: true }, router.accept), logger);
}

/**
 * Keeps a listener serving when accepting a connection fails. libuv absorbs running out of descriptors
 * itself (it closes the connections it cannot take), but other failures (ENFILE once its reserve
 * descriptor is gone, ENOBUFS, ENOMEM) reach Node as an `error` on the listener, which would end the
 * process if nothing listened. Armed once bound, so that a bind error still reaches {@link listenOn}.
 */
function onAcceptErrors<T extends Server>(listener: T, logger: Logger): T {
  listener.once('listening', () =>
    listener.on('error', (err) => logger.error({ err }, 'could not accept a connection')),
  );
  return listener;
}

/** What a TLS serving port offers by ALPN, in Go's net/http order for a TLS server: `h2`, then `http/1.1`. */
const ALPN_PROTOCOLS = ['h2', 'http/1.1'];

/**
 * One TLS listener for HTTP/1.1 and HTTP/2, as Go's `ListenAndServeTLS` serves Knative's TLS port: once
 * the handshake is done, ALPN decides which server gets the connection, and a connection that negotiated
 * no protocol is routed by its first bytes like a plain one. Node's `http2.createSecureServer({
 * allowHTTP1 })` would need its own copy of every HTTP/1.1 limit and its own drain; handing connections
 * to the plain port's two servers keeps one of each. The handshake and then the first request head each
 * get the header timeout, as Go's server gives them.
 */
export function createTlsServingListener(
  http1: HttpServer,
  http2: ConnectionTarget,
  options: TlsOptions,
  headerTimeoutMs: number,
  logger: Logger,
): TlsServer {
  /**
   * Knative's activator dials this port with no ALPN (`pkg/activator/certificate/tls_context.go`) and
   * speaks prior-knowledge HTTP/2 to h2 revisions, which Go's h2c handler accepts; Node's HTTP/2 server
   * turns away any TLS socket that did not negotiate `h2`, so such a connection is marked as if it had.
   */
  const priorKnowledge: ConnectionTarget = {
    emit: (event, socket) => {
      (socket as TLSSocket).alpnProtocol = 'h2';
      return http2.emit(event, socket);
    },
  };
  const router = new ConnectionRouter(http1, priorKnowledge, headerTimeoutMs, logger);
  const listener = nodeTls().createServer(
    {
      ...options,
      ALPNProtocols: ALPN_PROTOCOLS,
      // Go's ReadHeaderTimeout deadline covers the handshake too.
      handshakeTimeout: headerTimeoutMs,
      noDelay: true,
    },
    (socket: TLSSocket) => {
      const protocol = socket.alpnProtocol;
      if (protocol === 'h2') http2.emit('connection', socket);
      else if (protocol === 'http/1.1') router.http1Connection(socket);
      else router.accept(socket);
    },
  );
  return onAcceptErrors(listener, logger);
}

/** Go's `http.DefaultMaxHeaderBytes`: larger request heads get 431, as with Knative's proxies. */
export const MAX_HEADER_BYTES = 1 << 20;
/**
 * Idle keep-alive connections stay open longer than callers' own idle timeouts (Go's transport: 90 s),
 * so a caller never reuses a connection the proxy is closing at that moment (Knative #12414).
 */
const KEEP_ALIVE_TIMEOUT_MS = 95_000;

/** Handles a request of either protocol (the HTTP/2 compat API mirrors HTTP/1's for what proxies use). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
/** Handles an HTTP/1.1 upgrade (websockets). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Limits of a {@link ServingEndpoint}; each left out takes its default. */
export interface ServingOptions {
  /**
   * How long a client may take to send a request head, in ms (Go's ReadHeaderTimeout): from the start of
   * the connection (the end of its TLS handshake) for the first request, from its first byte for later
   * ones. A head still incomplete then is answered 408 and the connection closed; a connection that sent
   * nothing is closed. Default {@link DEFAULT_HEADER_TIMEOUT_MS}.
   */
  readonly headerTimeoutMs?: number;
  /** HTTP/2 limits; default {@link DEFAULT_H2_LIMITS}. */
  readonly h2?: H2Limits;
  /**
   * Runs plain HTTP/1.1 requests on the raw relay (docs/queue-proxy.md §3.5) where this route takes them;
   * the rest, TLS and HTTP/2 go through `handler`.
   */
  readonly relay?: RelayRoute;
}

/**
 * How often Node's HTTP/1.1 server looks for heads past their timeout (it checks on an interval, 30 s by
 * default, which made a 60 s timeout fire at up to 90 s): a quarter of the timeout, at most a second.
 */
function checkingIntervalMs(headerTimeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(headerTimeoutMs / 4)));
}

/**
 * A proxy's serving endpoint: one listener for HTTP/1.1 and h2c, with Go-like limits (1 MiB heads,
 * 60 s to send them, no total request timeout: the proxy's own timers govern; HTTP/2 streams bounded as
 * {@link H2StreamGuard} says), malformed requests answered without reaching the handler, and a graceful
 * close for both protocols.
 */
export class ServingEndpoint {
  readonly http1: HttpServer;
  /** The first listener; {@link addListener} opens more on the same servers. */
  readonly listener: Server;
  /** The HTTP/2 stream limits in force (and the count of streams open, for tests and metrics). */
  readonly h2Guard: H2StreamGuard;
  private readonly listeners: Server[] = [];
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly router: ConnectionRouter;
  private readonly headerTimeoutMs: number;
  private readonly relay: Http1Relay | undefined;
  private readonly handler: RequestHandler;
  private readonly h2Limits: H2Limits;
  private h2Server: Http2Server | undefined;

  constructor(
    handler: RequestHandler,
    onUpgrade: UpgradeHandler | undefined,
    private readonly logger: Logger,
    options: ServingOptions = {},
  ) {
    const headerTimeoutMs = options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
    if (!(Number.isInteger(headerTimeoutMs) && headerTimeoutMs > 0)) {
      throw new RangeError(`headerTimeoutMs: must be a positive integer, got ${headerTimeoutMs}`);
    }
    this.headerTimeoutMs = headerTimeoutMs;
    const h2 = options.h2 ?? DEFAULT_H2_LIMITS;
    this.h2Guard = new H2StreamGuard(h2);
    this.http1 = nodeHttp.createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        requestTimeout: 0,
        headersTimeout: headerTimeoutMs,
        connectionsCheckingInterval: checkingIntervalMs(headerTimeoutMs),
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      },
      (req, res) => {
        if (!headComplete(req.socket)) return;
        const problem = headProblem(req);
        if (problem === undefined) handler(req, res);
        else refuseHead(res, problem, logger);
      },
    );
    if (onUpgrade) {
      this.http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (!headComplete(req.socket)) return;
        const problem = headProblem(req);
        if (problem === undefined) onUpgrade(req, socket, head);
        else answerBadHead(socket, problem, logger);
      });
    }
    this.http1.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!headComplete(socket)) return;
      // Node's own header timeout, for the heads after a connection's first (the router times the first).
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') expireHead(socket, logger);
      else answerClientError(err, socket, logger);
    });
    this.handler = handler;
    this.h2Limits = h2;
    // Node arms HTTP/1's header and keep-alive timeout checks when its server listens; this one never
    // does itself (the listeners below hand it connections), so arm them once here.
    this.http1.emit('listening');
    this.relay = options.relay && this.makeRelay(options.relay);
    this.router = new ConnectionRouter(this.http1, this.http2Target, headerTimeoutMs, logger, this.relay);
    this.listener = this.addListener();
  }

  /**
   * The HTTP/2 server, made at the first HTTP/2 connection (or on first access). `node:http2` brings
   * `node:tls` and `node:crypto` with it, about 15 ms of CPU: a process that serves only HTTP/1.1 (most
   * Pods, and every readiness probe) never pays it, and an h2c revision's first connection pays it once
   * instead of its start, so spawn → first answer over h2c takes as long as before.
   */
  get http2(): Http2Server {
    this.h2Server ??= this.createHttp2();
    return this.h2Server;
  }

  /** Hands a connection to {@link http2}, making the server first if need be. */
  private readonly http2Target: ConnectionTarget = {
    emit: (event, socket) => this.http2.emit(event, socket),
  };

  private createHttp2(): Http2Server {
    const h2 = this.h2Limits;
    const guard = this.h2Guard;
    const handler = this.handler;
    const logger = this.logger;
    const headerTimeoutMs = this.headerTimeoutMs;
    const server = nodeHttp2().createServer(
      {
        settings: { maxHeaderListSize: MAX_HEADER_BYTES, maxConcurrentStreams: h2.maxConcurrentStreams },
        // nghttp2's own limit on resets received stays as a backstop, well above ours.
        streamResetBurst: NGHTTP2_RESET_BACKSTOP * h2.resetBurst,
        streamResetRate: NGHTTP2_RESET_BACKSTOP * h2.resetsPerSecond,
      },
      // The handler runs once the rest of the read that carried the request is processed: a stream the
      // client reset in that same read (rapid reset) is then closed and never goes upstream.
      (req, res) => {
        if (guard.admit(req.stream) === undefined) setImmediate(startH2Request, handler, req, res);
      },
    );
    server.on('sessionError', (err) => logger.warn({ err }, 'h2c session error'));
    server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      // The client's SETTINGS follow its preface: a connection that sends none in time is closed.
      const settingsTimer = setTimeout(closeSilentSession, headerTimeoutMs, session);
      session.once('remoteSettings', () => clearTimeout(settingsTimer));
      session.once('close', () => {
        clearTimeout(settingsTimer);
        this.sessions.delete(session);
      });
    });
    return server;
  }

  private makeRelay(route: RelayRoute): Http1Relay {
    return new Http1Relay({
      route,
      handover: (socket) => this.http1.emit('connection', socket),
      firstHeadComplete: headComplete,
      headerTimeoutMs: this.headerTimeoutMs,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      maxHeadSize: MAX_HEADER_BYTES,
      logger: this.logger,
    });
  }

  /**
   * Stops accepting connections and sends GOAWAY to every h2c client (their streams in flight finish);
   * resolves once every connection is gone. Keep calling {@link closeIdle} meanwhile.
   */
  close(): Promise<void> {
    const closed = Promise.all(
      this.listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve()))),
    ).then(() => undefined);
    for (const session of this.sessions) session.close();
    return closed;
  }

  /** Opens another listener (another port) onto the same servers, as Knative's 8012 and 8013 are. */
  addListener(): Server {
    const listener = createServingListener(this.router, this.logger);
    this.listeners.push(listener);
    return listener;
  }

  /**
   * Opens a TLS listener onto the same servers (Knative's 8112): every request goes through the same
   * handler, and {@link close} closes it with the others. `options` holds the certificate and protocol
   * settings; replace the certificate later with the listener's `setSecureContext`.
   */
  addTlsListener(options: TlsOptions): TlsServer {
    const listener = createTlsServingListener(
      this.http1,
      this.http2Target,
      options,
      this.headerTimeoutMs,
      this.logger,
    );
    // Failed handshakes are the client's business (scanners, a wrong CA); they never reach a handler.
    // Node leaves the socket open after some of them (its handshake timeout among them): close it here.
    listener.on('tlsClientError', (err, socket) => {
      this.logger.debug({ err }, 'TLS handshake failed');
      socket.destroy();
    });
    this.listeners.push(listener);
    return listener;
  }

  /** Closes HTTP/1.1 keep-alive connections that have no request in flight. */
  closeIdle(): void {
    this.http1.closeIdleConnections();
    this.relay?.closeIdle();
  }

  /** Closes every connection now. */
  closeAll(): void {
    this.http1.closeAllConnections();
    this.relay?.closeAll();
    for (const session of this.sessions) session.destroy();
  }
}

/**
 * nghttp2 closes a connection that resets streams faster than its own limit with `INTERNAL_ERROR`; that
 * limit is set this many times above the guard's so the guard's `ENHANCE_YOUR_CALM` comes first. nghttp2
 * counts while it parses a read, before the guard sees any of it, and one 64 KiB read can carry about
 * 2,500 opened and reset streams: 20 × 200 is above that.
 */
const NGHTTP2_RESET_BACKSTOP = 20;

/** Answers a head {@link headProblem} refused with 400 and closes its connection; the handler never sees it. */
function refuseHead(res: ServerResponse, problem: string, logger: Logger): void {
  logger.warn({ status: 400, problem }, 'malformed request');
  res.shouldKeepAlive = false;
  sendError(res, 'BAD_REQUEST');
}

/** Runs an HTTP/2 request's handler unless the client already reset its stream. */
function startH2Request(handler: RequestHandler, req: Http2ServerRequest, res: Http2ServerResponse): void {
  if (!req.stream.destroyed) handler(req as never, res as never);
}

/** The header timer of a session that sent no SETTINGS fired. */
function closeSilentSession(session: ServerHttp2Session): void {
  if (!session.destroyed) session.destroy();
}

/** A listener could not bind; the message names the variable that chose its port. */
export class ListenError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'ListenError';
  }
}

/**
 * The accept queue asked of the kernel, which caps it at `net.core.somaxconn` (4096 on current kernels),
 * as Go's listeners take the system's limit. Node's default, 511, drops the SYNs of a burst of new
 * connections (a crowd arriving at a revision at zero), each of which then waits a second to retry.
 */
export const LISTEN_BACKLOG = 4096;

/** Binds `server` and returns the port bound; a failure becomes a {@link ListenError} naming `variable`. */
export async function listenOn(
  server: Server,
  port: number,
  host: string,
  variable: string,
): Promise<number> {
  server.listen({ port, host: host === '' ? undefined : host, backlog: LISTEN_BACKLOG });
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ListenError(`${variable}: cannot listen on ${host || '*'}:${port}: ${code}`, { cause: err });
  }
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

/** A Prometheus registry, as prom-client's. */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** Serves a registry's metrics in the Prometheus text format. */
export async function serveMetrics(
  registry: MetricsRegistry,
  res: ServerResponse,
  logger: Logger,
): Promise<void> {
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(body);
  } catch (err) {
    logger.error({ err }, 'metrics collection failed');
    sendError(res, 'METRICS_FAILED');
  }
}
