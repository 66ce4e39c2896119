import { createRequire } from 'node:module';
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

/** What the metrics read from the autoscaler connection. */
export interface ConnectionState {
  readonly connected: boolean;
  readonly connectionErrors: number;
}

/**
 * The activator's Prometheus metrics on a registry of their own (docs/activator.md §7, Knative ≥ 1.19 names):
 * per revision the requests held (`kn_revision_request_queued`) and running on Pods
 * (`kn_revision_request_active`), request durations by status, and the autoscaler connection.
 */
export class ActivatorMetrics {
  readonly registry = new Registry();
  private readonly duration: Histogram<
    'k8s_namespace_name' | 'kn_revision_name' | 'http_response_status_code'
  >;

  constructor(revisions: RevisionRegistry, connection: ConnectionState, pod: string) {
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
    this.duration = new Histogram({
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
    new Counter({
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
  }

  /** Records one finished request. */
  observe(namespace: string, revision: string, status: number, seconds: number): void {
    this.duration.observe(
      { k8s_namespace_name: namespace, kn_revision_name: revision, http_response_status_code: status },
      seconds,
    );
  }
}
