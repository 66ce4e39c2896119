/**
 * Knative's own lists of the data plane's Prometheus metrics, in each era, as its documentation gives
 * them (knative/docs), kept verbatim: metric names, instrument types and labels or attributes. What we
 * expose beyond or short of a page is declared beside it with the reason, so a test can compare what the
 * running processes expose with exactly this.
 */

/** One documented metric. */
export interface DocumentedMetric {
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** Labels (OpenCensus era) or attributes (OpenTelemetry era) as the page writes them. */
  readonly labels: readonly string[];
  /** OpenTelemetry only: the unit as the page gives it (UCUM), which Prometheus names carry. */
  readonly unit?: string;
}

/** One page's list for one component, and how our exposition departs from it. */
export interface DocumentedMetrics {
  /** The page (knative/docs path and the version of it read). */
  readonly page: string;
  /** Names as the page writes them (OpenTelemetry names dotted; OpenCensus names as Prometheus shows them). */
  readonly metrics: Readonly<Record<string, DocumentedMetric>>;
  /** Attributes the page lists for every metric of the component (the workload attributes). */
  readonly everyMetric?: readonly string[];
  /** Documented labels not on our series, by Prometheus metric name (`*` for all), with why in a comment. */
  readonly notExposed?: Readonly<Record<string, readonly string[]>>;
  /** Labels on our series that the page does not list, by Prometheus metric name (`*` for all). */
  readonly undocumentedLabels?: Readonly<Record<string, readonly string[]>>;
  /** Documented metrics we do not expose. */
  readonly notExposedMetrics?: readonly string[];
  /** Metrics we expose beyond the page, by Prometheus name, with their labels. */
  readonly undocumentedMetrics?: Readonly<Record<string, DocumentedMetric>>;
}

const OC_REVISION = [
  'configuration_name',
  'container_name',
  'namespace_name',
  'pod_name',
  'revision_name',
  'service_name',
];
const OC_CODES = [...OC_REVISION, 'response_code', 'response_code_class'];

/**
 * Knative ≤ 1.18's queue-proxy: knative/docs `docs/serving/services/service-metrics.md`, "Queue proxy
 * metrics" (the page as it was before knative/docs #6373 dropped it with the move to OpenTelemetry).
 */
export const QUEUE_PROXY_OPENCENSUS: DocumentedMetrics = {
  page: 'knative/docs docs/serving/services/service-metrics.md (before #6373)',
  metrics: {
    revision_request_count: { type: 'counter', labels: OC_CODES },
    revision_request_latencies: { type: 'histogram', labels: OC_CODES },
    revision_app_request_count: { type: 'counter', labels: OC_CODES },
    revision_app_request_latencies: {
      type: 'histogram',
      labels: [
        'configuration_name',
        'namespace_name',
        'pod_name',
        'response_code',
        'response_code_class',
        'revision_name',
        'service_name',
      ],
    },
    revision_queue_depth: {
      type: 'gauge',
      labels: [
        'configuration_name',
        'event-display',
        'container_name',
        'namespace_name',
        'pod_name',
        'response_code_class',
        'revision_name',
        'service_name',
      ],
    },
  },
  notExposed: {
    // `event-display` is no label (not even a valid Prometheus label name): a service name slipped into the
    // page. Knative records the queue depth without a response, so `response_code_class` is empty there,
    // which Prometheus takes as absent.
    revision_queue_depth: ['event-display', 'response_code_class'],
  },
  undocumentedLabels: {
    // Knative's pkg/queue/request_metric.go tags the request views with the route tag too, and the app
    // latency view with the container, as the app count.
    revision_request_count: ['route_tag'],
    revision_request_latencies: ['route_tag'],
    revision_app_request_latencies: ['container_name'],
  },
};

/**
 * Knative ≤ 1.18's activator: knative/docs `docs/serving/observability/metrics/serving-metrics.md`,
 * "Activator" (the page before knative/docs #6352 rewrote it for OpenTelemetry). Prometheus shows them
 * with the component's prefix, `activator_`.
 */
export const ACTIVATOR_OPENCENSUS: DocumentedMetrics = {
  page: 'knative/docs docs/serving/observability/metrics/serving-metrics.md (before #6352)',
  metrics: {
    activator_request_concurrency: { type: 'gauge', labels: OC_REVISION },
    activator_request_count: { type: 'counter', labels: OC_CODES },
    activator_request_latencies: { type: 'histogram', labels: OC_CODES },
  },
};

/**
 * Knative ≥ 1.19's queue-proxy: knative/docs `docs/versioned/serving/observability/metrics/serving-metrics.md`,
 * "Workload Metrics" (after #6352 and #6360).
 */
export const QUEUE_PROXY_OPENTELEMETRY: DocumentedMetrics = {
  page: 'knative/docs docs/versioned/serving/observability/metrics/serving-metrics.md (after #6360)',
  everyMetric: [
    'container.name',
    'k8s.namespace.name',
    'k8s.pod.name',
    'service.version',
    'service.name',
    'service.instance.id',
    'kn.service.name',
    'kn.configuration.name',
    'kn.revision.name',
  ],
  metrics: {
    'kn.serving.queue.depth': { type: 'gauge', unit: '{request}', labels: [] },
    'kn.serving.invocation.duration': { type: 'histogram', unit: 's', labels: ['http.response.status_code'] },
  },
  notExposed: {
    // OpenTelemetry resource attributes of the process, which Prometheus exporters put on `target_info`
    // rather than on every series; `container.name` is carried as `k8s_container_name`, the resource
    // attribute Knative's queue-proxy sets (pkg/queue/sharedmain, `k8s.container.name`).
    '*': ['service_version', 'service_name', 'service_instance_id', 'container_name'],
  },
  undocumentedLabels: { '*': ['k8s_container_name'] },
  undocumentedMetrics: {
    // Ours: the breaker wait of requests that waited for a slot (CC > 0), with the process's labels.
    kn_serving_breaker_wait_seconds: {
      type: 'histogram',
      labels: [
        'k8s_namespace_name',
        'k8s_pod_name',
        'kn_service_name',
        'kn_configuration_name',
        'kn_revision_name',
      ],
    },
  },
  // The otelhttp server and client metrics the page refers to (OpenTelemetry's HTTP semantic conventions)
  // are not exposed.
};

