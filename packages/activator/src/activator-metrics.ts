import { createRequire } from 'node:module';
import type { MetricNames } from '@zerogate/core';
import type * as PromClient from 'prom-client';
import type { Revision, RevisionRegistry } from './revisions.js';

/*
 * prom-client's metric classes from their own modules rather than its index: the index also loads the
 * cluster aggregator, the push gateway and the default process metrics (and with them node:cluster,
 * node:child_process, node:v8 and @opentelemetry/api), ~7 MiB of an idle activator's memory it never
 * uses. The version is pinned exactly, so these paths are stable.
 */
const require = createRequire(import.meta.url);
const Registry: typeof PromClient.Registry = require('prom-client/lib/registry.js');
const Counter: typeof PromClient.Counter = require('prom-client/lib/counter.js');
const Gauge: typeof PromClient.Gauge = require('prom-client/lib/gauge.js');
const Histogram: typeof PromClient.Histogram = require('prom-client/lib/histogram.js');
type Histogram<T extends string> = PromClient.Histogram<T>;

/** Request-duration buckets in seconds, as the queue-proxy's. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Cold-start phase buckets in seconds: from a warm Pod's milliseconds to a slow image pull's minute. */
const COLD_START_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Knative ≤ 1.18's latency buckets in milliseconds (`pkg/activator/handler/metrics.go`, as the queue-proxy's). */
const LATENCY_BUCKETS_MS = [
  5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000, 2000, 5000,
  10000, 20000, 50000, 100000,
];

/** What a finished request's metrics need of its revision. */
type MeasuredRevision = Pick<Revision, 'namespace' | 'name' | 'info'>;

/** What the metrics read from the autoscaler connection. */
export interface ConnectionState {
  readonly connected: boolean;
  readonly connectionErrors: number;
}

/**
 * The activator's Prometheus metrics on a registry of their own (docs/activator.md §7), in the names of
 * one of Knative's eras (`names`, see `@zerogate/core`'s `metric-names.ts`):
 *
 * - `opentelemetry` (Knative ≥ 1.19): per revision the requests held (`kn_revision_request_queued`),
 *   running on Pods (`kn_revision_request_active`), both together (`kn_revision_request_concurrency`),
 *   the usable Pods, request durations by status, and the autoscaler connection;
 * - `opencensus` (Knative ≤ 1.18): `activator_request_concurrency`, `activator_request_count` and
 *   `activator_request_latencies` (ms), as Knative's OpenCensus exporter showed them.
 */
export class ActivatorMetrics {
  readonly registry = new Registry();
  private readonly record: (revision: MeasuredRevision, status: number, seconds: number) => void;
  private readonly recordColdStart: (
    revision: MeasuredRevision,
    holdMs: number,
    probeMs: number,
    proxyMs: number,
  ) => void;

  constructor(
    revisions: RevisionRegistry,
    connection: ConnectionState,
    pod: string,
    names: MetricNames = 'opentelemetry',
  ) {
    this.record =
      names === 'opencensus'
        ? this.openCensus(revisions, pod)
        : this.openTelemetry(revisions, connection, pod);
    // Knative has no cold-start metric: these exist in the ≥ 1.19 names only.
    this.recordColdStart = names === 'opencensus' ? () => {} : this.coldStarts();
  }

  /**
   * Records the phases of one cold start of `revision` (a request held while it had no Pod), in ms:
   * held until its Pods appeared, probed until one was usable, proxied to the first byte.
   */
  coldStart(revision: MeasuredRevision, holdMs: number, probeMs: number, proxyMs: number): void {
    this.recordColdStart(revision, holdMs, probeMs, proxyMs);
  }

  /**
   * `kn_activator_cold_start_{hold,probe,proxy}_seconds`: per revision, a cold start's time held until
   * its Pods appeared, then until one passed its probe, then to the first byte from it.
   */
  private coldStarts(): (
    revision: MeasuredRevision,
    holdMs: number,
    probeMs: number,
    proxyMs: number,
  ) => void {
    const phase = (name: string, help: string) =>
      new Histogram({
        name: `kn_activator_cold_start_${name}_seconds`,
        help,
        labelNames: ['k8s_namespace_name', 'kn_revision_name'],
        buckets: COLD_START_BUCKETS,
        registers: [this.registry],
      });
    const hold = phase('hold', 'Time a request held at zero waited for its revision’s Pods to appear.');
    const probe = phase(
      'probe',
      'Time from a held request’s Pods appearing to one being usable (probed ready).',
    );
    const proxy = phase(
      'proxy',
      'Time from a held request leaving for its Pod to the first byte of the response.',
    );
    return (revision, holdMs, probeMs, proxyMs) => {
      const labels = { k8s_namespace_name: revision.namespace, kn_revision_name: revision.name };
      hold.observe(labels, Math.max(holdMs, 0) / 1000);
      probe.observe(labels, Math.max(probeMs, 0) / 1000);
      proxy.observe(labels, Math.max(proxyMs, 0) / 1000);
    };
  }

  /**
   * Exposes the spans the trace exporter dropped (a full queue, a backend that refused them) as
   * `zerogate_tracing_spans_dropped_total` (docs/tracing.md); registered only when tracing is on.
   */
  countDroppedSpans(dropped: () => number): void {
    let reported = 0;
    new Counter({
      name: 'zerogate_tracing_spans_dropped_total',
      help: 'Spans not exported: the export queue was full, or the trace backend did not take them.',
      registers: [this.registry],
      collect() {
        const now = dropped();
        this.inc(now - reported);
        reported = now;
      },
    });
  }

