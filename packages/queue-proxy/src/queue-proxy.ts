import type { Server } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import {
  buildBreaker,
  CertificateWatcher,
  createPool,
  Drainer,
  type ExchangeTimeouts,
  H2cDispatcher,
  type Logger,
  listenOn,
  MAX_HEADER_BYTES,
  nodeHttp,
  nodeTls,
  ProtobufStatsReporter,
  RequestLog,
  RequestStats,
  rateLimitLogs,
  ServingEndpoint,
  sendError,
  serveMetrics,
  startTracing,
  statsHandler,
  TerminationDeadline,
  type Tracing,
  TunnelSet,
  UpstreamConnections,
  WaitForDrain,
} from '@zerogate/core';
import type { RequestMetricsRecorder } from '@zerogate/core/request-metrics';
import type { Dispatcher } from 'undici';
import type { QueueProxyConfig, ServedTls } from './config.js';
import { HealthResponder } from './health.js';
import { ProxyHandler } from './proxy-handler.js';
import { AppStart, type QueueTracing } from './queue-admission.js';
import { QueueRelayRoute } from './queue-relay.js';
import { ReadinessProber } from './readiness/index.js';
import { upgradeHandler } from './upgrade.js';

/**
 * How long a websocket closed at shutdown has to answer the close frame before its connection is cut;
 * at most half the termination margin (`TERMINATION_MARGIN_MS`), so the exit still comes before SIGKILL.
 */
const GOING_AWAY_LINGER_MS = 1000;

/** A running queue-proxy. */
export interface QueueProxy {
  /** The ports actually bound (differ from the config where it asked for 0); `tls` only when served. */
  readonly ports: {
    serving: number;
    tls: number | undefined;
    admin: number;
    stats: number;
    metrics: number | undefined;
  };
  /**
   * Drains (probes fail, requests still served until quiet), then stops everything gracefully; skips the
   * drain when `/wait-for-drain` already completed one (native sidecar).
   */
  shutdown(): Promise<void>;
}

