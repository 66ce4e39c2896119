/**
 * The one-machine platform: the autoscaler and the activator as child processes, an ingress routing by
 * Host, and Pods (a user app and its queue-proxy) started and stopped as the autoscaler decides. The
 * activator learns Pods from an endpoints file the platform rewrites; the autoscaler talks to the
 * platform over the control protocol, as it would talk to the Kubernetes API.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig as loadAutoscalerConfig, resolveRevisionAutoscaling } from '@zerogate/autoscaler/config';
import {
  createAgent,
  H2cDispatcherPool,
  ListenError,
  type Logger,
  listenOn,
  ServingEndpoint,
  sleep,
  TunnelSet,
} from '@zerogate/core';
import type { QueueProxyTracing } from '@zerogate/queue-proxy/env';
import { claimAddressBlock } from './address-block.js';
import type { PlatformConfig } from './config.js';
import { ControlServer } from './control-server.js';
import { Dashboard } from './dashboard.js';
import { EndpointsFile } from './endpoints-file.js';
import { Ingress } from './ingress.js';
import type { Pod } from './pod.js';
import { machinePodLimit, PodLimit } from './pod-limit.js';
import { podRequestsInFlight } from './pod-load.js';
import { PodNetwork } from './pod-network.js';
import { type Mode, RevisionPods } from './revision-pods.js';
import { Routes } from './routes.js';
import { type PlatformStatus, type ScalingTarget, StatusSampler } from './status.js';
import { SupervisedComponent } from './supervised-component.js';

/** A running platform. */
export interface Platform {
  /** The port the ingress listens on. */
  readonly ingressPort: number;
  /** Folder of the endpoints file; removed at shutdown. */
  readonly runDir: string;
  /** Folder of every process's log, one file each (`<Pod>.<container>.log`, `<component>.log`). */
  readonly logDir: string;
  /** Most Pods over all revisions (`pods.maxPods`, or derived from the machine). */
  readonly maxPods: number;
  status(): PlatformStatus;
  /** The revisions and their Pods, for tests and benchmarks. */
  readonly revisions: readonly RevisionPods[];
  /** Drains and stops everything; resolves once every process exited. */
  shutdown(): Promise<void>;
}

/** Knobs mostly for tests and benchmarks. */
export interface PlatformOptions {
  /** Called on every Pod change, e.g. to record start timelines. */
  readonly onPodChange?: (revision: RevisionPods, pod: Pod) => void;
  /** The activator's probe period for Pods not ready yet; default 25 ms (Knative: 200 ms). */
  readonly activatorProbeFrequencyMs?: number;
  /** Log level of the activator and the autoscaler; default info. */
  readonly componentLogLevel?: string;
  /**
   * Folder for every process's log, kept after shutdown (`--logs`); default a folder in the run's
   * temporary folder, removed at shutdown.
   */
  readonly logDir?: string;
}

export { DASHBOARD_PATH, EVENTS_PATH, LOGS_PATH, STATUS_PATH } from './dashboard.js';

/** Log names (`GET /zerogate/logs/<name>`) of the platform's own processes. */
const COMPONENT_LOGS = ['platform', 'autoscaler', 'activator'] as const;

