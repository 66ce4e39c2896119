/**
 * The queue-proxy's environment, built from typed settings: the one place outside `config.ts` that knows
 * the variables' names and how their values are written. The injector (a Kubernetes container's env),
 * the one-machine platform, the bench and the tests all build it here, as Knative's revision reconciler
 * does in `pkg/reconciler/revision/resources/queue.go` (makeQueueContainer).
 *
 * This module imports nothing, so loading it (`@zerogate/queue-proxy/env`) starts none of the
 * queue-proxy's runtime: no sockets, no logger, no metrics registry.
 */

/**
 * Every variable `config.ts` reads, by the setting it carries. Knative's names where Knative has the
 * variable; `QUEUE_*` (but `QUEUE_SERVING_*`) are Zerogate's own, which Knative's queue-proxy ignores.
 */
export const QUEUE_PROXY_ENV = {
  containerConcurrency: 'CONTAINER_CONCURRENCY',
  servingPort: 'QUEUE_SERVING_PORT',
  tlsPort: 'QUEUE_SERVING_TLS_PORT',
  userPort: 'USER_PORT',
  revisionTimeout: 'REVISION_TIMEOUT_SECONDS',
  responseStartTimeout: 'REVISION_RESPONSE_START_TIMEOUT_SECONDS',
  idleTimeout: 'REVISION_IDLE_TIMEOUT_SECONDS',
  loggingConfig: 'SERVING_LOGGING_CONFIG',
  loggingLevel: 'SERVING_LOGGING_LEVEL',
  namespace: 'SERVING_NAMESPACE',
  service: 'SERVING_SERVICE',
  configuration: 'SERVING_CONFIGURATION',
  revision: 'SERVING_REVISION',
  pod: 'SERVING_POD',
  podIp: 'SERVING_POD_IP',
  readinessProbe: 'SERVING_READINESS_PROBE',
  multiContainerProbes: 'ENABLE_MULTI_CONTAINER_PROBES',
  http2AutoDetection: 'ENABLE_HTTP2_AUTO_DETECTION',
  http1Relay: 'QUEUE_HTTP1_RELAY',
  serverTiming: 'QUEUE_SERVER_TIMING',
  observabilityConfig: 'OBSERVABILITY_CONFIG',
  requestMetricsBackend: 'SERVING_REQUEST_METRICS_BACKEND',
  requestLog: 'SERVING_ENABLE_REQUEST_LOG',
  probeRequestLog: 'SERVING_ENABLE_PROBE_REQUEST_LOG',
  requestLogTemplate: 'SERVING_REQUEST_LOG_TEMPLATE',
  metricNames: 'QUEUE_METRIC_NAMES',
  tlsMinVersion: 'QUEUE_PROXY_TLS_MIN_VERSION',
  tlsMaxVersion: 'QUEUE_PROXY_TLS_MAX_VERSION',
  tlsCipherSuites: 'QUEUE_PROXY_TLS_CIPHER_SUITES',
  tlsCurvePreferences: 'QUEUE_PROXY_TLS_CURVE_PREFERENCES',
  certsDir: 'QUEUE_CERTS_DIR',
  bindAddress: 'QUEUE_BIND_ADDRESS',
  userHost: 'QUEUE_USER_HOST',
  adminPort: 'QUEUE_ADMIN_PORT',
  statsPort: 'QUEUE_STATS_PORT',
  metricsPort: 'QUEUE_METRICS_PORT',
  drainQuiet: 'QUEUE_DRAIN_QUIET_SECONDS',
  upgradeGrace: 'QUEUE_UPGRADE_GRACE_SECONDS',
  terminationGrace: 'QUEUE_TERMINATION_GRACE_SECONDS',
  readHeaderTimeout: 'QUEUE_READ_HEADER_TIMEOUT_SECONDS',
  nativeSidecar: 'QUEUE_NATIVE_SIDECAR',
  nativeSidecarSigterm: 'QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS',
  tracingBackend: 'TRACING_CONFIG_BACKEND',
  tracingZipkinEndpoint: 'TRACING_CONFIG_ZIPKIN_ENDPOINT',
  tracingSampleRate: 'TRACING_CONFIG_SAMPLE_RATE',
  tracingDebug: 'TRACING_CONFIG_DEBUG',
  serviceName: 'OTEL_SERVICE_NAME',
} as const;

