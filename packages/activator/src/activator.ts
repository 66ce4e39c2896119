import {
  createAgent,
  H2cDispatcherPool,
  type Logger,
  listenOn,
  nodeHttp,
  rateLimitLogs,
  ServingEndpoint,
  serveMetrics,
  sleep,
  type TracingConfig,
  TunnelSet,
} from '@zerogate/core';
import { ActivatorHandler, type ConcurrencySink } from './activator-handler.js';
import { ActivatorMetrics } from './activator-metrics.js';
import { ActivatorRelayRoute, PodConnections } from './activator-relay.js';
import { ActivatorRequestLog } from './activator-request-log.js';
import { AutoscalerConnection } from './autoscaler-connection.js';
import { ConcurrencyReporter } from './concurrency-reporter.js';
import type { ActivatorConfig } from './config.js';
import type { EndpointSource } from './endpoint-source.js';
import { FileEndpointSource } from './endpoint-source-file.js';
import { HoldPool } from './hold-pool.js';
import { LiveTracing } from './live-tracing.js';
import { queueProxyProbe } from './pod-probe.js';
import { RevisionRegistry } from './revisions.js';
import { WaitingPage } from './waiting-page.js';

/** A running activator. */
export interface Activator {
  readonly ports: { http: number; h2c: number; metrics: number };
  /** Fails health checks, waits the drain time, then stops once held and running requests are done. */
  shutdown(): Promise<void>;
}

/** Where the activator learns revisions, and what follows Knative's ConfigMaps beside it, if anything. */
interface Sources {
  readonly endpoints: EndpointSource;
  readonly configWatch?: { start(): Promise<void>; stop(): Promise<void> };
}

/**
 * Builds the configured endpoint source; with the `kubernetes` one also the watch on Knative's ConfigMaps
 * for what the environment left unset (docs/activator.md §2.1). The Kubernetes client is loaded only then.
 */
async function buildSources(
  config: ActivatorConfig,
  logger: Logger,
  tracing: LiveTracing,
  requestLog: ActivatorRequestLog,
): Promise<Sources> {
  if (config.endpointsSource === 'file')
    return { endpoints: new FileEndpointSource(config.endpointsFile, logger) };
  const [{ KubeConfig }, { KubernetesEndpointSource }, { KnativeConfigWatch }] = await Promise.all([
    import('@kubernetes/client-node'),
    import('./endpoint-source-kubernetes.js'),
    import('./knative-config-watch.js'),
  ]);
  // In a Pod: its service account; elsewhere: KUBECONFIG or ~/.kube/config.
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const endpoints = new KubernetesEndpointSource({
    kubeConfig,
    logger,
    namespace: config.endpointsNamespace || undefined,
    useEndpoints: config.useEndpoints,
  });
  const configWatch = new KnativeConfigWatch({
    kubeConfig,
    namespace: config.systemNamespace,
    names: config.configMaps,
    logger,
    ...(config.logLevelFromEnv
      ? {}
      : {
          onLogLevel: (level: string) => {
            logger.level = level;
          },
        }),
    ...(config.tracingFromEnv ? {} : { onTracing: (c: TracingConfig) => tracing.set(c) }),
    onRequestLog: (setting) => requestLog.set(setting),
  });
  return { endpoints, configWatch };
}

/**
 * Starts the activator: endpoint source, autoscaler reporting, the serving and metrics listeners. The
 * waiting page is read from `ACTIVATOR_WAITING_PAGE_TEMPLATE` unless given (a bad one throws a ConfigError).
 */
