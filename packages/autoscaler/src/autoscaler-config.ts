/**
 * Per-revision autoscaling parameters: Knative's `autoscaling.knative.dev/*` annotations laid over
 * the cluster defaults of the `config-autoscaler` ConfigMap, resolved once into the numbers the
 * KPA decider uses. Mirrors `pkg/autoscaler/config/config.go` (defaults),
 * `pkg/apis/autoscaling/annotation_validation.go` (validation),
 * `pkg/reconciler/autoscaling/resources/target.go` (target resolution) and `decider.go`.
 */
import { parseGoDuration } from '@zerogate/core';

/** The scaling metric a revision's KPA follows. */
export type ScalingMetric = 'concurrency' | 'rps';

/** Cluster-wide autoscaler settings (Knative's `config-autoscaler` ConfigMap), durations in ms. */
export interface ClusterAutoscalerConfig {
  /** `enable-scale-to-zero`: when false, a revision idles at one Pod instead of zero. */
  readonly enableScaleToZero: boolean;
  /** `container-concurrency-target-default`: the total per-Pod concurrency when containerConcurrency is 0. */
  readonly containerConcurrencyTargetDefault: number;
  /** `container-concurrency-target-percentage` as a fraction: utilization for the concurrency metric. */
  readonly containerConcurrencyTargetFraction: number;
  /** Utilization fraction for the RPS metric. */
  readonly targetUtilization: number;
  /** `requests-per-second-target-default`: the total per-Pod RPS. */
  readonly rpsTargetDefault: number;
  /** `max-scale-up-rate`: at most `ceil(ready × rate)` Pods per decision. */
  readonly maxScaleUpRate: number;
  /** `max-scale-down-rate`: at least `floor(ready ÷ rate)` Pods per decision. */
  readonly maxScaleDownRate: number;
  /** `target-burst-capacity`: spare capacity kept before the activator leaves the path; −1 = always. */
  readonly targetBurstCapacity: number;
  /** `activator-capacity`: requests one activator is sized for (numActivators). */
  readonly activatorCapacity: number;
  /** `panic-window-percentage`: panic window as a percentage of the stable window. */
  readonly panicWindowPercentage: number;
  /** `panic-threshold-percentage`: panic when panic-window demand ≥ this % of ready capacity. */
  readonly panicThresholdPercentage: number;
  /** `stable-window`. */
  readonly stableWindowMs: number;
  /** `scale-to-zero-grace-period`: time behind the activator before the last Pod goes. */
  readonly scaleToZeroGracePeriodMs: number;
  /** `scale-down-delay`: desired Pods is the maximum over this trailing window. */
  readonly scaleDownDelayMs: number;
  /** `initial-scale`: Pods a new revision starts with. */
  readonly initialScale: number;
  /** `allow-zero-initial-scale`: whether `initial-scale` may be 0. */
  readonly allowZeroInitialScale: boolean;
  /** Lower scale bound when a revision sets none (Knative has no such key; always 0 there). */
  readonly minScale: number;
  /** `max-scale`: upper scale bound when a revision sets none; 0 = unbounded. */
  readonly maxScale: number;
  /** `max-scale-limit`: the largest max-scale a revision may ask for; 0 = no limit. */
  readonly maxScaleLimit: number;
  /** Pods a scale from zero jumps to at least (`activation-scale`; 1 = no floor). */
  readonly activationScale: number;
}

/**
 * Knative's `config-autoscaler` defaults (`pkg/autoscaler/config/config.go`), with the
 * target-burst-capacity of current releases (211).
 */
export const DEFAULT_CLUSTER_AUTOSCALER_CONFIG: Readonly<ClusterAutoscalerConfig> = Object.freeze({
  enableScaleToZero: true,
  containerConcurrencyTargetDefault: 100,
  containerConcurrencyTargetFraction: 0.7,
  targetUtilization: 0.7,
  rpsTargetDefault: 200,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  targetBurstCapacity: 211,
  activatorCapacity: 100,
  panicWindowPercentage: 10,
  panicThresholdPercentage: 200,
  stableWindowMs: 60_000,
  scaleToZeroGracePeriodMs: 30_000,
  scaleDownDelayMs: 0,
  initialScale: 1,
  allowZeroInitialScale: false,
  minScale: 0,
  maxScale: 0,
  maxScaleLimit: 0,
  activationScale: 1,
});

