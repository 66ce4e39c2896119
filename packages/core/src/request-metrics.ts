import { Gauge, Histogram, Registry } from 'prom-client';
import type { MetricNames } from './metric-names.js';
import type { LoggedRequest } from './request-log.js';
import { OpenCensusRequestMetrics } from './request-metrics-opencensus.js';

/** Who the request metrics describe: every series carries these as labels. */
export interface RequestMetricsLabels {
  readonly namespace: string;
  readonly service: string;
  readonly configuration: string;
  readonly revision: string;
  readonly pod: string;
  /** `queue-proxy` for the sidecar; the app's container for the in-process mode. */
  readonly container: string;
}

/** What records a counted request's end, in either era's names. */
export interface RequestMetricsRecorder {
  readonly registry: Registry;
  /**
   * Records one finished request: `seconds` from arrival, `appSeconds` from the hand-over to the app
   * (undefined when it never reached the app, refused by a full queue).
   */
  observe(status: number, seconds: number, req: LoggedRequest, appSeconds: number | undefined): void;
  /**
   * Records how long a request waited in the breaker for a slot; called only for requests that waited.
   * Knative ≥ 1.19's names only (`kn_serving_breaker_wait_seconds`); absent in ≤ 1.18's.
   */
  observeBreakerWait?(seconds: number): void;
}

/** Knative's invocation-duration buckets in seconds (`kn.serving.invocation.duration`). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Breaker-wait buckets in seconds: a slot freed by a fast request, up to a long request's minute. */
const BREAKER_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Prometheus request metrics of docs/queue-proxy.md §8.2 under Knative ≥ 1.21's names, on a registry of their
 * own: `kn_serving_invocation_duration_seconds` by status code, timed from the hand-over to the app (after
 * the breaker) as Knative's app metrics handler times it (`pkg/queue/request_metric.go`, inside
 * `ProxyHandler`), so a request a full queue refused is not in it; and `kn_serving_queue_depth` (requests
 * admitted to the breaker, CC > 0 only). Every series carries the
 * namespace, service, configuration, revision, pod and container as labels. Shared by the queue-proxy and
 * the in-process mode; imported from `@zerogate/core/request-metrics` only when metrics are on, since
 * prom-client costs ~20 MiB of memory.
 */
export class RequestMetrics implements RequestMetricsRecorder {
  readonly registry = new Registry();
  private readonly duration: Histogram<'http_response_status_code'>;
  // One child per status code, made once, so observing does no label hashing.
  private readonly byStatus = new Map<number, Histogram.Internal<'http_response_status_code'>>();
  /** The breaker wait (CC > 0 only). */
  private readonly breakerWait: Histogram | undefined;

  constructor(labels: RequestMetricsLabels, queueDepth: (() => number) | undefined) {
    this.registry.setDefaultLabels({
      k8s_namespace_name: labels.namespace,
      kn_service_name: labels.service,
      kn_configuration_name: labels.configuration,
      kn_revision_name: labels.revision,
      k8s_pod_name: labels.pod,
      k8s_container_name: labels.container,
    });
    this.duration = new Histogram({
      name: 'kn_serving_invocation_duration_seconds',
      help: 'Time from a request arriving at the queue-proxy to its response ending, probes excluded.',
      labelNames: ['http_response_status_code'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
    if (queueDepth) {
      this.breakerWait = new Histogram({
        name: 'kn_serving_breaker_wait_seconds',
        help: 'Time a request waited in the queue-proxy’s breaker for a slot, requests that waited only.',
        buckets: BREAKER_WAIT_BUCKETS,
        registers: [this.registry],
      });
      new Gauge({
        name: 'kn_serving_queue_depth',
        help: 'Requests admitted to the breaker: running plus waiting for a slot.',
        registers: [this.registry],
        collect() {
          this.set(queueDepth());
        },
      });
    }
  }

  /** Records the breaker wait of a request that waited for a slot. */
  observeBreakerWait(seconds: number): void {
    this.breakerWait?.observe(seconds);
  }

  /** Records one finished request that reached the app, `appSeconds` after it was handed over. */
  observe(status: number, _seconds: number, _req: LoggedRequest, appSeconds: number | undefined): void {
    if (appSeconds === undefined) return;
    let child = this.byStatus.get(status);
    if (child === undefined) {
      child = this.duration.labels({ http_response_status_code: status });
      this.byStatus.set(status, child);
    }
    child.observe(appSeconds);
  }
}

/**
 * The request metrics in the era's names: {@link RequestMetrics} (Knative ≥ 1.19) or
 * {@link OpenCensusRequestMetrics} (≤ 1.18). `queueDepth` is undefined without a breaker (CC = 0).
 */
export function createRequestMetrics(
  names: MetricNames,
  labels: RequestMetricsLabels,
  queueDepth: (() => number) | undefined,
): RequestMetricsRecorder {
  return names === 'opencensus'
    ? new OpenCensusRequestMetrics(labels, queueDepth)
    : new RequestMetrics(labels, queueDepth);
}

export { OpenCensusRequestMetrics };