/**
 * OpenTelemetry's variables the queue-proxy also reads for tracing (docs/tracing.md), which Knative's
 * reconciler never sets: an operator adds them to the Pod. {@link queueProxyEnv} writes none of them.
 */
export const OTEL_TRACING_ENV: readonly string[] = [
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_ZIPKIN_ENDPOINT',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
];

/**
 * The Node flags the queue-proxy runs with, wherever it is launched (its image's entry point, the
 * one-machine platform, the benchmarks), each cutting its anonymous memory under load at the same CPU per
 * request (docs/queue-proxy.md §11, bench/RESULTS.md):
 * - V8's young generation capped at 1 MiB per semi-space (its default grows to 16 MiB): a proxy's garbage
 *   dies young and small, so scavenges stay cheap; about a quarter less.
 * - Optimizing compilation on the main thread instead of a background one, which keeps about 8 MiB it
 *   never gives back; a proxy's few hot functions are optimized once, early, and the start is unchanged.
 */
export const QUEUE_PROXY_NODE_FLAGS: readonly string[] = Object.freeze([
  '--max-semi-space-size=1',
  '--no-concurrent-recompilation',
]);

/**
 * Variables Knative's revision reconciler sets that this queue-proxy does not read, with the values
 * Knative's default config maps give them. Knative's own queue-proxy requires most of them (envconfig
 * `required`), so an environment meant for both carries them; with a request metrics backend it records
 * per-request metrics. Knative's `TRACING_CONFIG_*`, which this queue-proxy reads too, are written with
 * them ({@link KNATIVE_TRACING_OFF}) unless tracing is set: without `TRACING_CONFIG_BACKEND=none`
 * Knative's queue-proxy traces every request.
 */
export const KNATIVE_ONLY_ENV = {
  SERVING_REQUEST_METRICS_REPORTING_PERIOD_SECONDS: '5',
  METRICS_COLLECTOR_ADDRESS: '',
  METRICS_DOMAIN: 'knative.dev/internal/serving',
  ENABLE_PROFILING: 'false',
  ENABLE_HTTP_FULL_DUPLEX: 'false',
  ROOT_CA: '',
} as const;

/** Knative ≤ 1.18's tracing variables with tracing off, as its default `config-tracing` gives them. */
export const KNATIVE_TRACING_OFF = {
  TRACING_CONFIG_BACKEND: 'none',
  TRACING_CONFIG_ZIPKIN_ENDPOINT: '',
  TRACING_CONFIG_DEBUG: 'false',
  TRACING_CONFIG_SAMPLE_RATE: '0.1',
} as const;

/**
 * Distributed tracing (docs/tracing.md), written in the form of the observability settings: Zipkin as
 * Knative ≤ 1.18's `TRACING_CONFIG_*`, OTLP in ≥ 1.19's `OBSERVABILITY_CONFIG` `tracing` (which then
 * must be the form of {@link QueueProxyObservability}).
 */
export interface QueueProxyTracing {
  readonly exporter: 'zipkin' | 'otlp';
  /** The full URL spans are POSTed to (Zipkin's `/api/v2/spans`, OTLP's `/v1/traces`). */
  readonly endpoint: string;
  /** OTLP's encoding (default http/protobuf). */
  readonly protocol?: 'http/protobuf' | 'http/json';
  /** The share of new traces sampled, 0–1; a caller's sampled decision is always followed. */
  readonly sampleRate: number;
  /** `OTEL_SERVICE_NAME`: the service the spans are reported under (default `queue-proxy`). */
  readonly serviceName?: string;
}

/** Knative's `SYSTEM_NAMESPACE` (where Knative runs), which this queue-proxy does not read. */
export const SYSTEM_NAMESPACE_ENV = 'SYSTEM_NAMESPACE';
/** Knative's `HOST_IP` (the node's address), which this queue-proxy does not read. */
export const HOST_IP_ENV = 'HOST_IP';

/**
 * The Pod's identity as Kubernetes' downward API gives it, by variable: the injector sets these from
 * field references, since a ReplicaSet's Pod has no name yet when it is admitted.
 */
