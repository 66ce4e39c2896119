import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type ServerHttp2Session } from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import { Breaker, H2CClient, type Logger, Pool, RequestStats, sendError } from '@zerogate/core';
import type { Dispatcher } from 'undici';
import type { QueueProxyConfig } from './config.js';
import { Drainer } from './drain.js';
import { HealthResponder } from './health.js';
import { ProxyHandler } from './proxy-handler.js';
import { ReadinessProber } from './readiness-probe.js';
import type { RequestMetrics } from './request-metrics.js';

import { createServingListener } from './serving-listener.js';
import { StatReporter } from './stat-reporter.js';
import { UpgradeProxy } from './upgrade.js';

/** Go's `http.DefaultMaxHeaderBytes`: larger request heads get 431, as with Knative's queue-proxy. */
const MAX_HEADER_BYTES = 1 << 20;
/** Go's ReadHeaderTimeout on Knative's serving listener (`pkg:network/h2c.go`). */
const READ_HEADER_TIMEOUT_MS = 60_000;
/**
 * Idle keep-alive connections stay open longer than callers' own idle timeouts (Go's transport: 90 s),
 * so a caller never reuses a connection the queue-proxy is closing at that moment (Knative #12414).
 */
const KEEP_ALIVE_TIMEOUT_MS = 95_000;
/** How long upgraded connections may stay open after the drain before they are closed (Knative ≥ 1.22). */
const UPGRADE_GRACE_MS = 60_000;
/** How long a connection that sent malformed HTTP may linger while its answer is read. */
const CLIENT_ERROR_LINGER_MS = 1000;
/** Concurrent h2c streams to the app when containerConcurrency does not bound them. */
const H2C_MAX_STREAMS = 1000;
/** Knative's `/wait-for-drain` resets the drain when no SIGTERM follows within this time (#13229). */
const WAIT_FOR_DRAIN_RESET_MS = 1000;

/** A listener could not bind; the message names the variable that chose its port. */
export class ListenError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'ListenError';
  }
}

/** A running queue-proxy. */
export interface QueueProxy {
  /** The serving port actually bound (differs from the config when it asked for 0). */
  readonly ports: { serving: number; admin: number; stats: number; metrics: number | undefined };
  /** Drains (probes fail, requests still served until quiet), then stops everything gracefully. */
  shutdown(): Promise<void>;
}

/** Builds the breaker Knative's `buildBreaker` would: none at CC=0, else CC slots and 10×CC waiting. */
export function buildBreaker(containerConcurrency: number): Breaker | undefined {
  if (containerConcurrency === 0) return undefined;
  return new Breaker({ capacity: containerConcurrency, queueDepth: 10 * containerConcurrency });
}