/** Everything one revision's KPA needs, resolved from annotations, containerConcurrency and cluster defaults. */
export interface RevisionAutoscaling {
  readonly metric: ScalingMetric;
  /** The revision's `containerConcurrency` (0 = unlimited). */
  readonly containerConcurrency: number;
  /** Per-Pod capacity: CC, or the default (100 / RPS 200) at CC 0, or the `target` annotation capped at CC. */
  readonly totalValue: number;
  /** Utilization fraction applied to {@link totalValue}. */
  readonly targetUtilization: number;
  /** The per-Pod value the KPA aims for: `max(0.01, totalValue × targetUtilization)`. */
  readonly targetValue: number;
  readonly targetBurstCapacity: number;
  readonly activatorCapacity: number;
  readonly stableWindowMs: number;
  /** `max(1 s, stable window × panic-window-percentage ÷ 100)`. */
  readonly panicWindowMs: number;
  /** Panic threshold as a ratio of desired panic Pods to ready Pods (200% → 2). */
  readonly panicThreshold: number;
  readonly maxScaleUpRate: number;
  readonly maxScaleDownRate: number;
  readonly minScale: number;
  /** 0 = unbounded. */
  readonly maxScale: number;
  readonly initialScale: number;
  readonly activationScale: number;
  readonly scaleDownDelayMs: number;
  readonly scaleToZeroGracePeriodMs: number;
  readonly enableScaleToZero: boolean;
  /** Whether a route sends traffic here; an unreachable revision may drop to its bounds at once. */
  readonly reachable: boolean;
}

const GROUP = 'autoscaling.knative.dev/';

/**
 * The annotation keys read, each with the legacy camelCase spelling Knative still accepts
 * (`pkg/apis/autoscaling/register.go` `kmap.KeyPriority`): the first key present wins.
 */
export const AUTOSCALING_ANNOTATIONS = {
  minScale: [`${GROUP}min-scale`, `${GROUP}minScale`],
  maxScale: [`${GROUP}max-scale`, `${GROUP}maxScale`],
  initialScale: [`${GROUP}initial-scale`, `${GROUP}initialScale`],
  activationScale: [`${GROUP}activation-scale`],
  target: [`${GROUP}target`],
  targetUtilizationPercentage: [
    `${GROUP}target-utilization-percentage`,
    `${GROUP}targetUtilizationPercentage`,
  ],
  targetBurstCapacity: [`${GROUP}target-burst-capacity`, `${GROUP}targetBurstCapacity`],
  window: [`${GROUP}window`],
  panicWindowPercentage: [`${GROUP}panic-window-percentage`, `${GROUP}panicWindowPercentage`],
  panicThresholdPercentage: [`${GROUP}panic-threshold-percentage`, `${GROUP}panicThresholdPercentage`],
  scaleDownDelay: [`${GROUP}scale-down-delay`, `${GROUP}scaleDownDelay`],
  metric: [`${GROUP}metric`],
} as const satisfies Record<string, readonly string[]>;

/** Knative's bounds (`pkg/apis/autoscaling/register.go`). */
const TARGET_MIN = 0.01;
const WINDOW_MIN_MS = 6_000;
const WINDOW_MAX_MS = 3_600_000;
const PANIC_WINDOW_PERCENTAGE = [1, 100] as const;
const PANIC_THRESHOLD_PERCENTAGE = [110, 1000] as const;
const INT32_MAX = 2_147_483_647;

/** One rejected annotation. */
export interface AnnotationProblem {
  readonly annotation: string;
  readonly value: string;
  readonly message: string;
}

/**
 * Thrown when one or more autoscaling annotations are invalid. Names every bad annotation and
 * carries {@link fallback}: the configuration with those annotations ignored, for callers that
 * log and carry on with defaults.
 */
export class AutoscalingAnnotationError extends Error {
  /** Stable code for logs and tests. */
  readonly code = 'INVALID_AUTOSCALING_ANNOTATION';
  readonly problems: readonly AnnotationProblem[];
  readonly fallback: RevisionAutoscaling;

  constructor(problems: readonly AnnotationProblem[], fallback: RevisionAutoscaling) {
    super(
      `invalid autoscaling annotations:\n${problems
        .map((p) => `  ${p.annotation}=${JSON.stringify(p.value)}: ${p.message}`)
        .join('\n')}`,
    );
    this.name = 'AutoscalingAnnotationError';
    this.problems = problems;
    this.fallback = fallback;
  }

  /** The names of the rejected annotations. */
  get annotations(): string[] {
    return this.problems.map((p) => p.annotation);
  }
}