export const QUEUE_PROXY_POD_FIELDS: Readonly<Record<string, string>> = {
  [QUEUE_PROXY_ENV.namespace]: 'metadata.namespace',
  [QUEUE_PROXY_ENV.pod]: 'metadata.name',
  [QUEUE_PROXY_ENV.podIp]: 'status.podIP',
};

/** The revision the queue-proxy serves. */
export interface QueueProxyRevision {
  /** `SERVING_REVISION`. */
  readonly name: string;
  /** `SERVING_CONFIGURATION`. */
  readonly configuration: string;
  /** `SERVING_SERVICE`; not written when absent. */
  readonly service?: string;
}

/** The Pod the queue-proxy runs in. */
export interface QueueProxyPod {
  /** `SERVING_NAMESPACE`. */
  readonly namespace: string;
  /** `SERVING_POD`. */
  readonly name: string;
  /** `SERVING_POD_IP`. */
  readonly ip: string;
}

/** The queue-proxy's ports; 0 picks a free one. */
export interface QueueProxyPorts {
  /** `QUEUE_SERVING_PORT`: Knative's 8012, 8013 for h2c revisions. */
  readonly serving: number;
  /** `QUEUE_SERVING_TLS_PORT`: Knative's 8112, served only with a certificate. */
  readonly tls: number;
  /** `QUEUE_ADMIN_PORT` (default 8022). */
  readonly admin?: number;
  /** `QUEUE_STATS_PORT` (default 9090). */
  readonly stats?: number;
  /** `QUEUE_METRICS_PORT` (default 9091). */
  readonly metrics?: number;
}

/** The revision's request timeouts, in whole seconds; 0 = none. */
export interface QueueProxyTimeouts {
  /** `REVISION_TIMEOUT_SECONDS`: from arrival, queue wait included. */
  readonly revisionSeconds: number;
  /** `REVISION_RESPONSE_START_TIMEOUT_SECONDS`. */
  readonly responseStartSeconds?: number;
  /** `REVISION_IDLE_TIMEOUT_SECONDS`. */
  readonly idleSeconds?: number;
  /** `QUEUE_READ_HEADER_TIMEOUT_SECONDS` (default 60). */
  readonly readHeaderSeconds?: number;
}

/**
 * Request metrics and logs, written in one of Knative's two forms: ≥ 1.19's `OBSERVABILITY_CONFIG` JSON,
 * or ≤ 1.18's separate `SERVING_*` variables.
 */
export interface QueueProxyObservability {
  /** Which of Knative's two forms to write. */
  readonly form: 'observability-config' | 'serving-variables';
  /** Prometheus request metrics on the metrics port. */
  readonly requestMetrics: boolean;
  /** One log line per request. */
  readonly requestLog: boolean;
  /** Probes in the request log too. */
  readonly probeRequestLog: boolean;
  /** Knative's Go template of a request log line; left out, lines are JSON (the logger's). */
  readonly requestLogTemplate?: string;
  /** `QUEUE_METRIC_NAMES`: which era's metric names, overriding the rule of the form (left out, the rule). */
  readonly metricNames?: 'opencensus' | 'opentelemetry';
}

/** Internal TLS: where the certificate is and Knative's `queue-sidecar-tls-*` settings (≥ 1.22). */
export interface QueueProxyTls {
  /** `QUEUE_CERTS_DIR` (default Knative's `/var/lib/knative/certs`). */
  readonly certsDir?: string;
  /** `QUEUE_PROXY_TLS_MIN_VERSION` (default 1.3). */
  readonly minVersion?: '1.2' | '1.3';
  /** `QUEUE_PROXY_TLS_MAX_VERSION` (default 1.3). */
  readonly maxVersion?: '1.2' | '1.3';
  /** `QUEUE_PROXY_TLS_CIPHER_SUITES`: Go names of TLS 1.2 suites. */
  readonly cipherSuites?: readonly string[];
  /** `QUEUE_PROXY_TLS_CURVE_PREFERENCES`: Go curve names (`X25519MLKEM768`, `X25519`, `CurveP256`, …). */
  readonly curvePreferences?: readonly string[];
}