/** Starts every listener of the queue-proxy and returns once all are bound. */
export async function startQueueProxy(config: QueueProxyConfig, logger: Logger): Promise<QueueProxy> {
  const breaker = buildBreaker(config.containerConcurrency);
  const stats = new RequestStats();
  const drainer = new Drainer(config.drainQuietMs);
  const prober = new ReadinessProber(config.readinessProbes, { http2AutoDetect: config.http2AutoDetection });
  const templatedLog = requestLog(config);
  const health = new HealthResponder(drainer, prober, logger, config.probeRequestLog, templatedLog);
  // prom-client costs ~20 MiB of memory: loaded only when request metrics are on.
  const metrics = config.requestMetrics
    ? await createRequestMetrics(config, breaker ? () => breaker.inFlight + breaker.queued : undefined)
    : undefined;
  // The undici pools are made on first use: with the raw relay they serve only TLS and gRPC requests.
  const appOrigin = `http://${config.userHost}:${config.userPort}`;
  let pool: Dispatcher | undefined;
  const breakerPool = (): Dispatcher => {
    pool ??= createPool(appOrigin, {
      connections: config.containerConcurrency > 0 ? config.containerConcurrency : null,
      pipelining: 1,
      maxHeaderSize: MAX_HEADER_BYTES,
    });
    return pool;
  };
  let bypass: Dispatcher | undefined;
  const bypassPool = (): Dispatcher => {
    // Unbounded, like Go's transport: requests outside the breaker never wait for a CC slot's connection.
    bypass ??= createPool(appOrigin, { pipelining: 1, maxHeaderSize: MAX_HEADER_BYTES });
    return bypass;
  };
  let h2c: H2cDispatcher | undefined;
  const h2cClient = (): Dispatcher => {
    // One multiplexed session; streams are bounded by the breaker (or unbounded at CC=0), not here.
    h2c ??= new H2cDispatcher(appOrigin, {
      maxHeaderListSize: MAX_HEADER_BYTES,
    });
    return h2c;
  };
  // Warnings a client can trigger (a full queue, a malformed request, an app that fails) are
  // rate-limited per message; request logs (info) are not.
  const requestLogger = rateLimitLogs(logger);
  const timeouts: ExchangeTimeouts = {
    totalMs: config.revisionTimeoutMs,
    responseStartMs: config.responseStartTimeoutMs,
    idleMs: config.idleTimeoutMs,
    error: 'REQUEST_TIMEOUT',
  };
  const tracing = await startTracing(config.tracing, requestLogger, {
    'k8s.container.name': 'queue-proxy',
    'k8s.namespace.name': config.namespace,
    'k8s.pod.name': config.pod,
    'kn.revision.name': config.revision,
  });
  if (tracing && metrics) await countDroppedSpans(metrics, tracing);
  // What both request paths (node:http and the raw relay) share.
  const requestPath = {
    tracing: queueTracing(config, tracing),
    breaker,
    stats,
    drainer,
    health,
    metrics,
    logger: requestLogger,
    requestLog: config.requestLog,
    probeRequestLog: config.probeRequestLog,
    templatedLog,
    timeouts,
    serverTiming: config.serverTiming,
    appStart: new AppStart(),
  };
  const proxy = new ProxyHandler({ ...requestPath, pool: breakerPool, bypass: bypassPool, h2c: h2cClient });
  const upgrades = new TunnelSet();
  const onUpgrade = upgradeHandler({
    tunnels: upgrades,
    userHost: config.userHost,
    userPort: config.userPort,
    breaker,
    stats,
    drainer,
    logger: requestLogger,
    revisionTimeoutMs: config.revisionTimeoutMs,
  });
  const reporter = new ProtobufStatsReporter(stats, config.pod);

  // Plain HTTP/1.1 requests take the raw relay; the rest (probes, upgrades, HTTP/2, TLS) node:http.
  const connections = new UpstreamConnections(config.userHost, config.userPort);
  const relay = new QueueRelayRoute({ ...requestPath, connections });
  const serving = new ServingEndpoint(proxy.handle, onUpgrade, requestLogger, {
    headerTimeoutMs: config.readHeaderTimeoutMs,
    relay: config.http1Relay ? relay : undefined,
  });
  const { internalTls } = config;
  const tls = internalTls.served ? serveTls(serving, internalTls, logger) : undefined;

  const waitForDrain = new WaitForDrain(drainer, {
    nativeSidecar: config.nativeSidecar,
    sigtermWaitMs: config.nativeSidecarSigtermMs,
    // The app still serves these while its Pod terminates: no reset for a restart until they ended.
    busy: () => stats.current > 0 || upgrades.size > 0,
    logger,
  });
  const admin = nodeHttp.createServer((req, res) => {
    if (req.url !== '/wait-for-drain') {
      sendError(res, 'NOT_FOUND');
      return;
    }
    logger.info('attached drain handler from user container');
    void waitForDrain.request().then(() => res.writeHead(200).end());
  });

  const statsServer = nodeHttp.createServer(statsHandler(reporter));

  const metricsServer = metrics
    ? nodeHttp.createServer((_req, res) => void serveMetrics(metrics.registry, res, logger))
    : undefined;

  const host = config.bindAddress;
  const listen = (server: NetServer, port: number, variable: string) =>
    listenOn(server, port, host, variable);
  const ports = {
    serving: await listen(serving.listener, config.servingPort, 'QUEUE_SERVING_PORT'),
    tls: tls ? await listen(tls.listener, config.tlsPort, 'QUEUE_SERVING_TLS_PORT') : undefined,
    admin: await listen(admin, config.adminPort, 'QUEUE_ADMIN_PORT'),
    stats: await listen(statsServer, config.statsPort, 'QUEUE_STATS_PORT'),
    metrics: metricsServer
      ? await listen(metricsServer, config.metricsPort, 'QUEUE_METRICS_PORT')
      : undefined,
  };
  reporter.start();
  if (!internalTls.served) {
    logger.info({ certsDir: config.certsDir }, `internal TLS not served: ${internalTls.reason}`);
    for (const problem of internalTls.ignoredProblems) {
      logger.warn(`${problem} (ignored while internal TLS is not served)`);
    }
  }

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      if (drainer.drained) logger.info('already drained');
      else logger.info({ quietSeconds: config.drainQuietMs / 1000 }, 'draining');
      const drained = waitForDrain.terminate();
      // The grace period runs from the start of the Pod's termination: the drain's start.
      const deadline = new TerminationDeadline(drainer.startedAt ?? Date.now(), config.terminationGraceMs);
      if (!(await deadline.race(drained))) {
        logger.warn(
          { terminationGraceSeconds: (config.terminationGraceMs ?? 0) / 1000 },
          'termination grace period ending before the drain completed',
        );
      }
      tls?.certificates.stop();
      const servingClosed = serving.close();
      // Logged once the listeners stopped accepting, so that whoever reads it finds them closed.
      logger.info('drained; closing the serving listeners');
      // Requests in flight (not upgraded tunnels) finish, or the grace period ends; connections close as
      // they idle.
      const requestsDone = await deadline.waitUntil(() => {
        serving.closeIdle();
        return stats.current - upgrades.size <= 0;
      });
      if (!requestsDone) {
        logger.warn(
          { requests: stats.current - upgrades.size },
          'termination grace period ending: closing requests in flight',
        );
      }
      serving.closeIdle();
      // Upgraded connections run until they end, the termination grace period runs out, or (when set) the
      // upgrade grace after the drain does.
      const upgradeEnd = config.upgradeGraceMs === undefined ? Infinity : Date.now() + config.upgradeGraceMs;
      await deadline.waitUntil(() => upgrades.size === 0, upgradeEnd);
      if (upgrades.size > 0) {
        logger.info({ tunnels: upgrades.size }, 'closing upgraded connections (websockets: going away)');
        await upgrades.goAway(Math.min(GOING_AWAY_LINGER_MS, deadline.marginMs / 2));
      }
      serving.closeAll();
      await servingClosed;
      reporter.stop();
      prober.close();
      await Promise.all([
        closeServer(admin),
        closeServer(statsServer),
        metricsServer && closeServer(metricsServer),
      ]);
      connections.close();
      await Promise.all([pool?.close(), bypass?.close(), h2c?.close()]);
      // The spans of the last requests go out before the process ends.
      await tracing?.shutdown();
      logger.info('stopped');
    })();
    return stopping;
  };

  return { ports, shutdown };
}

