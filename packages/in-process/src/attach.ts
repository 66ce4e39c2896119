import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2Server, Http2Session } from 'node:http2';
import type { Server as HttpsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';
import {
  answerHealthCheck,
  answerNetworkProbe,
  buildBreaker,
  createLogger,
  Drainer,
  type Env,
  isProbeAgent,
  type Logger,
  listenOn,
  nodeHttp,
  ProtobufStatsReporter,
  RequestLog,
  RequestStats,
  rateLimitLogs,
  readFacts,
  refuseHealthCheck,
  sendError,
  sendProbeError,
  serveMetrics,
  sleep,
  statsHandler,
  WaitForDrain,
} from '@zerogate/core';
import type { RequestMetricsRecorder } from '@zerogate/core/request-metrics';
import { type AppContext, AppExchange, type AppListener } from './app-exchange.js';
import { checkConfig, type InProcessConfig, loadConfig } from './config.js';

/** A server whose `request` events the in-process mode can take over: node:http, node:https, node:http2. */
export type AttachableServer = HttpServer | HttpsServer | Http2Server | Http2SecureServer;

/** Options of {@link attach}; every setting also comes from the environment (README, In-process mode). */
export interface AttachOptions extends Partial<InProcessConfig> {
  /** Where the settings not given here are read; default `process.env`. */
  readonly env?: Env;
  /** The logger for the mode's own lines; default a JSON logger on stdout at `SERVING_LOGGING_LEVEL`. */
  readonly logger?: Logger;
  /**
   * The app's own readiness, asked on every health check once the server listens (may be async);
   * default always ready. A throw or rejection answers the probe 500.
   */
  readonly ready?: () => boolean | Promise<boolean>;
  /** Drain and stop on SIGTERM (default true). */
  readonly handleSignals?: boolean;
  /** After a SIGTERM's drain and stop, end the process with exit code 0 (default true). */
  readonly exitAfterDrain?: boolean;
  /** The `k8s_container_name` label of the request metrics (default `user-container`, Knative's name). */
  readonly containerName?: string;
}

/** The queue-proxy contract attached to a server. */
export interface InProcess {
  /** The ports the side listeners bound (differ from the config where it asked for 0). */
  readonly ports: { readonly admin: number; readonly stats: number; readonly metrics: number | undefined };
  readonly config: Readonly<InProcessConfig>;
  readonly logger: Logger;
  /** True from the start of a drain: probes answer 503. */
  readonly draining: boolean;
  /**
   * Drains (probes fail, requests still served until none came for the quiet period), then closes the
   * server once its requests finished, and the side listeners. What SIGTERM runs.
   */
  shutdown(): Promise<void>;
}

/**
 * Gives `server` what the queue-proxy sidecar gives a Pod, in the app's own process: probes answered
 * before the app sees them, the breaker (containerConcurrency, 10×CC waiting), the revision timeouts,
 * the autoscaler's `Stat` on the stats port, request metrics, `/wait-for-drain` and the drain on SIGTERM.
 * Call it after the server has its request listener (`createServer(handler)`, Express's `app`, Fastify's
 * `fastify.server` after `ready()`), before or after `listen`; the listeners it finds are taken over.
 * Throws a ConfigError naming each bad variable, or a RangeError naming a bad option.
 */
export async function attach(server: AttachableServer, options: AttachOptions = {}): Promise<InProcess> {
  const {
    env = process.env,
    logger: givenLogger,
    ready,
    handleSignals = true,
    exitAfterDrain = true,
  } = options;
  const config = withOverrides(loadConfig(env), options);
  checkConfig(config);
  const logger = givenLogger ?? createLogger({ level: config.logLevel, base: { component: 'in-process' } });
  const listeners = server.listeners('request') as AppListener[];
  if (listeners.length === 0) {
    throw new TypeError('attach: the server has no request listener yet; attach after adding the handler');
  }
  server.removeAllListeners('request');

  const breaker = buildBreaker(config.containerConcurrency);
  const stats = new RequestStats();
  const drainer = new Drainer(config.drainQuietMs);
  const metrics = config.requestMetrics
    ? await createRequestMetrics(config, options.containerName ?? 'user-container', breaker)
    : undefined;
  const requestLogger = rateLimitLogs(logger);
  const app: AppListener =
    listeners.length === 1
      ? listeners[0]!.bind(server)
      : (req, res) => {
          for (const listener of listeners) listener.call(server, req, res);
        };
  const ctx: AppContext = {
    app,
    breaker,
    stats,
    metrics,
    logger: requestLogger,
    requestLog: config.requestLog,
    templatedLog: templatedLog(config),
    totalMs: config.revisionTimeoutMs,
    responseStartMs: config.responseStartTimeoutMs,
    idleMs: config.idleTimeoutMs,
    serverTiming: config.serverTiming,
    active: 0,
  };

  const isReady = async (): Promise<boolean> => server.listening && (ready === undefined || (await ready()));
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const facts = readFacts(req.rawHeaders);
    if (isProbeAgent(facts.userAgent)) {
      if (refuseHealthCheck(facts, res, drainer.draining)) return;
      isReady().then(
        (ok) => {
          if (config.probeRequestLog) logger.info({ userAgent: facts.userAgent, ready: ok }, 'probe');
          answerHealthCheck(res, ok, drainer.draining);
        },
        (err: unknown) => {
          logger.error({ err }, 'readiness check failed');
          if (!res.destroyed && !res.headersSent) sendProbeError(res, 'INTERNAL');
        },
      );
      return;
    }
    if (facts.networkProbe === 'probe') {
      answerNetworkProbe(facts, res, drainer.draining);
      return;
    }
    const now = Date.now();
    drainer.touch(now);
    new AppExchange(ctx, req, res, facts, now, !facts.kubeletProbeHeader).begin();
  };
  server.on('request', onRequest);
  const sessions = new Set<Http2Session>();
  const onSession = (session: Http2Session): void => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  };
  server.on('session', onSession);

  const reporter = new ProtobufStatsReporter(stats, config.pod);
  const waitForDrain = new WaitForDrain(drainer, {
    // The app container's own preStop hook calls it and the kubelet signals the app only once the hook
    // returned: the native sidecar's order (docs/queue-proxy.md §7.3), not the sidecar's.
    nativeSidecar: true,
    sigtermWaitMs: config.sigtermWaitMs,
    logger,
  });
  const admin = nodeHttp.createServer((req, res) => {
    if ((req.url ?? '/').split('?', 1)[0] !== '/wait-for-drain') {
      sendError(res, 'NOT_FOUND');
      return;
    }
    logger.info('drain requested by the preStop hook');
    void waitForDrain.request().then(() => res.writeHead(200).end());
  });
  const statsServer = nodeHttp.createServer(statsHandler(reporter));
  const metricsServer = metrics
    ? nodeHttp.createServer((_req, res) => void serveMetrics(metrics.registry, res, logger))
    : undefined;
  const side: NetServer[] = [];
  const listen = async (s: NetServer, port: number, variable: string): Promise<number> => {
    const bound = await listenOn(s, port, config.bindAddress, variable);
    side.push(s);
    return bound;
  };
  let ports: InProcess['ports'];
  try {
    ports = {
      admin: await listen(admin, config.adminPort, 'QUEUE_ADMIN_PORT'),
      stats: await listen(statsServer, config.statsPort, 'QUEUE_STATS_PORT'),
      metrics: metricsServer
        ? await listen(metricsServer, config.metricsPort, 'QUEUE_METRICS_PORT')
        : undefined,
    };
  } catch (err) {
    await Promise.all(side.map(closeServer));
    server.off('request', onRequest);
    for (const listener of listeners) server.on('request', listener);
    throw err;
  }
  reporter.start();

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      if (!drainer.drained) logger.info({ quietSeconds: config.drainQuietMs / 1000 }, 'draining');
      await waitForDrain.terminate();
      logger.info('drained; closing the server');
      const closed = server.listening
        ? new Promise<void>((resolve) => server.close(() => resolve()))
        : Promise.resolve();
      for (const session of sessions) session.close();
      // Requests in flight finish; connections close as they idle.
      while (ctx.active > 0) {
        closeIdle(server);
        await sleep(50);
      }
      closeIdle(server);
      await closed;
      reporter.stop();
      await Promise.all(side.map(closeServer));
      logger.info('stopped');
    })();
    return stopping;
  };
  if (handleSignals) {
    process.once('SIGTERM', () => {
      void shutdown().then(() => {
        if (exitAfterDrain) logger.flush(() => process.exit(0));
      });
    });
  }
  return {
    ports,
    config,
    logger,
    get draining() {
      return drainer.draining;
    },
    shutdown,
  };
}