/** How the queue-proxy drains. */
export interface QueueProxyDrain {
  /** `QUEUE_DRAIN_QUIET_SECONDS` (default 30). */
  readonly quietSeconds?: number;
  /** `QUEUE_UPGRADE_GRACE_SECONDS` (default 60; with {@link terminationGraceSeconds}, that grace). */
  readonly upgradeGraceSeconds?: number;
  /**
   * `QUEUE_TERMINATION_GRACE_SECONDS`: the Pod's `terminationGracePeriodSeconds`, until which requests in
   * flight and websockets may run once the Pod terminates (docs/queue-proxy.md §7.1).
   */
  readonly terminationGraceSeconds?: number;
  /** `QUEUE_NATIVE_SIDECAR`: signalled only after the app exited, so `/wait-for-drain` starts the drain. */
  readonly nativeSidecar?: boolean;
  /** `QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS` (default 10). */
  readonly nativeSidecarSigtermSeconds?: number;
}

/**
 * Everything a queue-proxy's environment carries. Optional settings left out are not written, so the
 * queue-proxy takes its defaults; a `false` is written as `false`.
 */
export interface QueueProxyEnvSettings {
  /** The revision served. */
  readonly revision: QueueProxyRevision;
  /** The Pod's identity; left out where the platform fills it in from the Pod ({@link QUEUE_PROXY_POD_FIELDS}). */
  readonly pod?: QueueProxyPod;
  /** Requests the app may run at once; 0 = unlimited. */
  readonly containerConcurrency: number;
  /** `USER_PORT`. */
  readonly userPort: number;
  /** `QUEUE_USER_HOST`: where the app listens (default 127.0.0.1). */
  readonly userHost?: string;
  /** The queue-proxy's own ports. */
  readonly ports: QueueProxyPorts;
  /** `QUEUE_BIND_ADDRESS`: the address every listener binds (default all interfaces). */
  readonly bindAddress?: string;
  /** Request and request-head timeouts. */
  readonly timeouts: QueueProxyTimeouts;
  /**
   * `SERVING_READINESS_PROBE`: the app's corev1.Probe (an array with {@link multiContainerProbes}),
   * encoded as JSON; a string is taken as JSON already encoded. Left out = always ready.
   */
  readonly readinessProbe?: string | object;
  /** `ENABLE_MULTI_CONTAINER_PROBES`. */
  readonly multiContainerProbes?: boolean;
  /** `ENABLE_HTTP2_AUTO_DETECTION`: HTTP readiness probes try h2c first. */
  readonly http2AutoDetection?: boolean;
  /** `QUEUE_HTTP1_RELAY`: plain HTTP/1.1 requests on the raw relay (default on). */
  readonly http1Relay?: boolean;
  /**
   * `QUEUE_SERVER_TIMING`: `Server-Timing: queue;dur=…` on requests that waited for a breaker slot
   * (default on; false for a revision annotated `zerogate.dev/server-timing: "false"`).
   */
  readonly serverTiming?: boolean;
  /** `SERVING_LOGGING_LEVEL` (`debug`, `info`, …) and `SERVING_LOGGING_CONFIG` (zap's, default ''). */
  readonly logging: { readonly level: string; readonly config?: string };
  /** Request metrics and logs; left out, none (the queue-proxy's default). */
  readonly observability?: QueueProxyObservability;
  /** Distributed tracing; left out, none (the queue-proxy's default). */
  readonly tracing?: QueueProxyTracing;
  /** Internal TLS settings; left out, Knative's defaults. */
  readonly tls?: QueueProxyTls;
  /** Drain settings; left out, the queue-proxy's defaults. */
  readonly drain?: QueueProxyDrain;
  /** Knative's `SYSTEM_NAMESPACE`, not read by this queue-proxy. */
  readonly systemNamespace?: string;
  /**
   * Also write the rest of what Knative's revision reconciler sets ({@link KNATIVE_ONLY_ENV} and
   * `HOST_IP`), so that Knative's own queue-proxy starts from the same environment.
   */
  readonly knativeOnly?: { readonly hostIp: string };
}

const bool = (v: boolean): string => (v ? 'true' : 'false');

/**
 * The queue-proxy's environment for `settings`: each value in the form `loadConfig` parses (integers in
 * decimal, booleans `true`/`false`, probes as JSON, lists comma-separated).
 */
