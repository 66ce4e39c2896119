import { hostname } from 'node:os';
import { type Env, EnvReader, pinoLevel } from '@zerogate/core';

/**
 * The in-process mode's configuration: the part of the queue-proxy's (docs/queue-proxy.md §2) that applies
 * when the app serves its own port, read from the same variables Knative gives a Pod.
 */
export interface InProcessConfig {
  /** Requests the app may run at once; 0 = unlimited (no breaker). */
  readonly containerConcurrency: number;
  /** Absolute limit from arrival, queue wait included; 0 = none. */
  readonly revisionTimeoutMs: number;
  /** Limit until the response starts; 0 = off. */
  readonly responseStartTimeoutMs: number;
  /** Limit between writes of the response; 0 = off. */
  readonly idleTimeoutMs: number;
  /** Address the admin, stats and metrics listeners bind; '' = all interfaces. */
  readonly bindAddress: string;
  /** `/wait-for-drain` (the app container's preStop hook). */
  readonly adminPort: number;
  /** The autoscaler's `Stat` on `/metrics`. */
  readonly statsPort: number;
  /** Prometheus request metrics, served only when {@link requestMetrics}. */
  readonly metricsPort: number;
  /** How long the drain waits with no request before the server closes. */
  readonly drainQuietMs: number;
  /** After a `/wait-for-drain` completed, how long a SIGTERM may take before the drain is reset. */
  readonly sigtermWaitMs: number;
  readonly namespace: string;
  readonly service: string;
  readonly configuration: string;
  readonly revision: string;
  readonly pod: string;
  /** Serve Prometheus request metrics on {@link metricsPort}. */
  readonly requestMetrics: boolean;
  /** Log one line per counted request. */
  readonly requestLog: boolean;
  /** Log health checks too. */
  readonly probeRequestLog: boolean;
  readonly logLevel: string;
}

/** Knative's default revision timeout (`config-defaults` revision-timeout-seconds). */
const DEFAULT_TIMEOUT_SECONDS = 300;
/** Knative's cap on `timeoutSeconds` (`config-defaults` max-revision-timeout-seconds default). */
const MAX_TIMEOUT_SECONDS = 3600;
/**
 * The kubelet sends SIGTERM as soon as the preStop hook returned, so a drain that none follows within this
 * time was a container restart, not a Pod stopping (docs/queue-proxy.md §7.3, the native sidecar's reasoning).
 */
const SIGTERM_WAIT_SECONDS = 10;

/** The subset of `OBSERVABILITY_CONFIG` (Knative ≥ 1.19) acted on. */
interface ObservabilityConfig {
  requestMetrics?: { protocol?: unknown };
  enableRequestLog?: unknown;
  enableProbeRequestLog?: unknown;
}

/**
 * Reads the in-process configuration once from `env`: the queue-proxy's variables where they apply
 * (`CONTAINER_CONCURRENCY`, the `REVISION_*` timeouts, `QUEUE_*` ports and drain, `SERVING_*` identity and
 * observability), each optional, with the identity falling back to the `K_*` variables Knative gives every
 * user container and the pod name to the host name. Variables of the sidecar alone (`QUEUE_SERVING_PORT`,
 * `USER_PORT`, readiness probe, TLS) are ignored. Throws a ConfigError naming every bad variable.
 */