/**
 * Opens the TLS listener onto the serving endpoint's servers (so the same handler, breaker, stats, probes
 * and drain as the plain port) and keeps its certificate current as the files change.
 */
function serveTls(
  serving: ServingEndpoint,
  tls: ServedTls,
  logger: Logger,
): { listener: TlsServer; certificates: CertificateWatcher } {
  const listener = serving.addTlsListener({ ...tls.settings, ...tls.pair });
  const certificates = new CertificateWatcher({
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    current: tls.pair,
    // setSecureContext replaces every option of the context (one left out gets Node's default, TLS 1.2
    // included), so the settings go with each pair; checking first keeps a bad pair from being half-installed.
    install: (pair) => {
      const options = { ...tls.settings, ...pair };
      nodeTls().createSecureContext(options);
      listener.setSecureContext(options);
    },
    logger,
  });
  return { listener, certificates };
}

/** What the request path needs of tracing: the tracer and the attributes every span carries. */
function queueTracing(config: QueueProxyConfig, tracing: Tracing | undefined): QueueTracing | undefined {
  if (tracing === undefined) return undefined;
  return {
    tracer: tracing.tracer,
    attributes: Object.freeze({
      'kn.revision.name': config.revision,
      'k8s.namespace.name': config.namespace,
      'k8s.pod.name': config.pod,
    }),
  };
}

/**
 * Exposes the spans the exporter dropped (a full queue, a backend that refused them) as
 * `zerogate_tracing_spans_dropped_total` on the request metrics port.
 */
async function countDroppedSpans(metrics: RequestMetricsRecorder, tracing: Tracing): Promise<void> {
  const { Counter } = await import('prom-client');
  let reported = 0;
  new Counter({
    name: 'zerogate_tracing_spans_dropped_total',
    help: 'Spans not exported: the export queue was full, or the trace backend did not take them.',
    registers: [metrics.registry],
    collect() {
      const dropped = tracing.dropped();
      this.inc(dropped - reported);
      reported = dropped;
    },
  });
}

async function createRequestMetrics(
  config: QueueProxyConfig,
  queueDepth: (() => number) | undefined,
): Promise<RequestMetricsRecorder> {
  const { createRequestMetrics } = await import('@zerogate/core/request-metrics');
  return createRequestMetrics(config.metricNames, { ...config, container: 'queue-proxy' }, queueDepth);
}

/**
 * Knative's templated request log, when the request log is on and a template is set: its lines go to
 * stdout as they are, beside the JSON logger's (Knative's `pkg/http/request_log.go`).
 */
function requestLog(config: QueueProxyConfig): RequestLog | undefined {
  if (!config.requestLog || config.requestLogTemplate === undefined) return undefined;
  const revision = {
    Name: config.revision,
    Namespace: config.namespace,
    Service: config.service,
    Configuration: config.configuration,
    PodName: config.pod,
    PodIP: config.podIp,
  };
  return new RequestLog(config.requestLogTemplate, revision, (line) => {
    process.stdout.write(line);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