export function queueProxyEnv(settings: QueueProxyEnvSettings): Record<string, string> {
  const N = QUEUE_PROXY_ENV;
  const env: Record<string, string> = {};
  const set = (name: string, value: string | number | boolean | undefined): void => {
    if (value === undefined) return;
    env[name] = typeof value === 'boolean' ? bool(value) : String(value);
  };
  const { revision, pod, ports, timeouts, logging, observability, tls, drain, tracing } = settings;
  const otlp = tracing?.exporter === 'otlp' ? tracing : undefined;
  if (otlp && observability?.form === 'serving-variables') {
    throw new Error(
      "queueProxyEnv: OTLP tracing is Knative ≥ 1.19's, written in OBSERVABILITY_CONFIG: not with serving-variables",
    );
  }
  const otlpTracing = otlp && {
    tracing: {
      protocol: otlp.protocol ?? 'http/protobuf',
      endpoint: otlp.endpoint,
      samplingRate: otlp.sampleRate,
    },
  };

  if (pod) set(N.namespace, pod.namespace);
  set(N.service, revision.service);
  set(N.configuration, revision.configuration);
  set(N.revision, revision.name);
  set(N.servingPort, ports.serving);
  set(N.tlsPort, ports.tls);
  set(N.containerConcurrency, settings.containerConcurrency);
  set(N.revisionTimeout, timeouts.revisionSeconds);
  set(N.responseStartTimeout, timeouts.responseStartSeconds);
  set(N.idleTimeout, timeouts.idleSeconds);
  if (pod) {
    set(N.pod, pod.name);
    set(N.podIp, pod.ip);
  }
  set(N.loggingConfig, logging.config ?? '');
  set(N.loggingLevel, logging.level);
  set(N.userPort, settings.userPort);
  set(SYSTEM_NAMESPACE_ENV, settings.systemNamespace);
  const probe = settings.readinessProbe;
  set(N.readinessProbe, typeof probe === 'string' || probe === undefined ? probe : JSON.stringify(probe));
  set(N.http2AutoDetection, settings.http2AutoDetection);
  set(N.http1Relay, settings.http1Relay);
  set(N.serverTiming, settings.serverTiming);
  set(N.multiContainerProbes, settings.multiContainerProbes);

  if (observability?.form === 'observability-config') {
    set(
      N.observabilityConfig,
      JSON.stringify({
        requestMetrics: { protocol: observability.requestMetrics ? 'prometheus' : 'none' },
        enableRequestLog: observability.requestLog,
        enableProbeRequestLog: observability.probeRequestLog,
        ...(observability.requestLogTemplate === undefined
          ? {}
          : { requestLogTemplate: observability.requestLogTemplate }),
        ...otlpTracing,
      }),
    );
  } else if (otlpTracing) {
    set(N.observabilityConfig, JSON.stringify(otlpTracing));
  } else if (observability) {
    set(N.requestMetricsBackend, observability.requestMetrics ? 'prometheus' : '');
    set(N.requestLog, observability.requestLog);
    set(N.probeRequestLog, observability.probeRequestLog);
    set(N.requestLogTemplate, observability.requestLogTemplate);
  }
  set(N.metricNames, observability?.metricNames);

  if (tls) {
    set(N.certsDir, tls.certsDir);
    set(N.tlsMinVersion, tls.minVersion);
    set(N.tlsMaxVersion, tls.maxVersion);
    set(N.tlsCipherSuites, tls.cipherSuites?.join(','));
    set(N.tlsCurvePreferences, tls.curvePreferences?.join(','));
  }

  set(N.bindAddress, settings.bindAddress);
  set(N.userHost, settings.userHost);
  set(N.adminPort, ports.admin);
  set(N.statsPort, ports.stats);
  set(N.metricsPort, ports.metrics);
  set(N.readHeaderTimeout, timeouts.readHeaderSeconds);
  if (drain) {
    set(N.drainQuiet, drain.quietSeconds);
    set(N.upgradeGrace, drain.upgradeGraceSeconds);
    set(N.terminationGrace, drain.terminationGraceSeconds);
    set(N.nativeSidecar, drain.nativeSidecar);
    set(N.nativeSidecarSigterm, drain.nativeSidecarSigtermSeconds);
  }
  if (tracing?.exporter === 'zipkin') {
    set(N.tracingBackend, 'zipkin');
    set(N.tracingZipkinEndpoint, tracing.endpoint);
    set(N.tracingSampleRate, tracing.sampleRate);
    set(N.tracingDebug, false);
  } else if (settings.knativeOnly) Object.assign(env, KNATIVE_TRACING_OFF);
  set(N.serviceName, tracing?.serviceName);
  if (settings.knativeOnly) {
    Object.assign(env, KNATIVE_ONLY_ENV);
    set(HOST_IP_ENV, settings.knativeOnly.hostIp);
  }
  return env;
}