/** Starts every listener of the queue-proxy and returns once all are bound. */
export async function startQueueProxy(config: QueueProxyConfig, logger: Logger): Promise<QueueProxy> {
  const breaker = buildBreaker(config.containerConcurrency);
  const stats = new RequestStats();
  const drainer = new Drainer(config.drainQuietMs);
  const prober = new ReadinessProber(config.readinessProbes, { http2AutoDetect: config.http2AutoDetection });
  const health = new HealthResponder(drainer, prober, logger, config.probeRequestLog);
  // prom-client costs ~20 MiB of memory: loaded only when request metrics are on.
  const metrics = config.requestMetrics
    ? await createRequestMetrics(config, breaker ? () => breaker.inFlight + breaker.queued : undefined)
    : undefined;
  const pool = new Pool(`http://127.0.0.1:${config.userPort}`, {
    connections: config.containerConcurrency > 0 ? config.containerConcurrency : null,
    pipelining: 1,
    maxHeaderSize: MAX_HEADER_BYTES,
  });
  let h2c: InstanceType<typeof H2CClient> | undefined;
  const h2cClient = (): Dispatcher => {
    h2c ??= new H2CClient(`http://127.0.0.1:${config.userPort}`, {
      // Streams are bounded by the breaker (or unbounded at CC=0), not by the client.
      pipelining: config.containerConcurrency > 0 ? config.containerConcurrency : H2C_MAX_STREAMS,
      maxConcurrentStreams: config.containerConcurrency > 0 ? config.containerConcurrency : H2C_MAX_STREAMS,
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    return h2c;
  };
  const proxy = new ProxyHandler({
    pool,
    h2c: h2cClient,
    breaker,
    stats,
    drainer,
    health,
    metrics,
    logger,
    requestLog: config.requestLog,
    timeouts: {
      totalMs: config.revisionTimeoutMs,
      responseStartMs: config.responseStartTimeoutMs,
      idleMs: config.idleTimeoutMs,
      error: 'REQUEST_TIMEOUT',
    },
  });
  const upgrades = new UpgradeProxy({
    userPort: config.userPort,
    breaker,
    stats,
    drainer,
    logger,
    revisionTimeoutMs: config.revisionTimeoutMs,
  });
  const reporter = new StatReporter(stats, config.pod);

  const http1 = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: 0,
      headersTimeout: READ_HEADER_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    proxy.handle,
  );
  http1.on('upgrade', upgrades.handle);
  http1.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
    answerClientError(err, socket, logger),
  );
  // The compat API's request and response mirror HTTP/1's for everything the handler uses.
  const http2 = createH2Server({ settings: { maxHeaderListSize: MAX_HEADER_BYTES } }, proxy.handle as never);
  http2.on('sessionError', (err) => logger.warn({ err }, 'h2c session error'));
  const sessions = new Set<ServerHttp2Session>();
  http2.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const serving = createServingListener(http1, http2);

  let sigterm = false;
  const admin = createServer((req, res) => {
    if (req.url !== '/wait-for-drain') {
      res.writeHead(404).end();
      return;
    }
    logger.info('attached drain handler from user container');
    const reset = setTimeout(() => {
      // No SIGTERM followed: the user container is restarting (liveness), not the Pod stopping.
      if (!sigterm) drainer.reset();
    }, WAIT_FOR_DRAIN_RESET_MS);
    void drainer.drain().then(() => {
      clearTimeout(reset);
      res.writeHead(200).end();
    });
  });

  const statsServer = createServer((_req, res) => {
    const body = reporter.current;
    res.writeHead(200, { 'content-type': 'application/protobuf', 'content-length': body.length });
    res.end(body);
  });

  const metricsServer = metrics
    ? createServer((req, res) => serveMetrics(metrics, req, res, logger))
    : undefined;

  const host = config.bindAddress === '' ? undefined : config.bindAddress;
  const listen = async (server: NetServer, port: number, variable: string): Promise<number> => {
    server.listen({ port, host });
    try {
      await once(server, 'listening');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ListenError(`${variable}: cannot listen on ${host ?? '*'}:${port}: ${code}`, { cause: err });
    }
    const address = server.address();
    return typeof address === 'object' && address ? address.port : port;
  };
  const ports = {
    serving: await listen(serving, config.servingPort, 'QUEUE_SERVING_PORT'),
    admin: await listen(admin, config.adminPort, 'QUEUE_ADMIN_PORT'),
    stats: await listen(statsServer, config.statsPort, 'QUEUE_STATS_PORT'),
    metrics: metricsServer
      ? await listen(metricsServer, config.metricsPort, 'QUEUE_METRICS_PORT')
      : undefined,
  };
  reporter.start();

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    sigterm = true;
    stopping ??= (async () => {
      logger.info({ quietSeconds: config.drainQuietMs / 1000 }, 'draining');
      await drainer.drain();
      logger.info('drained; closing the serving listener');
      const servingClosed = new Promise<void>((resolve) => serving.close(() => resolve()));
      // Wait for requests in flight (not upgraded tunnels) to finish, closing connections as they idle.
      // GOAWAY to every h2c client: streams in flight finish, no new ones start.
      for (const session of sessions) session.close();
      while (stats.current - upgrades.size > 0) {
        http1.closeIdleConnections();
        await sleep(50);
      }
      http1.closeIdleConnections();
      const graceEnd = Date.now() + UPGRADE_GRACE_MS;
      while (upgrades.size > 0 && Date.now() < graceEnd) await sleep(50);
      upgrades.closeAll();
      http1.closeAllConnections();
      for (const session of sessions) session.destroy();
      await servingClosed;
      reporter.stop();
      prober.close();
      await Promise.all([
        closeServer(admin),
        closeServer(statsServer),
        metricsServer && closeServer(metricsServer),
      ]);
      await Promise.all([pool.close(), h2c?.close()]);
      logger.info('stopped');
    })();
    return stopping;
  };

  return { ports, shutdown };
}

async function createRequestMetrics(
  config: QueueProxyConfig,
  queueDepth: (() => number) | undefined,
): Promise<RequestMetrics> {
  const { RequestMetrics } = await import('./request-metrics.js');
  return new RequestMetrics(config, queueDepth);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function serveMetrics(
  metrics: RequestMetrics,
  _req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
) {
  try {
    const body = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType });
    res.end(body);
  } catch (err) {
    logger.error({ err }, 'metrics collection failed');
    sendError(res, 'INTERNAL');
  }
}

/** Malformed HTTP never reaches a handler, so it takes no slot: answer 400 (431 for an oversized head). */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, logger: Logger): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = tooLarge ? 'request header fields too large\n' : 'bad request\n';
  logger.warn({ code: err.code, status }, 'malformed request');
  // Read and discard whatever the client still sends: closing a socket with unread bytes makes the kernel
  // reset the connection, which can destroy the answer before the client reads it. Bounded by a timer.
  socket.on('error', () => undefined);
  socket.resume();
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
}