export function loadConfig(env: Env): Readonly<InProcessConfig> {
  const r = new EnvReader(env);
  const containerConcurrency = r.int('CONTAINER_CONCURRENCY', 0, { min: 0, max: 100_000 });
  const timeout = { min: 0, max: MAX_TIMEOUT_SECONDS };
  const revisionSeconds = r.int('REVISION_TIMEOUT_SECONDS', DEFAULT_TIMEOUT_SECONDS, timeout);
  const responseStartSeconds = r.int('REVISION_RESPONSE_START_TIMEOUT_SECONDS', 0, timeout);
  const idleSeconds = r.int('REVISION_IDLE_TIMEOUT_SECONDS', 0, timeout);
  const bindAddress = r.string('QUEUE_BIND_ADDRESS', '');
  const adminPort = r.listenPort('QUEUE_ADMIN_PORT', 8022);
  const statsPort = r.listenPort('QUEUE_STATS_PORT', 9090);
  const metricsPort = r.listenPort('QUEUE_METRICS_PORT', 9091);
  const drainQuietSeconds = r.int('QUEUE_DRAIN_QUIET_SECONDS', 30, { min: 0, max: 3600 });
  const sigtermWaitSeconds = r.int('QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS', SIGTERM_WAIT_SECONDS, {
    min: 1,
    max: 3600,
  });
  const namespace = r.string('SERVING_NAMESPACE', '');
  const service = r.string('SERVING_SERVICE', r.string('K_SERVICE', ''));
  const configuration = r.string('SERVING_CONFIGURATION', r.string('K_CONFIGURATION', ''));
  const revision = r.string('SERVING_REVISION', r.string('K_REVISION', ''));
  const pod = r.string('SERVING_POD', hostname());
  const levelName = r.string('SERVING_LOGGING_LEVEL', 'info');
  const logLevel = pinoLevel(levelName) ?? 'info';
  if (pinoLevel(levelName) === undefined) {
    r.problem('SERVING_LOGGING_LEVEL', `unknown level ${JSON.stringify(levelName)}`);
  }

  const observability = r.json('OBSERVABILITY_CONFIG');
  if (observability !== undefined && (typeof observability !== 'object' || observability === null)) {
    r.problem('OBSERVABILITY_CONFIG', 'must be a JSON object');
  }
  const obs = (
    typeof observability === 'object' && observability !== null ? observability : {}
  ) as ObservabilityConfig;
  const requestMetrics =
    obs.requestMetrics?.protocol === 'prometheus' ||
    r.string('SERVING_REQUEST_METRICS_BACKEND', '').toLowerCase() === 'prometheus';
  const requestLog = obs.enableRequestLog === true || r.bool('SERVING_ENABLE_REQUEST_LOG', false);
  const probeRequestLog =
    obs.enableProbeRequestLog === true || r.bool('SERVING_ENABLE_PROBE_REQUEST_LOG', false);
  r.distinctPorts([
    ['QUEUE_ADMIN_PORT', adminPort],
    ['QUEUE_STATS_PORT', statsPort],
    ...(requestMetrics ? [['QUEUE_METRICS_PORT', metricsPort] as const] : []),
  ]);
  r.finish();
  return Object.freeze({
    containerConcurrency,
    revisionTimeoutMs: revisionSeconds * 1000,
    responseStartTimeoutMs: responseStartSeconds * 1000,
    idleTimeoutMs: idleSeconds * 1000,
    bindAddress,
    adminPort,
    statsPort,
    metricsPort,
    drainQuietMs: drainQuietSeconds * 1000,
    sigtermWaitMs: sigtermWaitSeconds * 1000,
    namespace,
    service,
    configuration,
    revision,
    pod,
    requestMetrics,
    requestLog,
    probeRequestLog,
    logLevel,
  });
}

/** Checks option overrides once, throwing a RangeError that names the option. */
export function checkConfig(config: InProcessConfig): void {
  const counts: (keyof InProcessConfig)[] = [
    'containerConcurrency',
    'revisionTimeoutMs',
    'responseStartTimeoutMs',
    'idleTimeoutMs',
    'drainQuietMs',
    'sigtermWaitMs',
  ];
  for (const name of counts) {
    const v = config[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new RangeError(`attach option ${name} must be a non-negative integer, got ${String(v)}`);
    }
  }
  for (const name of ['adminPort', 'statsPort', 'metricsPort'] as const) {
    const v = config[name];
    if (!Number.isInteger(v) || v < 0 || v > 65535) {
      throw new RangeError(`attach option ${name} must be a port (0–65535), got ${String(v)}`);
    }
  }
}