/**
 * The variables of the queue-proxy's environment that the in-process mode (`@zerogate/in-process`) reads
 * as well: the settings of the contract and the revision's identity. The sidecar's own (its serving ports,
 * `USER_PORT`, the readiness probe it runs, internal TLS, the Pod's IP) mean nothing to an app serving its
 * own port, so an app is not given them.
 */
export const IN_PROCESS_ENV: readonly string[] = [
  QUEUE_PROXY_ENV.containerConcurrency,
  QUEUE_PROXY_ENV.revisionTimeout,
  QUEUE_PROXY_ENV.responseStartTimeout,
  QUEUE_PROXY_ENV.idleTimeout,
  QUEUE_PROXY_ENV.bindAddress,
  QUEUE_PROXY_ENV.adminPort,
  QUEUE_PROXY_ENV.statsPort,
  QUEUE_PROXY_ENV.metricsPort,
  QUEUE_PROXY_ENV.drainQuiet,
  QUEUE_PROXY_ENV.nativeSidecarSigterm,
  QUEUE_PROXY_ENV.namespace,
  QUEUE_PROXY_ENV.service,
  QUEUE_PROXY_ENV.configuration,
  QUEUE_PROXY_ENV.revision,
  QUEUE_PROXY_ENV.pod,
  QUEUE_PROXY_ENV.loggingLevel,
  QUEUE_PROXY_ENV.observabilityConfig,
  QUEUE_PROXY_ENV.requestMetricsBackend,
  QUEUE_PROXY_ENV.requestLog,
  QUEUE_PROXY_ENV.probeRequestLog,
  QUEUE_PROXY_ENV.requestLogTemplate,
  QUEUE_PROXY_ENV.metricNames,
  QUEUE_PROXY_ENV.serverTiming,
];

/** The settings of an app in in-process mode: those of {@link QueueProxyEnvSettings} it reads. */
export interface InProcessEnvSettings {
  readonly revision: QueueProxyRevision;
  /** Left out where the platform fills the identity in from the Pod ({@link QUEUE_PROXY_POD_FIELDS}). */
  readonly pod?: QueueProxyPod;
  readonly containerConcurrency: number;
  /** The side listeners' ports: `/wait-for-drain`, the autoscaler's `Stat`, the request metrics. */
  readonly ports: Omit<QueueProxyPorts, 'serving' | 'tls'>;
  /** `QUEUE_BIND_ADDRESS`: the address the side listeners bind (default all interfaces). */
  readonly bindAddress?: string;
  readonly timeouts: Omit<QueueProxyTimeouts, 'readHeaderSeconds'>;
  readonly logging: { readonly level: string };
  readonly observability?: QueueProxyObservability;
  readonly drain?: Pick<QueueProxyDrain, 'quietSeconds' | 'nativeSidecarSigtermSeconds'>;
  /** `QUEUE_SERVER_TIMING`, as {@link QueueProxyEnvSettings.serverTiming}. */
  readonly serverTiming?: boolean;
}

/**
 * The environment of an app carrying the queue-proxy's contract itself: {@link queueProxyEnv}'s values,
 * written the same way, of the variables in {@link IN_PROCESS_ENV} alone.
 */
export function inProcessEnv(settings: InProcessEnvSettings): Record<string, string> {
  const all = queueProxyEnv({ ...settings, userPort: 0, ports: { serving: 0, tls: 0, ...settings.ports } });
  const env: Record<string, string> = {};
  for (const name of IN_PROCESS_ENV) if (all[name] !== undefined) env[name] = all[name];
  return env;
}
