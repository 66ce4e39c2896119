import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LoggedRequest } from './request-log.js';
import type { RequestMetricsLabels, RequestMetricsRecorder } from './request-metrics.js';

/**
 * Knative ≤ 1.18's latency buckets in milliseconds (`pkg/queue/request_metric.go`,
 * `defaultLatencyDistribution`).
 */
const LATENCY_BUCKETS_MS = [
  5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000, 2000, 5000,
  10000, 20000, 50000, 100000,
];

type CodeLabels = 'response_code' | 'response_code_class';
type RouteLabels = CodeLabels | 'route_tag';

/** The route tag label of a request, as Knative's `GetRouteTagNameFromRequest` derives it. */
export function routeTag(rawHeaders: readonly string[] | undefined): string {
  let tag = '';
  let defaultRoute: string | undefined;
  const raw = rawHeaders ?? [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'knative-serving-tag') tag ||= raw[i + 1]!;
    else if (name === 'knative-serving-default-route') defaultRoute ??= raw[i + 1]!;
  }
  if (tag === '') return defaultRoute === undefined || defaultRoute === '' ? 'DISABLED' : 'DEFAULT';
  return defaultRoute === 'true' ? 'UNDEFINED' : tag;
}

/**
 * The queue-proxy's request metrics under Knative ≤ 1.18's OpenCensus names, as its Prometheus exporter
 * showed them on `:9091` (`pkg/queue/request_metric.go`, component `revision`):
 * `revision_request_count` and `revision_request_latencies` (ms) by response code, class and route tag,
 * for every counted request; `revision_app_request_count` and `revision_app_request_latencies` for those
 * handed to the app, timed from the hand-over; `revision_queue_depth` (CC > 0 only). Every series carries
 * `namespace_name`, `service_name`, `configuration_name`, `revision_name`, `pod_name` and `container_name`.
 */
export class OpenCensusRequestMetrics implements RequestMetricsRecorder {
  readonly registry = new Registry();
  private readonly count: Counter<RouteLabels>;
  private readonly latency: Histogram<RouteLabels>;
  private readonly appCount: Counter<CodeLabels>;
  private readonly appLatency: Histogram<CodeLabels>;
  // Children made once per label combination, so observing does no label hashing.
  private readonly children = new Map<
    string,
    { count: Counter.Internal; latency: Histogram.Internal<RouteLabels> }
  >();
  private readonly appChildren = new Map<
    number,
    { count: Counter.Internal; latency: Histogram.Internal<CodeLabels> }
  >();

  constructor(labels: RequestMetricsLabels, queueDepth: (() => number) | undefined) {
    this.registry.setDefaultLabels({
      namespace_name: labels.namespace,
      service_name: labels.service,
      configuration_name: labels.configuration,
      revision_name: labels.revision,
      pod_name: labels.pod,
      container_name: labels.container,
    });
    const registers = [this.registry];
    const routeLabels: RouteLabels[] = ['response_code', 'response_code_class', 'route_tag'];
    const codeLabels: CodeLabels[] = ['response_code', 'response_code_class'];
    this.count = new Counter({
      name: 'revision_request_count',
      help: 'The number of requests that are routed to queue-proxy',
      labelNames: routeLabels,
      registers,
    });
    this.latency = new Histogram({
      name: 'revision_request_latencies',
      help: 'The response time in millisecond',
      labelNames: routeLabels,
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    this.appCount = new Counter({
      name: 'revision_app_request_count',
      help: 'The number of requests that are routed to user-container',
      labelNames: codeLabels,
      registers,
    });
    this.appLatency = new Histogram({
      name: 'revision_app_request_latencies',
      help: 'The response time in millisecond',
      labelNames: codeLabels,
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    if (queueDepth) {
      new Gauge({
        name: 'revision_queue_depth',
        help: 'The current number of items in the serving and waiting queue, or not reported if unlimited concurrency.',
        registers,
        collect() {
          this.set(queueDepth());
        },
      });
    }
  }

  observe(status: number, seconds: number, req: LoggedRequest, appSeconds: number | undefined): void {
    const tag = routeTag(req.rawHeaders);
    const key = `${status} ${tag}`;
    let child = this.children.get(key);
    if (child === undefined) {
      const values = {
        response_code: status,
        response_code_class: `${Math.floor(status / 100)}xx`,
        route_tag: tag,
      };
      child = { count: this.count.labels(values), latency: this.latency.labels(values) };
      this.children.set(key, child);
    }
    // Knative records whole milliseconds.
    child.count.inc();
    child.latency.observe(Math.floor(seconds * 1000));
    if (appSeconds === undefined) return;
    let app = this.appChildren.get(status);
    if (app === undefined) {
      const values = { response_code: status, response_code_class: `${Math.floor(status / 100)}xx` };
      app = { count: this.appCount.labels(values), latency: this.appLatency.labels(values) };
      this.appChildren.set(status, app);
    }
    app.count.inc();
    app.latency.observe(Math.floor(appSeconds * 1000));
  }
}
