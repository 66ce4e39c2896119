/**
 * The autoscaler's Prometheus metrics, per revision, fed from each decision. Mirrors the gauges of
 * Knative's `pkg/autoscaler/metrics` (`desired_pods`, `actual_pods`, `stable_request_concurrency`,
 * `panic_request_concurrency`, `panic_mode`) with Prometheus names carrying their units.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { KpaDecision } from './kpa.js';

const LABELS = ['namespace', 'revision'] as const;

interface RevisionChildren {
  readonly desired: Gauge.Internal<(typeof LABELS)[number]>;
  readonly actual: Gauge.Internal<(typeof LABELS)[number]>;
  readonly stable: Gauge.Internal<(typeof LABELS)[number]>;
  readonly panicConcurrency: Gauge.Internal<(typeof LABELS)[number]>;
  readonly serve: Gauge.Internal<(typeof LABELS)[number]>;
  readonly activators: Gauge.Internal<(typeof LABELS)[number]>;
  readonly panic: Gauge.Internal<(typeof LABELS)[number]>;
  readonly panicSeconds: Counter.Internal;
  /** Time of the previous decision and whether it was in panic, to add up time spent in panic. */
  lastTimeMs: number | undefined;
  lastPanic: boolean;
}

/**
 * Per-revision gauges of the latest decision, in a registry of their own. Label children are created
 * once per revision, so recording a decision allocates nothing.
 */
export class AutoscalerMetrics {
  /** The registry to serve on the metrics port. */
  readonly registry = new Registry();

  private readonly desired: Gauge<(typeof LABELS)[number]>;
  private readonly actual: Gauge<(typeof LABELS)[number]>;
  private readonly stable: Gauge<(typeof LABELS)[number]>;
  private readonly panicConcurrency: Gauge<(typeof LABELS)[number]>;
  private readonly serve: Gauge<(typeof LABELS)[number]>;
  private readonly activators: Gauge<(typeof LABELS)[number]>;
  private readonly panic: Gauge<(typeof LABELS)[number]>;
  private readonly panicSeconds: Counter<(typeof LABELS)[number]>;
  private readonly revisions = new Map<string, RevisionChildren>();

  /** Registers every metric. */
  constructor() {
    const registers = [this.registry];
    const labelNames = LABELS;
    this.desired = new Gauge({
      name: 'autoscaler_desired_pods',
      help: 'Number of Pods the autoscaler wants for the revision',
      labelNames,
      registers,
    });
    this.actual = new Gauge({
      name: 'autoscaler_actual_pods',
      help: 'Number of ready Pods of the revision',
      labelNames,
      registers,
    });
    this.stable = new Gauge({
      name: 'autoscaler_stable_request_concurrency',
      help: 'Average scaling metric (concurrency, or requests per second) over the stable window',
      labelNames,
      registers,
    });
    this.panicConcurrency = new Gauge({
      name: 'autoscaler_panic_request_concurrency',
      help: 'Average scaling metric (concurrency, or requests per second) over the panic window',
      labelNames,
      registers,
    });
    this.serve = new Gauge({
      name: 'autoscaler_serve_mode',
      help: 'Whether traffic goes straight to the revision Pods (1, Serve) or through the activator (0, Proxy)',
      labelNames,
      registers,
    });
    this.activators = new Gauge({
      name: 'autoscaler_activators',
      help: 'Number of activators put in the path of the revision in Proxy mode',
      labelNames,
      registers,
    });
    this.panic = new Gauge({
      name: 'autoscaler_panic_mode',
      help: 'Whether the autoscaler is in panic mode for the revision (1) or not (0)',
      labelNames,
      registers,
    });
    this.panicSeconds = new Counter({
      name: 'autoscaler_panic_seconds_total',
      help: 'Time the autoscaler spent in panic mode for the revision',
      labelNames,
      registers,
    });
  }

  /** Records a revision's decision and its ready Pods at the time. */
  record(namespace: string, name: string, decision: KpaDecision, readyPods: number): void {
    const r = this.children(namespace, name);
    r.desired.set(decision.desiredPods);
    r.actual.set(readyPods);
    r.stable.set(decision.stableConcurrency);
    r.panicConcurrency.set(decision.panicConcurrency);
    r.serve.set(decision.mode === 'Serve' ? 1 : 0);
    r.activators.set(decision.numActivators);
    r.panic.set(decision.panic ? 1 : 0);
    // The time between two decisions counts as panic when the first one was in panic.
    if (r.lastPanic && r.lastTimeMs !== undefined && decision.timeMs > r.lastTimeMs) {
      r.panicSeconds.inc((decision.timeMs - r.lastTimeMs) / 1000);
    }
    r.lastTimeMs = decision.timeMs;
    r.lastPanic = decision.panic;
  }

  /** Updates a revision's ready Pods between decisions. */
  setReadyPods(namespace: string, name: string, readyPods: number): void {
    this.revisions.get(`${namespace}/${name}`)?.actual.set(readyPods);
  }

  /** Drops every series of a revision that is gone. */
  remove(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (!this.revisions.delete(key)) return;
    const labels = { namespace, revision: name };
    for (const m of [
      this.desired,
      this.actual,
      this.stable,
      this.panicConcurrency,
      this.serve,
      this.activators,
      this.panic,
    ]) {
      m.remove(labels);
    }
    this.panicSeconds.remove(labels);
  }

  private children(namespace: string, name: string): RevisionChildren {
    const key = `${namespace}/${name}`;
    let r = this.revisions.get(key);
    if (r === undefined) {
      const labels = { namespace, revision: name };
      r = {
        desired: this.desired.labels(labels),
        actual: this.actual.labels(labels),
        stable: this.stable.labels(labels),
        panicConcurrency: this.panicConcurrency.labels(labels),
        serve: this.serve.labels(labels),
        activators: this.activators.labels(labels),
        panic: this.panic.labels(labels),
        panicSeconds: this.panicSeconds.labels(labels),
        lastTimeMs: undefined,
        lastPanic: false,
      };
      this.revisions.set(key, r);
    }
    return r;
  }
}