export async function startActivator(
  config: ActivatorConfig,
  logger: Logger,
  source?: EndpointSource,
  waitingPage: WaitingPage = WaitingPage.fromFile(config.waitingPageTemplate),
): Promise<Activator> {
  const dispatcher = createAgent({
    // Every Pod gets a keep-alive pool; idle connections are capped per Pod as Knative's transport does.
    connections: null,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  // Requests that arrived over HTTP/2 keep it to the Pod (docs/activator.md §3.6, Knative's auto h1/h2c
  // transport): one multiplexed h2c session per Pod, closed after 30 s without traffic so Pods that went away
  // hold nothing. Streams are bounded by the throttler's slots per Pod, not by the client.
  const h2c = new H2cDispatcherPool({ idleTimeoutMs: 30_000 });
  const revisions = new RevisionRegistry(
    { maxHeld: config.maxHeldRequests, pool: new HoldPool(config.maxHeldTotal, config.maxHeldBytes) },
    queueProxyProbe(dispatcher, config.probeTimeoutMs),
    config.probeFrequencyMs,
    config.podIp,
    logger,
  );
  const connection = new AutoscalerConnection({ url: config.autoscalerUrl, logger });
  const reporter = new ConcurrencyReporter({
    podName: config.podName,
    send: (messages) => connection.send(messages),
  });
  const metrics = new ActivatorMetrics(revisions, connection, config.podName, config.metricNames);
  let shuttingDown = false;
  const tunnels = new TunnelSet();
  // Every warning a client can trigger (an unknown revision, the hold limit, a malformed request) is
  // rate-limited per message, so one client cannot flood the log.
  const requestLogger = rateLimitLogs(logger);
  const sink = concurrencySink(reporter, connection);
  const tracing = new LiveTracing({
    logger: requestLogger,
    resource: {
      'k8s.container.name': 'activator',
      'k8s.namespace.name': config.systemNamespace,
      'k8s.pod.name': config.podName,
    },
    countDropped: (dropped) => metrics.countDroppedSpans(dropped),
  });
  await tracing.set(config.tracing);
  const requestLog = new ActivatorRequestLog((line) => process.stdout.write(line));
  const handler = new ActivatorHandler({
    revisions,
    reporter: sink,
    dispatcher,
    h2c,
    logger: requestLogger,
    metrics,
    clusterDomain: config.clusterDomain,
    shuttingDown: () => shuttingDown,
    tunnels,
    get tracing() {
      return tracing.tracer;
    },
    requestLog,
    waitingPage,
  });
  // Plain HTTP/1.1 requests for known revisions take the raw relay; the rest node:http.
  const pods = new PodConnections();
  const relay = new ActivatorRelayRoute({
    revisions,
    reporter: sink,
    logger: requestLogger,
    metrics,
    clusterDomain: config.clusterDomain,
    pods,
    get tracing() {
      return tracing.tracer;
    },
    requestLog,
  });
  const serving = new ServingEndpoint(handler.handle, handler.upgrade, requestLogger, {
    headerTimeoutMs: config.readHeaderTimeoutMs,
    relay: config.http1Relay ? relay : undefined,
  });
  const metricsServer = nodeHttp.createServer(
    (_req, res) => void serveMetrics(metrics.registry, res, logger),
  );

  const { endpoints, configWatch } = source
    ? { endpoints: source }
    : await buildSources(config, logger, tracing, requestLog);
  // The ConfigMaps' log level and tracing are in place before the first request.
  await configWatch?.start();
  connection.start();
  reporter.start();
  await endpoints.start(revisions);
  const ports = {
    http: await listenOn(serving.listener, config.httpPort, config.bindAddress, 'ACTIVATOR_HTTP_PORT'),
    h2c: await listenOn(serving.addListener(), config.h2cPort, config.bindAddress, 'ACTIVATOR_H2C_PORT'),
    metrics: await listenOn(metricsServer, config.metricsPort, config.bindAddress, 'ACTIVATOR_METRICS_PORT'),
  };

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      // Health fails first, so load balancers stop sending before the listener closes (Knative: 45 s).
      shuttingDown = true;
      logger.info({ drainSeconds: config.drainMs / 1000 }, 'shutting down: health checks fail from now');
      await sleep(config.drainMs);
      const closed = serving.close();
      // Held and running requests finish; tunnels are waited for below.
      while (inFlight(revisions) - tunnels.size > 0) {
        serving.closeIdle();
        await sleep(50);
      }
      // Upgraded connections get a bounded grace after the drain, as the queue-proxy's do.
      const graceEnd = Date.now() + config.upgradeGraceMs;
      while (tunnels.size > 0 && Date.now() < graceEnd) await sleep(50);
      tunnels.closeAll();
      serving.closeAll();
      await closed;
      await endpoints.stop();
      await configWatch?.stop();
      revisions.stop();
      reporter.stop();
      await connection.stop();
      await new Promise<void>((resolve) => {
        metricsServer.close(() => resolve());
        metricsServer.closeAllConnections();
      });
      pods.close();
      await Promise.all([dispatcher.close(), h2c.close()]);
      // The spans of the last requests go out before the process ends.
      await tracing.shutdown();
      requestLogger.flushSuppressed();
      logger.info('stopped');
    })();
    return stopping;
  };
  return { ports, shutdown };
}

/**
 * The request path's view of reporting: arrivals and departures go to the concurrency reporter, and the
 * health check asks the autoscaler connection whether it was ever open.
 */
function concurrencySink(reporter: ConcurrencyReporter, connection: AutoscalerConnection): ConcurrencySink {
  return {
    requestIn: (namespace, name) => reporter.requestIn(namespace, name),
    requestOut: (namespace, name) => reporter.requestOut(namespace, name),
    get everConnected() {
      return connection.everConnected;
    },
  };
}

function inFlight(revisions: RevisionRegistry): number {
  let n = 0;
  for (const r of revisions.all()) n += r.throttler.held + r.throttler.inFlight;
  return n;
}