/** The environment's settings with the options given on top. */
function withOverrides(config: Readonly<InProcessConfig>, options: AttachOptions): InProcessConfig {
  const merged: Record<string, unknown> = { ...config };
  for (const key of Object.keys(config) as (keyof InProcessConfig)[]) {
    if (options[key] !== undefined) merged[key] = options[key];
  }
  return merged as unknown as InProcessConfig;
}

async function createRequestMetrics(
  config: InProcessConfig,
  container: string,
  breaker: ReturnType<typeof buildBreaker>,
): Promise<RequestMetricsRecorder> {
  // prom-client costs ~20 MiB of memory: loaded only when request metrics are on.
  const { createRequestMetrics } = await import('@zerogate/core/request-metrics');
  return createRequestMetrics(
    config.metricNames,
    { ...config, container },
    breaker ? () => breaker.inFlight + breaker.queued : undefined,
  );
}

/** Knative's templated request log when the request log is on and a template is set (lines to stdout). */
function templatedLog(config: InProcessConfig): RequestLog | undefined {
  if (!config.requestLog || config.requestLogTemplate === undefined) return undefined;
  const revision = {
    Name: config.revision,
    Namespace: config.namespace,
    Service: config.service,
    Configuration: config.configuration,
    PodName: config.pod,
    PodIP: '',
  };
  return new RequestLog(config.requestLogTemplate, revision, (line) => {
    process.stdout.write(line);
  });
}

function closeIdle(server: AttachableServer): void {
  (server as HttpServer).closeIdleConnections?.();
}

function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as HttpServer).closeAllConnections?.();
  });
}