/** Starts the whole platform; a port that cannot be bound rejects with a {@link ListenError}. */
export async function startPlatform(
  config: PlatformConfig,
  logger: Logger,
  options: PlatformOptions = {},
): Promise<Platform> {
  const addressBlock = await claimAddressBlock();
  const runDir = mkdtempSync(join(tmpdir(), 'zerogate-'));
  const logDir = options.logDir ?? join(runDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const endpoints = new EndpointsFile(join(runDir, 'endpoints.json'), (err) =>
    logger.error({ err }, 'cannot write the endpoints file'),
  );
  const dispatcher = createAgent({ connections: null, pipelining: 1, keepAliveTimeout: 30_000 });
  const h2c = new H2cDispatcherPool({ idleTimeoutMs: 30_000 });
  const probes = createAgent({ keepAliveTimeout: 5000 });

  let control: ControlServer | undefined;
  let dashboard: Dashboard | undefined;
  let stopping = false;
  const onChange = (revision: RevisionPods, pod?: Pod) => {
    if (pod) options.onPodChange?.(revision, pod);
    if (stopping) return;
    endpoints.changed(revisions);
    control?.publish(revision);
    dashboard?.changed();
  };
  const podSettings = {
    logDir,
    drainSeconds: config.pods.drainSeconds,
    startTimeoutMs: config.pods.startTimeoutSeconds * 1000,
    probePeriodMs: 1000,
    dispatcher: probes,
    network: new PodNetwork(addressBlock.network),
  };
  const maxPods = config.pods.maxPods ?? machinePodLimit();
  const podLimit = new PodLimit<RevisionPods>(maxPods, (revision, wanted, granted) =>
    logger.warn(
      { revision: revision.name, wanted, granted, maxPods },
      'pod limit reached: the revision gets fewer Pods than the autoscaler wants (pods.maxPods)',
    ),
  );
  /**
   * A Pod's requests in flight when its revision scales down, so the least busy Pods go first: what the
   * ingress has open on it (Serve mode, counted at once) or what its stats endpoint reports (requests
   * through the activator too), whichever is more.
   */
  const podLoad = async (pod: Pod): Promise<number> => {
    const direct = pod.servingAddress === undefined ? 0 : ingress.podInFlight(pod.servingAddress);
    return Math.max(direct, await podRequestsInFlight(pod.statsAddress, probes));
  };
  const revisions: RevisionPods[] = [];
  const byKey = new Map<string, RevisionPods>();
  const services = config.services.map((service) => ({
    namespace: service.namespace,
    name: service.name,
    revisions: service.revisions.map((rc) => {
      const revision = new RevisionPods(
        rc,
        podSettings,
        {
          changed: onChange,
          podFailed: (r, pod) =>
            logger.warn(
              { revision: r.name, pod: pod.name, reason: pod.failure },
              'pod failed; replacing it after a backoff',
            ),
        },
        undefined,
        podLoad,
      );
      revisions.push(revision);
      byKey.set(`${rc.namespace}/${rc.name}`, revision);
      return revision;
    }),
  }));
  endpoints.write(revisions);

  let activatorAddress = '';
  let activatorMetricsUrl: string | undefined;
  let autoscalerMetricsUrl: string | undefined;
  const scaling = scalingTargets(config, revisions);
  const components: SupervisedComponent[] = [];
  const tunnels = new TunnelSet();
  const routes = new Routes(services);
  const local = (req: IncomingMessage, res: ServerResponse): boolean => dashboard?.handle(req, res) ?? false;
  const ingress = new Ingress({
    routes,
    activatorAddress: () => activatorAddress,
    dispatcher,
    h2c,
    logger,
    tunnels,
    local,
  });
  const sampler = new StatusSampler({
    revisions: () => revisions,
    ingress,
    activatorMetricsUrl: () => activatorMetricsUrl,
    autoscalerMetricsUrl: () => autoscalerMetricsUrl,
    dispatcher: probes,
    limit: { max: maxPods, wantedBy: (r) => podLimit.wantedBy(r) },
    scaling: (r) => scaling.get(r) ?? { metric: 'concurrency', target: 0 },
    componentLogs: COMPONENT_LOGS,
  });
  dashboard = new Dashboard({ status: () => sampler.status(), logDir, logger: ingress.logger });
  sampler.onSample(() => dashboard?.push());

  control = new ControlServer(
    {
      revision: (namespace, name) => byKey.get(`${namespace}/${name}`),
      revisions: () => revisions,
      scale: (revision, n) => {
        // The autoscaler's wish, within the machine-wide limit; Pods another revision gives up may go
        // to a revision the limit held back.
        const grants = podLimit.want(revision, n);
        grants.set(revision, podLimit.grantOf(revision));
        for (const [r, granted] of grants) {
          if (r.desired !== granted)
            logger.info({ revision: r.name, from: r.desired, to: granted }, 'scaling');
          r.scale(granted);
        }
      },
      setMode: (revision: RevisionPods, mode: Mode) => {
        if (revision.mode !== mode) logger.info({ revision: revision.name, mode }, 'routing mode');
        revision.mode = mode;
      },
      publicTarget: (revision): { address: string; headers: Record<string, string> } => {
        const target = ingress.target(revision, false);
        return {
          address: target.address,
          headers: target.viaActivator
            ? { 'knative-serving-revision': revision.name, 'knative-serving-namespace': revision.namespace }
            : {},
        };
      },
    },
    probes,
    logger,
  );

  const serving = new ServingEndpoint(ingress.handle, ingress.upgrade, ingress.logger);

  const stopEverything = async (): Promise<void> => {
    stopping = true;
    sampler.stop();
    dashboard?.close();
    ingress.close();
    await Promise.all(revisions.map((r) => r.close()));
    await Promise.all(components.map((c) => c.stop()));
    await control?.close();
    await Promise.all([dispatcher.close(), h2c.close(), probes.close(), endpoints.settled()]);
    await addressBlock.release();
    rmSync(runDir, { recursive: true, force: true });
  };

  let ingressPort: number;
  try {
    const controlPort = await control.listen();
    const autoscaler = new SupervisedComponent(
      'autoscaler',
      {
        ...config.autoscalerEnv,
        AUTOSCALER_ACTUATOR: 'local',
        AUTOSCALER_PLATFORM_URL: `http://127.0.0.1:${controlPort}`,
        AUTOSCALER_BIND_ADDRESS: '127.0.0.1',
        AUTOSCALER_PORT: '0',
        AUTOSCALER_METRICS_PORT: '0',
        AUTOSCALER_LOG_LEVEL: options.componentLogLevel ?? 'info',
      },
      logDir,
      logger,
      (ports) => ({ AUTOSCALER_PORT: String(ports.stats), AUTOSCALER_METRICS_PORT: String(ports.metrics) }),
    );
    components.push(autoscaler);
    const autoscalerPorts = await autoscaler.start();
    const statsPort = autoscalerPorts.stats;
    autoscalerMetricsUrl = `http://127.0.0.1:${autoscalerPorts.metrics}/metrics`;
    const activator = new SupervisedComponent(
      'activator',
      {
        POD_NAME: 'activator-local',
        POD_IP: '127.0.0.1',
        SYSTEM_NAMESPACE: 'zerogate-system',
        ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
        ACTIVATOR_HTTP_PORT: '0',
        ACTIVATOR_H2C_PORT: '0',
        ACTIVATOR_METRICS_PORT: '0',
        AUTOSCALER_URL: `ws://127.0.0.1:${statsPort}`,
        ACTIVATOR_ENDPOINTS_SOURCE: 'file',
        ACTIVATOR_ENDPOINTS_FILE: join(runDir, 'endpoints.json'),
        ACTIVATOR_DRAIN_SECONDS: '0',
        PROBE_FREQUENCY: `${options.activatorProbeFrequencyMs ?? 25}ms`,
        ACTIVATOR_LOG_LEVEL: options.componentLogLevel ?? 'info',
        ...activatorTracingEnv(config.tracing),
      },
      logDir,
      logger,
      (ports) => ({
        ACTIVATOR_HTTP_PORT: String(ports.http),
        ACTIVATOR_H2C_PORT: String(ports.h2c),
        ACTIVATOR_METRICS_PORT: String(ports.metrics),
      }),
    );
    components.push(activator);
    const activatorPorts = await activator.start();
    activatorAddress = `127.0.0.1:${activatorPorts.http}`;
    activatorMetricsUrl = `http://127.0.0.1:${activatorPorts.metrics}/metrics`;
    try {
      ingressPort = await listenOn(
        serving.listener,
        config.ingress.port,
        config.ingress.bindAddress,
        'ingress.port',
      );
    } catch (err) {
      if (err instanceof ListenError && (err.cause as NodeJS.ErrnoException)?.code === 'EADDRINUSE') {
        throw new ListenError(
          `${config.file}: ingress.port: port ${config.ingress.port} is already in use on ${config.ingress.bindAddress}; stop what uses it or choose another port`,
          { cause: err.cause },
        );
      }
      throw err;
    }
  } catch (err) {
    await stopEverything();
    throw err;
  }
  sampler.start();

  let shutting: Promise<void> | undefined;
  return {
    ingressPort,
    runDir,
    logDir,
    maxPods,
    revisions,
    status: () => sampler.status(),
    shutdown: () => {
      shutting ??= (async () => {
        // New connections are refused; requests in flight finish (bounded by their revision timeouts).
        // The dashboard's streams are no requests to wait for: they end now.
        dashboard?.close();
        const closed = serving.close();
        const deadline = Date.now() + 30_000;
        while (revisions.some((r) => ingress.trafficOf(r).inFlight > tunnels.size) && Date.now() < deadline) {
          serving.closeIdle();
          await sleep(50);
        }
        tunnels.closeAll();
        serving.closeAll();
        await closed;
        await stopEverything();
      })();
      return shutting;
    },
  };
}

/**
 * Each revision's scaling metric and per-Pod target, resolved as the autoscaler resolves them (the same
 * parser, the same cluster settings), for the dashboard to draw the autoscaler's averages against.
 */
function scalingTargets(
  config: PlatformConfig,
  revisions: readonly RevisionPods[],
): Map<RevisionPods, ScalingTarget> {
  const cluster = loadAutoscalerConfig({
    ...config.autoscalerEnv,
    AUTOSCALER_PORT: '0',
    AUTOSCALER_METRICS_PORT: '0',
  }).cluster;
  return new Map(
    revisions.map((r) => {
      const resolved = resolveRevisionAutoscaling({
        annotations: r.config.annotations,
        containerConcurrency: r.config.containerConcurrency,
        cluster,
      });
      return [r, { metric: resolved.metric, target: resolved.targetValue }];
    }),
  );
}

/**
 * The activator's tracing variables for the config's `tracing` block, in the form its queue-proxies get
 * it: Zipkin as Knative ≤ 1.18's `TRACING_CONFIG_*`, OTLP as ≥ 1.19's `OBSERVABILITY_CONFIG`.
 */
export function activatorTracingEnv(tracing: QueueProxyTracing | undefined): Record<string, string> {
  if (tracing === undefined) return {};
  if (tracing.exporter === 'zipkin') {
    return {
      TRACING_CONFIG_BACKEND: 'zipkin',
      TRACING_CONFIG_ZIPKIN_ENDPOINT: tracing.endpoint,
      TRACING_CONFIG_SAMPLE_RATE: String(tracing.sampleRate),
    };
  }
  return {
    OBSERVABILITY_CONFIG: JSON.stringify({
      tracing: {
        protocol: tracing.protocol ?? 'http/protobuf',
        endpoint: tracing.endpoint,
        samplingRate: tracing.sampleRate,
      },
    }),
  };
}
