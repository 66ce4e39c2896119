/**
 * The part of the queue-proxy's configuration that the sidecar and the in-process mode share, read in one
 * place from the variables Knative gives a queue-proxy (docs/queue-proxy.md §2), so both take each variable
 * with the same default, range and message.
 */
import type { EnvReader } from './config.js';
import { GoTemplate, GoTemplateParseError } from './go-template.js';
import { type MetricNames, queueProxyMetricNames } from './metric-names.js';

/** The settings of the queue-proxy's contract that do not depend on where it runs. */
export interface QueueProxyContract {
  /** Requests the app may run at once; 0 = unlimited (no breaker). */
  readonly containerConcurrency: number;
  /** Absolute limit from arrival, queue wait included; 0 = none. */
  readonly revisionTimeoutMs: number;
  /** Limit until the response starts; 0 = off. */
  readonly responseStartTimeoutMs: number;
  /** Limit between writes of the response; 0 = off. */
  readonly idleTimeoutMs: number;
  /** Address the side listeners bind (and the sidecar's serving ports); '' = all interfaces. */
  readonly bindAddress: string;
  /** `/wait-for-drain` (the app container's preStop hook). */
  readonly adminPort: number;
  /** The autoscaler's `Stat` on `/metrics`. */
  readonly statsPort: number;
  /** Prometheus request metrics, served only when {@link requestMetrics}. */
  readonly metricsPort: number;
  /** How long the drain waits with no request before the server may close. */
  readonly drainQuietMs: number;
  /**
   * After a `/wait-for-drain` completed (a native sidecar, or the in-process mode), how long a SIGTERM may
   * take before the drain is taken for an app container restart and reset.
   */
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
  /** Include health checks in the request log. */
  readonly probeRequestLog: boolean;
  /**
   * Knative's request log template (`SERVING_REQUEST_LOG_TEMPLATE`, or `requestLogTemplate` in
   * `OBSERVABILITY_CONFIG`), parsed; without one, request log lines are the JSON logger's.
   */
  readonly requestLogTemplate: GoTemplate | undefined;
  /** Which of Knative's eras of Prometheus names the request metrics take (see `metric-names.ts`). */
  readonly metricNames: MetricNames;
  /** Pino's name of `SERVING_LOGGING_LEVEL` (zap's names accepted); unset or empty is `info`. */
  readonly logLevel: string;
  /**
   * A request that waited for a breaker slot gets `Server-Timing: queue;dur=<ms>` (`QUEUE_SERVER_TIMING`,
   * default on; the revision's `zerogate.dev/server-timing: "false"` annotation maps to `false`).
   */
  readonly serverTiming: boolean;
}

/**
 * What the variables Knative always sets on a queue-proxy are when they are unset: `'required'` for the
 * sidecar, as Knative's queue-proxy requires them (envconfig `required`); otherwise, for an app that
 * carries the contract itself and gets only the `K_*` variables of every user container, concurrency 0,
 * Knative's default revision timeout, the identity from `K_SERVICE`, `K_CONFIGURATION` and `K_REVISION`,
 * and `pod` as the Pod's name.
 */
export type QueueProxyContractFallback = 'required' | { readonly pod: string };

/** Knative's default revision timeout (`config-defaults` revision-timeout-seconds). */
const DEFAULT_REVISION_TIMEOUT_SECONDS = 300;
/** Knative's cap on `timeoutSeconds` (`config-defaults` max-revision-timeout-seconds default). */
const MAX_TIMEOUT_SECONDS = 3600;
/**
 * Default of `QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS`. The kubelet sends SIGTERM as soon as the preStop hook
 * returned (to a native sidecar, as soon as the last app container exited), so this covers the app's own
 * exit, which comes after a quiet period without requests and is only clean-up. Longer only delays
 * readiness after an app container restart; shorter takes a slow exit for a restart, which brings no
 * traffic back (a terminating Pod's endpoints stay not ready) but makes the late SIGTERM drain again
 * (docs/queue-proxy.md §7.3).
 */
const SIGTERM_WAIT_SECONDS = 10;

/** The subset of `OBSERVABILITY_CONFIG` (Knative ≥ 1.19) acted on. */
interface ObservabilityConfig {
  requestMetrics?: { protocol?: unknown };
  enableRequestLog?: unknown;
  enableProbeRequestLog?: unknown;
  requestLogTemplate?: unknown;
}

/** Parses a request log template, noting a bad one against `variable`; '' is none. */
function readTemplate(r: EnvReader, variable: string, source: unknown): GoTemplate | undefined {
  if (source === undefined || source === '') return undefined;
  if (typeof source !== 'string') {
    r.problem(variable, 'requestLogTemplate must be a string');
    return undefined;
  }
  try {
    return GoTemplate.parse(source);
  } catch (err) {
    if (!(err instanceof GoTemplateParseError)) throw err;
    r.problem(variable, `request log template does not parse: ${err.message}`);
    return undefined;
  }
}

/**
 * Reads the shared settings from `r`, problems noted there: `CONTAINER_CONCURRENCY`, the `REVISION_*`
 * timeouts, the `QUEUE_*` side listeners, drain and Server-Timing, the `SERVING_*` identity and logging
 * level, and both Knative config eras of observability (≤ 1.18's separate `SERVING_*` variables, ≥ 1.19's
 * `OBSERVABILITY_CONFIG` JSON). What is unset is as `fallback` says.
 */
export function readQueueProxyContract(
  r: EnvReader,
  fallback: QueueProxyContractFallback,
): QueueProxyContract {
  const required = fallback === 'required';
  const containerConcurrency = r.int('CONTAINER_CONCURRENCY', required ? undefined : 0, {
    min: 0,
    max: 100_000,
  });
  const timeout = { min: 0, max: MAX_TIMEOUT_SECONDS };
  const revisionSeconds = r.int(
    'REVISION_TIMEOUT_SECONDS',
    required ? undefined : DEFAULT_REVISION_TIMEOUT_SECONDS,
    timeout,
  );
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
  const identity = required
    ? {
        namespace: r.required('SERVING_NAMESPACE'),
        service: r.string('SERVING_SERVICE', ''),
        configuration: r.required('SERVING_CONFIGURATION'),
        revision: r.required('SERVING_REVISION'),
        pod: r.required('SERVING_POD'),
      }
    : {
        namespace: r.string('SERVING_NAMESPACE', ''),
        service: r.string('SERVING_SERVICE', r.string('K_SERVICE', '')),
        configuration: r.string('SERVING_CONFIGURATION', r.string('K_CONFIGURATION', '')),
        revision: r.string('SERVING_REVISION', r.string('K_REVISION', '')),
        pod: r.string('SERVING_POD', fallback.pod),
      };
  if (required) r.required('SERVING_LOGGING_LEVEL');
  const logLevel = r.logLevel('SERVING_LOGGING_LEVEL');

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
  const requestLogTemplate =
    obs.requestLogTemplate !== undefined && obs.requestLogTemplate !== ''
      ? readTemplate(r, 'OBSERVABILITY_CONFIG', obs.requestLogTemplate)
      : readTemplate(r, 'SERVING_REQUEST_LOG_TEMPLATE', r.raw('SERVING_REQUEST_LOG_TEMPLATE'));
  const metricNames = queueProxyMetricNames(r);
  const serverTiming = r.bool('QUEUE_SERVER_TIMING', true);

  return {
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
    ...identity,
    requestMetrics,
    requestLog,
    probeRequestLog,
    requestLogTemplate,
    metricNames,
    logLevel,
    serverTiming,
  };
}