/** Inputs to {@link resolveRevisionAutoscaling}. */
export interface RevisionAutoscalingInput {
  /** The revision's annotations (other keys are ignored). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** The revision's `containerConcurrency`; 0 or absent = unlimited. */
  readonly containerConcurrency?: number;
  /** Cluster settings; defaults to {@link DEFAULT_CLUSTER_AUTOSCALER_CONFIG}. */
  readonly cluster?: Readonly<ClusterAutoscalerConfig>;
  /** Whether the revision is routed; defaults to true. */
  readonly reachable?: boolean;
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/**
 * Resolves a revision's autoscaling parameters. Invalid annotations are all reported in one
 * {@link AutoscalingAnnotationError}; a `containerConcurrency` that is not a non-negative integer
 * throws a `RangeError`.
 */
export function resolveRevisionAutoscaling(input: RevisionAutoscalingInput = {}): RevisionAutoscaling {
  const cluster = input.cluster ?? DEFAULT_CLUSTER_AUTOSCALER_CONFIG;
  const annotations = input.annotations ?? {};
  const cc = input.containerConcurrency ?? 0;
  if (!Number.isInteger(cc) || cc < 0) {
    throw new RangeError(`containerConcurrency must be a non-negative integer, was ${cc}`);
  }
  const problems: AnnotationProblem[] = [];
  const reader = new AnnotationReader(annotations, problems);

  const minScale = reader.int('minScale', 0) ?? cluster.minScale;
  let maxScale = reader.int('maxScale', 0) ?? cluster.maxScale;
  if (maxScale !== 0 && maxScale < minScale) {
    reader.reject('maxScale', `max-scale=${maxScale} is less than min-scale=${minScale}`);
    maxScale = cluster.maxScale;
  }
  if (
    cluster.maxScaleLimit > 0 &&
    reader.has('maxScale') &&
    (maxScale === 0 || maxScale > cluster.maxScaleLimit)
  ) {
    reader.reject('maxScale', `must be in [1, ${cluster.maxScaleLimit}] (max-scale-limit)`);
    maxScale = cluster.maxScale;
  }

  let initialScale = reader.int('initialScale', 0) ?? cluster.initialScale;
  if (initialScale === 0 && !cluster.allowZeroInitialScale && reader.has('initialScale')) {
    reader.reject('initialScale', 'initial-scale=0 not allowed by cluster (allow-zero-initial-scale)');
    initialScale = cluster.initialScale;
  }

  let activationScale = cluster.activationScale;
  const requestedActivationScale = reader.int('activationScale', 2);
  if (requestedActivationScale !== undefined) {
    if (minScale > requestedActivationScale) {
      reader.reject('activationScale', `min-scale=${minScale} is greater than activation-scale`);
    } else if (maxScale !== 0 && maxScale < requestedActivationScale) {
      reader.reject('activationScale', `max-scale=${maxScale} is less than activation-scale`);
    } else {
      activationScale = requestedActivationScale;
    }
  }

  const metricText = reader.raw('metric');
  let metric: ScalingMetric = 'concurrency';
  if (metricText === 'rps' || metricText === 'concurrency') metric = metricText;
  else if (metricText !== undefined) reader.reject('metric', 'must be "concurrency" or "rps"');

  // Why: pkg/reconciler/autoscaling/resources/target.go ResolveMetricTarget.
  let totalValue: number;
  let targetUtilization: number;
  if (metric === 'rps') {
    totalValue = cluster.rpsTargetDefault;
    targetUtilization = cluster.targetUtilization;
  } else {
    totalValue = cc === 0 ? cluster.containerConcurrencyTargetDefault : cc;
    targetUtilization = cluster.containerConcurrencyTargetFraction;
  }
  const target = reader.float('target', TARGET_MIN, Number.POSITIVE_INFINITY);
  if (target !== undefined) {
    totalValue = metric === 'concurrency' && cc !== 0 ? Math.min(target, cc) : target;
  }
  const utilizationPercent = reader.float('targetUtilizationPercentage', 1, 100);
  if (utilizationPercent !== undefined) targetUtilization = utilizationPercent / 100;

  let targetBurstCapacity = cluster.targetBurstCapacity;
  const tbcText = reader.raw('targetBurstCapacity');
  if (tbcText !== undefined) {
    const tbc = DECIMAL.test(tbcText) ? Number(tbcText) : Number.NaN;
    if (Number.isFinite(tbc) && (tbc >= 0 || tbc === -1)) targetBurstCapacity = tbc;
    else reader.reject('targetBurstCapacity', 'must be a number ≥ 0, or -1 (activator always in path)');
  }

  const stableWindowMs = reader.duration('window', WINDOW_MIN_MS, WINDOW_MAX_MS) ?? cluster.stableWindowMs;
  const panicWindowPercentage =
    reader.float('panicWindowPercentage', ...PANIC_WINDOW_PERCENTAGE) ?? cluster.panicWindowPercentage;
  const panicThresholdPercentage =
    reader.float('panicThresholdPercentage', ...PANIC_THRESHOLD_PERCENTAGE) ??
    cluster.panicThresholdPercentage;
  const scaleDownDelayMs = reader.duration('scaleDownDelay', 0, WINDOW_MAX_MS) ?? cluster.scaleDownDelayMs;

  const resolved: RevisionAutoscaling = Object.freeze({
    metric,
    containerConcurrency: cc,
    totalValue,
    targetUtilization,
    targetValue: Math.max(TARGET_MIN, totalValue * targetUtilization),
    targetBurstCapacity,
    activatorCapacity: cluster.activatorCapacity,
    stableWindowMs,
    // Why: pkg/autoscaler/metrics (MakeMetric): the panic window is never shorter than one bucket.
    panicWindowMs: Math.max(1000, (stableWindowMs * panicWindowPercentage) / 100),
    panicThreshold: panicThresholdPercentage / 100,
    maxScaleUpRate: cluster.maxScaleUpRate,
    maxScaleDownRate: cluster.maxScaleDownRate,
    minScale,
    maxScale,
    initialScale,
    activationScale,
    scaleDownDelayMs,
    scaleToZeroGracePeriodMs: cluster.scaleToZeroGracePeriodMs,
    enableScaleToZero: cluster.enableScaleToZero,
    reachable: input.reachable ?? true,
  });
  if (problems.length > 0) throw new AutoscalingAnnotationError(problems, resolved);
  return resolved;
}

type AnnotationName = keyof typeof AUTOSCALING_ANNOTATIONS;

/** Reads annotations by their Knative names, recording each problem instead of stopping at the first. */
class AnnotationReader {
  constructor(
    private readonly annotations: Readonly<Record<string, string>>,
    private readonly problems: AnnotationProblem[],
  ) {}

