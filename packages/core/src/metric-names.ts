/**
 * Which of Knative's two sets of Prometheus metric names a component exposes, decided from the
 * configuration Knative gives it in each era:
 *
 * - Knative ≤ 1.18 exported OpenCensus metrics: the queue-proxy's `revision_request_count`,
 *   `revision_request_latencies`, `revision_app_request_*`, `revision_queue_depth` and the activator's
 *   `activator_request_*`, with labels `namespace_name`, `revision_name`, `response_code`, ….
 * - Knative ≥ 1.19 exports OpenTelemetry metrics: `kn_serving_*` (the queue-proxy, 1.21's names) and
 *   `kn_revision_*`/`kn_activator_*` (the activator), with labels `k8s_namespace_name`, `kn_revision_name`,
 *   `http_response_status_code`, ….
 *
 * The queue-proxy's environment tells the eras apart (`pkg/reconciler/revision/resources/queue.go`):
 * ≥ 1.19 sets `OBSERVABILITY_CONFIG` and none of ≤ 1.18's separate variables, ≤ 1.18 sets those
 * ({@link OPENCENSUS_QUEUE_PROXY_VARIABLES}) and no `OBSERVABILITY_CONFIG`. The activator's Deployment
 * differs only in `METRICS_DOMAIN`, set up to 1.19 (1.19 sets it without reading it). A variable of the
 * component's own (`QUEUE_METRIC_NAMES`, `ACTIVATOR_METRIC_NAMES`) overrides the rule.
 */
import type { EnvReader } from './config.js';

/** A set of metric names: Knative ≤ 1.18's OpenCensus ones or ≥ 1.19's OpenTelemetry ones. */
export type MetricNames = 'opencensus' | 'opentelemetry';

/** Variables only Knative ≤ 1.18 sets on a queue-proxy; any of them, even empty, marks that era. */
export const OPENCENSUS_QUEUE_PROXY_VARIABLES: readonly string[] = [
  'SERVING_REQUEST_METRICS_BACKEND',
  'SERVING_REQUEST_METRICS_REPORTING_PERIOD_SECONDS',
  'SERVING_REQUEST_LOG_TEMPLATE',
  'SERVING_ENABLE_REQUEST_LOG',
  'SERVING_ENABLE_PROBE_REQUEST_LOG',
  'METRICS_DOMAIN',
  'METRICS_COLLECTOR_ADDRESS',
  'TRACING_CONFIG_BACKEND',
];

/** The variable that marks Knative ≤ 1.19's activator Deployment. */
export const OPENCENSUS_ACTIVATOR_VARIABLE = 'METRICS_DOMAIN';

function override(r: EnvReader, variable: string): MetricNames | undefined {
  const v = r.raw(variable);
  if (v === undefined) return undefined;
  if (v === 'opencensus' || v === 'opentelemetry') return v;
  r.problem(variable, `must be opencensus or opentelemetry, got ${JSON.stringify(v)}`);
  return undefined;
}

/**
 * The queue-proxy's metric names: `QUEUE_METRIC_NAMES` when set; else OpenTelemetry's when
 * `OBSERVABILITY_CONFIG` is set, OpenCensus's when one of ≤ 1.18's variables is, OpenTelemetry's otherwise.
 */
export function queueProxyMetricNames(r: EnvReader): MetricNames {
  const chosen = override(r, 'QUEUE_METRIC_NAMES');
  if (chosen) return chosen;
  if (r.isSet('OBSERVABILITY_CONFIG')) return 'opentelemetry';
  return OPENCENSUS_QUEUE_PROXY_VARIABLES.some((v) => r.isSet(v)) ? 'opencensus' : 'opentelemetry';
}

/**
 * The activator's metric names: `ACTIVATOR_METRIC_NAMES` when set; else OpenCensus's when
 * `METRICS_DOMAIN` is set (Knative ≤ 1.18's Deployment, and 1.19's), OpenTelemetry's otherwise.
 */
export function activatorMetricNames(r: EnvReader): MetricNames {
  const chosen = override(r, 'ACTIVATOR_METRIC_NAMES');
  if (chosen) return chosen;
  return r.isSet(OPENCENSUS_ACTIVATOR_VARIABLE) ? 'opencensus' : 'opentelemetry';
}
