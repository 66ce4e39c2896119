import {
  activatorMetricNames,
  DEFAULT_HEADER_TIMEOUT_MS,
  type Env,
  EnvReader,
  type MetricNames,
  readTracingConfig,
  TRACING_VARIABLES,
  type TracingConfig,
} from '@zerogate/core';
import type { KnativeConfigMapNames } from './knative-config-maps.js';

/** Where the activator learns revisions and their Pods. */
export type EndpointsSourceKind = 'kubernetes' | 'file';

/** The activator's configuration, read once from the environment (docs/activator.md §2). */
export interface ActivatorConfig {
  readonly podName: string;
  readonly podIp: string;
  readonly systemNamespace: string;
  readonly clusterDomain: string;
  readonly probeTimeoutMs: number;
  readonly probeFrequencyMs: number;
  readonly maxIdleProxyConns: number;
  readonly maxIdleProxyConnsPerHost: number;
  /** Address every listener binds; '' = all interfaces. */
  readonly bindAddress: string;
  readonly httpPort: number;
  /** Knative's second serving port, for h2c revisions (`activator-service` 81 → 8013); both serve both protocols. */
  readonly h2cPort: number;
  readonly metricsPort: number;
  readonly autoscalerUrl: string;
  readonly endpointsSource: EndpointsSourceKind;
  readonly endpointsFile: string;
  /** Only this namespace's revisions ('' = all), for the kubernetes source. */
  readonly endpointsNamespace: string;
  /** Watch core/v1 Endpoints instead of EndpointSlices (clusters without discovery.k8s.io/v1). */
  readonly useEndpoints: boolean;
  /** Requests held per revision while it has no capacity; past it, 503 (shared fairly between its keys). */
  readonly maxHeldRequests: number;
  /** Requests held process-wide, shared max-min fairly between revisions; past it, 503. */
  readonly maxHeldTotal: number;
  /** Request-body bytes held process-wide, shared the same way; past it, 503. */
  readonly maxHeldBytes: number;
  /** How long health checks fail after SIGTERM before the listeners close (Knative: 45 s). */
  readonly drainMs: number;
  /** How long websockets and other upgraded connections may stay open after the drain. */
  readonly upgradeGraceMs: number;
  /** How long a client may take to send a request head before it is answered 408 (Go's ReadHeaderTimeout). */
  readonly readHeaderTimeoutMs: number;
  /**
   * Relays plain HTTP/1.1 requests on raw sockets (`ACTIVATOR_HTTP1_RELAY`, default on): see
   * docs/activator.md §3.6. Off, every request goes through node:http and undici.
   */
  readonly http1Relay: boolean;
  /**
   * Which of Knative's eras of Prometheus names the metrics take: `ACTIVATOR_METRIC_NAMES`, else
   * Knative ≤ 1.18's when `METRICS_DOMAIN` is set (docs/activator.md §7).
   */
  readonly metricNames: MetricNames;
  /**
   * A file whose text replaces the built-in waiting page (`ACTIVATOR_WAITING_PAGE_TEMPLATE`; '' = the
   * built-in one), read once at start: docs/activator.md §10.2.
   */
  readonly waitingPageTemplate: string;
  readonly logLevel: string;
  /** Whether `ACTIVATOR_LOG_LEVEL` set the level; otherwise `config-logging` may change it (docs/activator.md §2.1). */
  readonly logLevelFromEnv: boolean;
  /**
   * Distributed tracing (docs/tracing.md): Knative ≤ 1.18's `config-tracing` as `TRACING_CONFIG_*`,
   * ≥ 1.19's `config-observability` as `OBSERVABILITY_CONFIG`, or OpenTelemetry's `OTEL_*`; off by default.
   */
  readonly tracing: TracingConfig;
  /** Whether a tracing variable is set; otherwise Knative's ConfigMaps may turn tracing on (docs/activator.md §2.1). */
  readonly tracingFromEnv: boolean;
  /** The Knative ConfigMaps followed with the `kubernetes` source (`CONFIG_LOGGING_NAME`, `CONFIG_OBSERVABILITY_NAME`). */
  readonly configMaps: KnativeConfigMapNames;
}

/**
 * Reads and validates the environment; throws a ConfigError naming every bad variable. Knative's
 * names where Knative has them (`POD_NAME`, `PROBE_TIMEOUT`, …), ours with the `ACTIVATOR_` prefix.
 */