  /** The key actually present for `name` (the kebab-case key wins over the camelCase one). */
  key(name: AnnotationName): string | undefined {
    return AUTOSCALING_ANNOTATIONS[name].find((k) => Object.hasOwn(this.annotations, k));
  }

  has(name: AnnotationName): boolean {
    return this.key(name) !== undefined;
  }

  raw(name: AnnotationName): string | undefined {
    const k = this.key(name);
    return k === undefined ? undefined : this.annotations[k];
  }

  reject(name: AnnotationName, message: string): void {
    const annotation = this.key(name) ?? (AUTOSCALING_ANNOTATIONS[name][0] as string);
    this.problems.push({ annotation, value: this.annotations[annotation] ?? '', message });
  }

  /** An int32 of at least `min`, or undefined (absent or rejected). */
  int(name: AnnotationName, min: number): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    const n = INTEGER.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > INT32_MAX) {
      this.reject(name, `must be an integer in [${min}, ${INT32_MAX}]`);
      return undefined;
    }
    return n;
  }

  /** A decimal number in [min, max], or undefined (absent or rejected). */
  float(name: AnnotationName, min: number, max: number): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    const n = DECIMAL.test(v) ? Number(v) : Number.NaN;
    if (!Number.isFinite(n) || n < min || n > max) {
      this.reject(
        name,
        max === Number.POSITIVE_INFINITY
          ? `must be a number ≥ ${min}`
          : `must be a number in [${min}, ${max}]`,
      );
      return undefined;
    }
    return n;
  }

  /** A Go duration in [minMs, maxMs] with whole seconds, in ms, or undefined (absent or rejected). */
  duration(name: AnnotationName, minMs: number, maxMs: number): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    const ms = parseGoDuration(v);
    if (ms === undefined) {
      this.reject(name, 'must be a duration such as "60s" or "1m30s"');
    } else if (ms < minMs || ms > maxMs) {
      this.reject(name, `must be in [${minMs / 1000}s, ${maxMs / 1000}s]`);
    } else if (ms % 1000 !== 0) {
      this.reject(name, 'must be whole seconds');
    } else {
      return ms;
    }
    return undefined;
  }
}