/**
 * Knative ≥ 1.19's activator: the same page, "Activator".
 */
export const ACTIVATOR_OPENTELEMETRY: DocumentedMetrics = {
  page: 'knative/docs docs/versioned/serving/observability/metrics/serving-metrics.md (after #6360)',
  metrics: {
    'kn.revision.request.concurrency': {
      type: 'gauge',
      unit: '{request}',
      labels: ['k8s.namespace.name', 'kn.service.name', 'kn.configuration.name', 'kn.revision.name'],
    },
    'kn.activator.stats.conn.reachable': { type: 'gauge', unit: '{reachable}', labels: ['peer'] },
    'kn.activator.stats.conn.errors': { type: 'counter', unit: '{error}', labels: ['peer'] },
  },
  // The process's identity on every series (resource attributes in OpenTelemetry).
  undocumentedLabels: { '*': ['k8s_pod_name', 'k8s_container_name'] },
  undocumentedMetrics: {
    // Knative's own UpDownCounters (pkg/activator/handler/metrics.go), not on the page.
    kn_revision_request_queued: { type: 'gauge', labels: ['k8s_namespace_name', 'kn_revision_name'] },
    kn_revision_request_active: { type: 'gauge', labels: ['k8s_namespace_name', 'kn_revision_name'] },
    // Ours: Pods usable per revision, and request durations (Knative has otelhttp's server duration).
    kn_revision_pods_usable: { type: 'gauge', labels: ['k8s_namespace_name', 'kn_revision_name'] },
    kn_activator_request_duration_seconds: {
      type: 'histogram',
      labels: ['k8s_namespace_name', 'kn_revision_name', 'http_response_status_code'],
    },
    // Ours: each cold start's hold, probe and proxy phases.
    kn_activator_cold_start_hold_seconds: {
      type: 'histogram',
      labels: ['k8s_namespace_name', 'kn_revision_name'],
    },
    kn_activator_cold_start_probe_seconds: {
      type: 'histogram',
      labels: ['k8s_namespace_name', 'kn_revision_name'],
    },
    kn_activator_cold_start_proxy_seconds: {
      type: 'histogram',
      labels: ['k8s_namespace_name', 'kn_revision_name'],
    },
  },
};

/** OpenTelemetry's Prometheus name of a metric: dots to underscores, the unit's suffix, `_total` on counters. */
export function prometheusName(name: string, metric: DocumentedMetric): string {
  let out = name.replace(/\./g, '_');
  // Annotations in braces ({request}) carry no suffix; `s` is seconds.
  if (metric.unit === 's') out += '_seconds';
  if (metric.type === 'counter' && !out.endsWith('_total')) out += '_total';
  return out;
}

/** A label name as Prometheus shows an attribute (dots to underscores). */
export function prometheusLabel(attribute: string): string {
  return attribute.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * The metrics and labels a component should expose by `docs`: each documented metric under its Prometheus
 * name with its (and every metric's) labels, less those not exposed, plus the undocumented ones.
 */
export function expectedExposition(
  docs: DocumentedMetrics,
): Record<string, { type: string; labels: string[] }> {
  const out: Record<string, { type: string; labels: string[] }> = {};
  const opentelemetry =
    docs.everyMetric !== undefined || Object.keys(docs.metrics).some((n) => n.includes('.'));
  for (const [name, metric] of Object.entries(docs.metrics)) {
    if (docs.notExposedMetrics?.includes(name)) continue;
    const promName = opentelemetry ? prometheusName(name, metric) : name;
    const labels = new Set([...(docs.everyMetric ?? []), ...metric.labels].map(prometheusLabel));
    for (const l of [...(docs.notExposed?.['*'] ?? []), ...(docs.notExposed?.[promName] ?? [])])
      labels.delete(prometheusLabel(l));
    for (const l of [
      ...(docs.undocumentedLabels?.['*'] ?? []),
      ...(docs.undocumentedLabels?.[promName] ?? []),
    ])
      labels.add(l);
    out[promName] = { type: metric.type, labels: [...labels].sort() };
  }
  for (const [name, metric] of Object.entries(docs.undocumentedMetrics ?? {})) {
    const labels = new Set([...metric.labels, ...(docs.undocumentedLabels?.['*'] ?? [])]);
    out[name] = { type: metric.type, labels: [...labels].sort() };
  }
  return out;
}

/**
 * Parses a Prometheus text exposition into its metric families: type and the label names seen on their
 * series (`le` of histogram buckets left out).
 */
export function parseExposition(text: string): Record<string, { type: string; labels: string[] }> {
  const types = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const typed = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typed) {
      types.set(typed[1]!, typed[2]!);
      labels.set(typed[1]!, new Set());
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    let family = m[1]!;
    if (!types.has(family)) family = family.replace(/_(bucket|sum|count)$/, '');
    const set = labels.get(family) ?? new Set<string>();
    labels.set(family, set);
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) {
      if (pair[1] !== 'le') set.add(pair[1]!);
    }
  }
  const out: Record<string, { type: string; labels: string[] }> = {};
  for (const [name, set] of labels)
    out[name] = { type: types.get(name) ?? 'untyped', labels: [...set].sort() };
  return out;
}