  /** Records one finished request of `revision`. */
  observe(revision: MeasuredRevision, status: number, seconds: number): void {
    this.record(revision, status, seconds);
  }

  private openTelemetry(
    revisions: RevisionRegistry,
    connection: ConnectionState,
    pod: string,
  ): (revision: MeasuredRevision, status: number, seconds: number) => void {
    this.registry.setDefaultLabels({ k8s_pod_name: pod, k8s_container_name: 'activator' });
    const perRevision = (name: string, help: string, read: (throttler: Revision['throttler']) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['k8s_namespace_name', 'kn_revision_name'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const r of revisions.all()) {
            this.set({ k8s_namespace_name: r.namespace, kn_revision_name: r.name }, read(r.throttler));
          }
        },
      });
    perRevision(
      'kn_revision_request_queued',
      'Requests the activator holds for a revision with no room on its Pods.',
      (t) => t.held,
    );
    perRevision(
      'kn_revision_request_active',
      'Requests the activator is running on a revision’s Pods.',
      (t) => t.inFlight,
    );
    perRevision(
      'kn_revision_pods_usable',
      'Pods of a revision this activator may send to (healthy, in its subset).',
      (t) => t.podCount,
    );
    new Gauge({
      name: 'kn_revision_request_concurrency',
      help: 'Concurrent requests that are routed to the activator: held plus running on Pods.',
      labelNames: ['k8s_namespace_name', 'kn_service_name', 'kn_configuration_name', 'kn_revision_name'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of revisions.all()) {
          const labels = {
            k8s_namespace_name: r.namespace,
            kn_service_name: r.info.service ?? '',
            kn_configuration_name: r.info.configuration ?? '',
            kn_revision_name: r.name,
          };
          this.set(labels, r.throttler.held + r.throttler.inFlight);
        }
      },
    });
    const duration: Histogram<'k8s_namespace_name' | 'kn_revision_name' | 'http_response_status_code'> =
      new Histogram({
        name: 'kn_activator_request_duration_seconds',
        help: 'Time from a request arriving at the activator to its response ending (its _count counts requests).',
        labelNames: ['k8s_namespace_name', 'kn_revision_name', 'http_response_status_code'],
        buckets: DURATION_BUCKETS,
        registers: [this.registry],
      });
    new Gauge({
      name: 'kn_activator_stats_conn_reachable',
      help: '1 while the websocket to the autoscaler is open.',
      labelNames: ['peer'],
      registers: [this.registry],
      collect() {
        this.set({ peer: 'autoscaler' }, connection.connected ? 1 : 0);
      },
    });
    let reported = 0;
    const errors = new Counter({
      name: 'kn_activator_stats_conn_errors_total',
      help: 'Failed connections to the autoscaler and unexpected closes.',
      labelNames: ['peer'],
      registers: [this.registry],
      collect() {
        // The reporter counts; bring the counter up to it at scrape time.
        const delta = connection.connectionErrors - reported;
        if (delta > 0) this.inc({ peer: 'autoscaler' }, delta);
        reported += Math.max(delta, 0);
      },
    });
    // The series exists from the start, at 0, so a rate over it works before the first error.
    errors.inc({ peer: 'autoscaler' }, 0);
    return (revision, status, seconds) => {
      duration.observe(
        {
          k8s_namespace_name: revision.namespace,
          kn_revision_name: revision.name,
          http_response_status_code: status,
        },
        seconds,
      );
    };
  }

  private openCensus(
    revisions: RevisionRegistry,
    pod: string,
  ): (revision: MeasuredRevision, status: number, seconds: number) => void {
    this.registry.setDefaultLabels({ pod_name: pod, container_name: 'activator' });
    const revisionLabels = ['namespace_name', 'service_name', 'configuration_name', 'revision_name'] as const;
    const labelsOf = (r: MeasuredRevision) => ({
      namespace_name: r.namespace,
      service_name: r.info.service ?? '',
      configuration_name: r.info.configuration ?? '',
      revision_name: r.name,
    });
    new Gauge({
      name: 'activator_request_concurrency',
      help: 'Concurrent requests that are routed to Activator',
      labelNames: revisionLabels,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of revisions.all()) this.set(labelsOf(r), r.throttler.held + r.throttler.inFlight);
      },
    });
    const codeLabels = [...revisionLabels, 'response_code', 'response_code_class'] as const;
    const count = new Counter({
      name: 'activator_request_count',
      help: 'The number of requests that are routed to Activator',
      labelNames: codeLabels,
      registers: [this.registry],
    });
    const latency = new Histogram({
      name: 'activator_request_latencies',
      help: 'The response time in millisecond',
      labelNames: codeLabels,
      buckets: LATENCY_BUCKETS_MS,
      registers: [this.registry],
    });
    return (revision, status, seconds) => {
      const labels = {
        ...labelsOf(revision),
        response_code: status,
        response_code_class: `${Math.floor(status / 100)}xx`,
      };
      count.inc(labels);
      // Knative records whole milliseconds.
      latency.observe(labels, Math.floor(seconds * 1000));
    };
  }
}
