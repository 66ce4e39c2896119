import { once } from 'node:events';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  createServer as createTlsServer,
  type TLSSocket,
  type TlsOptions,
  type Server as TlsServer,
} from 'node:tls';
import { answerClientError } from './client-error.js';
import type { Logger } from './logger.js';
import { nodeHttp, nodeHttp2 } from './node-http.js';

/** The client connection preface that opens every HTTP/2 connection (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * One listener for HTTP/1.1 and prior-knowledge h2c, as Knative's serving port (`pkg:network/h2c.go`):
 * each new connection's first bytes decide which server gets it, and are put back for that server to
 * read. Only the first packet of a connection is inspected, so keep-alive traffic pays nothing.
 */
export function createServingListener(http1: HttpServer, http2: Http2Server): Server {
  return createServer({ noDelay: true }, (socket) => route(socket, http1, http2, Buffer.alloc(0)));
}

/** Where {@link route} hands a connection: a server's `connection` event. */
interface ConnectionTarget {
  emit(event: 'connection', socket: Socket): boolean;
}

function route(socket: Socket, http1: HttpServer, http2: ConnectionTarget, seen: Buffer): void {
  socket.once('data', (chunk: Buffer) => {
    socket.pause();
    const head = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    if (head.length < H2_PREFACE.length && H2_PREFACE.subarray(0, head.length).equals(head)) {
      // Could still be the preface: wait for more.
      socket.resume();
      route(socket, http1, http2, head);
      return;
    }
    socket.unshift(head);
    const isH2 = head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE);
    if (isH2) {
      http2.emit('connection', socket);
    } else {
      http1.emit('connection', socket);
      socket.resume();
    }
  });
}

/** What a TLS serving port offers by ALPN, in Go's net/http order for a TLS server: `h2`, then `http/1.1`. */
const ALPN_PROTOCOLS = ['h2', 'http/1.1'];

/**
 * One TLS listener for HTTP/1.1 and HTTP/2, as Go's `ListenAndServeTLS` serves Knative's TLS port: once
 * the handshake is done, ALPN decides which server gets the connection, and a connection that negotiated
 * no protocol is routed by its first bytes like a plain one. Node's `http2.createSecureServer({
 * allowHTTP1 })` would need its own copy of every HTTP/1.1 limit and its own drain; handing connections
 * to the plain port's two servers keeps one of each.
 */
export function createTlsServingListener(
  http1: HttpServer,
  http2: Http2Server,
  options: TlsOptions,
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
  return createTlsServer(
    {
      ...options,
      ALPNProtocols: ALPN_PROTOCOLS,
      // Go's ReadHeaderTimeout deadline covers the handshake too.
      handshakeTimeout: READ_HEADER_TIMEOUT_MS,
      noDelay: true,
    },
    (socket: TLSSocket) => {
      const protocol = socket.alpnProtocol;
      if (protocol === 'h2') http2.emit('connection', socket);
      else if (protocol === 'http/1.1') http1.emit('connection', socket);
      else route(socket, http1, priorKnowledge, Buffer.alloc(0));
    },
  );
}

/** Go's `http.DefaultMaxHeaderBytes`: larger request heads get 431, as with Knative's proxies. */
export const MAX_HEADER_BYTES = 1 << 20;
/** Go's ReadHeaderTimeout on Knative's serving listeners (`pkg:network/h2c.go`). */
const READ_HEADER_TIMEOUT_MS = 60_000;
/**
 * Idle keep-alive connections stay open longer than callers' own idle timeouts (Go's transport: 90 s),
 * so a caller never reuses a connection the proxy is closing at that moment (Knative #12414).
 */
const KEEP_ALIVE_TIMEOUT_MS = 95_000;

/** Handles a request of either protocol (the HTTP/2 compat API mirrors HTTP/1's for what proxies use). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
/** Handles an HTTP/1.1 upgrade (websockets). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * A proxy's serving endpoint: one listener for HTTP/1.1 and h2c, with Go-like limits (1 MiB heads,
 * 60 s to read them, no total request timeout: the proxy's own timers govern), malformed requests
 * answered without reaching the handler, and a graceful close for both protocols.
 */
export class ServingEndpoint {
  readonly http1: HttpServer;
  readonly http2: Http2Server;
  /** The first listener; {@link addListener} opens more on the same servers. */
  readonly listener: Server;
  private readonly listeners: Server[] = [];
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(
    handler: RequestHandler,
    onUpgrade: UpgradeHandler | undefined,
    private readonly logger: Logger,
  ) {
    this.http1 = nodeHttp.createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        requestTimeout: 0,
        headersTimeout: READ_HEADER_TIMEOUT_MS,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      },
      handler,
    );
    if (onUpgrade) this.http1.on('upgrade', onUpgrade);
    this.http1.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
      answerClientError(err, socket, logger),
    );
    this.http2 = nodeHttp2.createServer(
      { settings: { maxHeaderListSize: MAX_HEADER_BYTES } },
      handler as never,
    );
    this.http2.on('sessionError', (err) => logger.warn({ err }, 'h2c session error'));
    this.http2.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
    // Node arms HTTP/1's header and keep-alive timeout checks when its server listens; this one never
    // does itself (the listeners below hand it connections), so arm them once here.
    this.http1.emit('listening');
    this.listener = this.addListener();
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
    const listener = createServingListener(this.http1, this.http2);
    this.listeners.push(listener);
    return listener;
  }

  /**
   * Opens a TLS listener onto the same servers (Knative's 8112): every request goes through the same
   * handler, and {@link close} closes it with the others. `options` holds the certificate and protocol
   * settings; replace the certificate later with the listener's `setSecureContext`.
   */
  addTlsListener(options: TlsOptions): TlsServer {
    const listener = createTlsServingListener(this.http1, this.http2, options);
    // Failed handshakes are the client's business (scanners, a wrong CA); they never reach a handler.
    listener.on('tlsClientError', (err) => this.logger.debug({ err }, 'TLS handshake failed'));
    this.listeners.push(listener);
    return listener;
  }

  /** Closes HTTP/1.1 keep-alive connections that have no request in flight. */
  closeIdle(): void {
    this.http1.closeIdleConnections();
  }

  /** Closes every connection now. */
  closeAll(): void {
    this.http1.closeAllConnections();
    for (const session of this.sessions) session.destroy();
  }
}

/** A listener could not bind; the message names the variable that chose its port. */
export class ListenError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'ListenError';
  }
}

/** Binds `server` and returns the port bound; a failure becomes a {@link ListenError} naming `variable`. */
export async function listenOn(
  server: Server,
  port: number,
  host: string,
  variable: string,
): Promise<number> {
  server.listen({ port, host: host === '' ? undefined : host });
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
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('metrics collection failed\n');
  }
}
