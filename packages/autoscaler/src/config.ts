import { type Env, EnvReader } from '@zerogate/core';
import { type ClusterAutoscalerConfig, DEFAULT_CLUSTER_AUTOSCALER_CONFIG } from './autoscaler-config.js';

/** Which platform the autoscaler drives: a Kubernetes cluster, or the one-machine platform over HTTP. */
export type ActuatorKind = 'kubernetes' | 'local';

/** The autoscaler process's configuration, read once from the environment. */
export interface AutoscalerProcessConfig {
  /** Address every listener binds; '' = all interfaces. */
  readonly bindAddress: string;
  /** The websocket stat server activators report to (Knative: 8080). */
  readonly port: number;
  readonly metricsPort: number;
  readonly actuator: ActuatorKind;
  /** The one-machine platform's control URL (`http://host:port`), with the `local` actuator; else ''. */
  readonly platformUrl: string;
  /** Only this namespace's revisions ('' = all). */
  readonly namespace: string;
  /**
   * The namespace Zerogate (or Knative Serving) runs in, where the `kubernetes` actuator finds the
   * activator Service's endpoints. Knative's `SYSTEM_NAMESPACE`, `knative-serving` by default.
   */
  readonly systemNamespace: string;
  /** The cluster defaults every revision's annotations override (Knative's `config-autoscaler`). */
  readonly cluster: Readonly<ClusterAutoscalerConfig>;
  readonly logLevel: string;
}

/**
 * The `config-autoscaler` keys settable from the environment, each as `AUTOSCALER_<KEY>` with Knative's key
 * upper-cased (`stable-window` → `AUTOSCALER_STABLE_WINDOW`); durations are Go durations.
 */
export const CLUSTER_KEYS = {
  enableScaleToZero: ['AUTOSCALER_ENABLE_SCALE_TO_ZERO', 'bool'],
  containerConcurrencyTargetDefault: ['AUTOSCALER_CONTAINER_CONCURRENCY_TARGET_DEFAULT', 'number'],
  containerConcurrencyTargetFraction: ['AUTOSCALER_CONTAINER_CONCURRENCY_TARGET_PERCENTAGE', 'percent'],
  targetUtilization: ['AUTOSCALER_TARGET_UTILIZATION_PERCENTAGE', 'percent'],
  rpsTargetDefault: ['AUTOSCALER_REQUESTS_PER_SECOND_TARGET_DEFAULT', 'number'],
  maxScaleUpRate: ['AUTOSCALER_MAX_SCALE_UP_RATE', 'number'],
  maxScaleDownRate: ['AUTOSCALER_MAX_SCALE_DOWN_RATE', 'number'],
  targetBurstCapacity: ['AUTOSCALER_TARGET_BURST_CAPACITY', 'number'],
  activatorCapacity: ['AUTOSCALER_ACTIVATOR_CAPACITY', 'number'],
  panicWindowPercentage: ['AUTOSCALER_PANIC_WINDOW_PERCENTAGE', 'number'],
  panicThresholdPercentage: ['AUTOSCALER_PANIC_THRESHOLD_PERCENTAGE', 'number'],
  stableWindowMs: ['AUTOSCALER_STABLE_WINDOW', 'duration'],
  scaleToZeroGracePeriodMs: ['AUTOSCALER_SCALE_TO_ZERO_GRACE_PERIOD', 'duration'],
  scaleDownDelayMs: ['AUTOSCALER_SCALE_DOWN_DELAY', 'duration'],
  initialScale: ['AUTOSCALER_INITIAL_SCALE', 'number'],
  allowZeroInitialScale: ['AUTOSCALER_ALLOW_ZERO_INITIAL_SCALE', 'bool'],
  minScale: ['AUTOSCALER_MIN_SCALE', 'number'],
  maxScale: ['AUTOSCALER_MAX_SCALE', 'number'],
  maxScaleLimit: ['AUTOSCALER_MAX_SCALE_LIMIT', 'number'],
  activationScale: ['AUTOSCALER_ACTIVATION_SCALE', 'number'],
} as const satisfies Record<
  keyof ClusterAutoscalerConfig,
  readonly [string, 'bool' | 'number' | 'percent' | 'duration']
>;

/** What a namespace name may be: a DNS-1123 label. */
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Reads and validates the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Env): Readonly<AutoscalerProcessConfig> {
  const r = new EnvReader(env);
  const bindAddress = r.string('AUTOSCALER_BIND_ADDRESS', '');
  const port = r.listenPort('AUTOSCALER_PORT', 8080);
  const metricsPort = r.listenPort('AUTOSCALER_METRICS_PORT', 9090);
  r.distinctPorts([
    ['AUTOSCALER_PORT', port],
    ['AUTOSCALER_METRICS_PORT', metricsPort],
  ]);
  const actuator = r.string('AUTOSCALER_ACTUATOR', 'kubernetes');
  if (actuator !== 'kubernetes' && actuator !== 'local')
    r.problem('AUTOSCALER_ACTUATOR', `must be kubernetes or local, got ${JSON.stringify(actuator)}`);
  const platformUrl = r.string('AUTOSCALER_PLATFORM_URL', '');
  if (actuator === 'local') {
    if (platformUrl === '')
      r.problem('AUTOSCALER_PLATFORM_URL', 'is required when AUTOSCALER_ACTUATOR is local');
    else if (!/^http:\/\/[^/\s]+\/?$/.test(platformUrl))
      r.problem('AUTOSCALER_PLATFORM_URL', `must be http://host:port, got ${JSON.stringify(platformUrl)}`);
  }
  const cluster: Record<string, number | boolean> = { ...DEFAULT_CLUSTER_AUTOSCALER_CONFIG };
  for (const [field, [name, kind]] of Object.entries(CLUSTER_KEYS)) {
    const fallback = cluster[field]!;
    if (kind === 'bool') cluster[field] = r.bool(name, fallback as boolean);
    else if (kind === 'duration') cluster[field] = r.durationMs(name, fallback as number);
    else {
      const raw = r.raw(name);
      if (raw === undefined) continue;
      const n = Number(raw);
      if (!Number.isFinite(n)) r.problem(name, `must be a number, got ${JSON.stringify(raw)}`);
      else cluster[field] = kind === 'percent' ? n / 100 : n;
    }
  }
  const namespace = r.string('AUTOSCALER_NAMESPACE', '');
  const systemNamespace = r.string('SYSTEM_NAMESPACE', 'knative-serving');
  if (systemNamespace.length > 63 || !DNS_1123_LABEL.test(systemNamespace)) {
    r.problem('SYSTEM_NAMESPACE', `must be a namespace name, got ${JSON.stringify(systemNamespace)}`);
  }
  const logLevel = r.logLevel('AUTOSCALER_LOG_LEVEL');
  r.finish();
  return Object.freeze({
    bindAddress,
    port,
    metricsPort,
    actuator: actuator === 'local' ? 'local' : 'kubernetes',
    platformUrl: platformUrl.replace(/\/$/, ''),
    namespace,
    systemNamespace,
    cluster: Object.freeze(cluster as unknown as ClusterAutoscalerConfig),
    logLevel,
  });
}