export function loadConfig(env: Env): Readonly<ActivatorConfig> {
  const r = new EnvReader(env);
  const podName = r.required('POD_NAME');
  const podIp = r.required('POD_IP');
  const systemNamespace = r.string('SYSTEM_NAMESPACE', 'knative-serving');
  const clusterDomain = r.string('CLUSTER_DOMAIN', 'cluster.local');
  const probeTimeoutMs = r.durationMs('PROBE_TIMEOUT', 300);
  const probeFrequencyMs = r.durationMs('PROBE_FREQUENCY', 200);
  if (probeFrequencyMs <= 0) r.problem('PROBE_FREQUENCY', 'must be greater than 0');
  if (probeTimeoutMs <= 0) r.problem('PROBE_TIMEOUT', 'must be greater than 0');
  const maxIdleProxyConns = r.int('MAX_IDLE_PROXY_CONNS', 1000, { min: 0 });
  const maxIdleProxyConnsPerHost = r.int('MAX_IDLE_PROXY_CONNS_PER_HOST', 100, { min: 0 });
  const bindAddress = r.string('ACTIVATOR_BIND_ADDRESS', '');
  const httpPort = r.listenPort('ACTIVATOR_HTTP_PORT', 8012);
  const h2cPort = r.listenPort('ACTIVATOR_H2C_PORT', 8013);
  const metricsPort = r.listenPort('ACTIVATOR_METRICS_PORT', 9090);
  r.distinctPorts([
    ['ACTIVATOR_HTTP_PORT', httpPort],
    ['ACTIVATOR_H2C_PORT', h2cPort],
    ['ACTIVATOR_METRICS_PORT', metricsPort],
  ]);

  const autoscalerUrl = r.string(
    'AUTOSCALER_URL',
    `ws://autoscaler.${systemNamespace}.svc.${clusterDomain}:8080`,
  );
  if (!/^wss?:\/\/[^/]+/.test(autoscalerUrl)) {
    r.problem('AUTOSCALER_URL', `must be a ws:// or wss:// URL, got ${JSON.stringify(autoscalerUrl)}`);
  }
  const source = r.string('ACTIVATOR_ENDPOINTS_SOURCE', 'kubernetes');
  if (source !== 'kubernetes' && source !== 'file') {
    r.problem('ACTIVATOR_ENDPOINTS_SOURCE', `must be kubernetes or file, got ${JSON.stringify(source)}`);
  }
  const endpointsFile = r.string('ACTIVATOR_ENDPOINTS_FILE', '');
  if (source === 'file' && endpointsFile === '') {
    r.problem('ACTIVATOR_ENDPOINTS_FILE', 'is required when ACTIVATOR_ENDPOINTS_SOURCE=file');
  }
  const endpointsNamespace = r.string('ACTIVATOR_ENDPOINTS_NAMESPACE', '');
  const useEndpoints = r.bool('ACTIVATOR_USE_ENDPOINTS', false);
  const maxHeldRequests = r.int('ACTIVATOR_MAX_HELD_REQUESTS', 1000, { min: 1 });
  const maxHeldTotal = r.int('ACTIVATOR_MAX_HELD_TOTAL', 10_000, { min: 1 });
  const maxHeldBytes = r.int('ACTIVATOR_MAX_HELD_BYTES', 64 * 1024 * 1024, { min: 0 });
  const drainSeconds = r.int('ACTIVATOR_DRAIN_SECONDS', 45, { min: 0, max: 3600 });
  const upgradeGraceSeconds = r.int('ACTIVATOR_UPGRADE_GRACE_SECONDS', 60, { min: 0, max: 3600 });
  const readHeaderTimeoutSeconds = r.int(
    'ACTIVATOR_READ_HEADER_TIMEOUT_SECONDS',
    DEFAULT_HEADER_TIMEOUT_MS / 1000,
    { min: 1, max: 3600 },
  );
  const http1Relay = r.bool('ACTIVATOR_HTTP1_RELAY', true);
  const metricNames = activatorMetricNames(r);
  const waitingPageTemplate = r.string('ACTIVATOR_WAITING_PAGE_TEMPLATE', '');
  const logLevel = r.logLevel('ACTIVATOR_LOG_LEVEL');
  const logLevelFromEnv = r.raw('ACTIVATOR_LOG_LEVEL') !== undefined;
  const tracing = readTracingConfig(r, { serviceName: 'activator', reportObservabilityJson: true });
  const tracingFromEnv = TRACING_VARIABLES.some((name) => r.raw(name) !== undefined);
  const configMaps = Object.freeze({
    logging: r.string('CONFIG_LOGGING_NAME', 'config-logging'),
    observability: r.string('CONFIG_OBSERVABILITY_NAME', 'config-observability'),
    tracing: 'config-tracing',
  });
  r.finish();
  return Object.freeze({
    podName,
    podIp,
    systemNamespace,
    clusterDomain,
    probeTimeoutMs,
    probeFrequencyMs,
    maxIdleProxyConns,
    maxIdleProxyConnsPerHost,
    bindAddress,
    httpPort,
    h2cPort,
    metricsPort,
    autoscalerUrl,
    endpointsSource: source as EndpointsSourceKind,
    endpointsFile,
    endpointsNamespace,
    useEndpoints,
    maxHeldRequests,
    maxHeldTotal,
    maxHeldBytes,
    drainMs: drainSeconds * 1000,
    upgradeGraceMs: upgradeGraceSeconds * 1000,
    readHeaderTimeoutMs: readHeaderTimeoutSeconds * 1000,
    http1Relay,
    metricNames,
    waitingPageTemplate,
    logLevel,
    logLevelFromEnv,
    tracing,
    tracingFromEnv,
    configMaps,
  });
}
