/**
 * What `GET /zerogate/status`, the dashboard and the live table show: the machine-wide Pod limit and the
 * Pods running, and per revision its mode, desired (and wanted) and ready Pods, requests in flight at
 * the ingress, requests the activator holds, requests per second, the autoscaler's stable and panic
 * concurrency against its target, and each Pod with its state, age, restarts and failure reason.
 */
import { type Dispatcher, request } from 'undici';
import type { Ingress } from './ingress.js';
import type { ContainerExit, Pod, PodPhase } from './pod.js';
import type { RevisionPods } from './revision-pods.js';

/** One Pod of a revision's status: running, or among the latest that ended. */
export interface PodStatus {
  readonly name: string;
  readonly state: PodPhase;
  /** Seconds since it was started (until it ended, for one that did). */
  readonly ageSeconds: number;
  /** Pods of its revision that failed in a row before it was started to replace them. */
  readonly restarts: number;
  /** Why it failed or is not ready (an exit, the readiness probe, a start timeout); null when fine. */
  readonly reason: string | null;
  /** The container whose exit failed it, with the exit code or signal. */
  readonly exit: ContainerExit | null;
  /** Seconds since it ended; null while it runs. */
  readonly endedSecondsAgo: number | null;
  /** Its log files' names for `GET /zerogate/logs/<name>` (`<Pod>.app`, `<Pod>.queue-proxy`). */
  readonly logs: readonly string[];
}

/** What the autoscaler scales a revision by, and its per-Pod target. */
export interface ScalingTarget {
  readonly metric: 'concurrency' | 'rps';
  /** Per-Pod target of the metric (Knative's `targetValue`: capacity × utilization). */
  readonly target: number;
}

/** One revision's line of the status. */
export interface RevisionStatus {
  readonly namespace: string;
  readonly service: string;
  readonly name: string;
  readonly mode: 'Proxy' | 'Serve';
  /** The Pods the revision runs toward: what the autoscaler wants, within the machine-wide limit. */
  readonly desiredPods: number;
  /** What the autoscaler last asked for; above `desiredPods` when the limit holds it back. */
  readonly wantedPods: number;
  readonly readyPods: number;
  readonly inFlight: number;
  readonly held: number;
  readonly rps: number;
  /** What the autoscaler scales by; `stableConcurrency` and `panicConcurrency` are of this metric. */
  readonly metric: 'concurrency' | 'rps';
  /** Per-Pod target of the metric. */
  readonly target: number;
  /** The autoscaler's average over its stable window; null before its first decision. */
  readonly stableConcurrency: number | null;
  /** The autoscaler's average over its panic window; null before its first decision. */
  readonly panicConcurrency: number | null;
  /** Whether the autoscaler is in panic mode for the revision. */
  readonly panic: boolean;
  /** Pods that failed since the start, and in a row with none ready since. */
  readonly failures: number;
  readonly consecutiveFailures: number;
  readonly crashLooping: boolean;
  /** Why the revision is not getting Pods (a crash loop and when it tries next); null when fine. */
  readonly reason: string | null;
  /** Its Pods running now, then the latest that ended, newest first. */
  readonly pods: readonly PodStatus[];
}

/** The whole status document. */
export interface PlatformStatus {
  /** When it was taken (ms since the epoch). */
  readonly time: number;
  /** The components' log files' names for `GET /zerogate/logs/<name>`. */
  readonly logs: readonly string[];
  /** Most Pods over all revisions (`pods.maxPods`, or derived from the machine). */
  readonly maxPods: number;
  /** Pods starting, running or draining now. */
  readonly pods: number;
  readonly revisions: readonly RevisionStatus[];
}

/** What the status reads of the machine-wide Pod limit. */
export interface PodLimitView {
  readonly max: number;
  wantedBy(revision: RevisionPods): number;
}

/** Where the sampler reads its figures. */
export interface StatusSources {
  readonly revisions: () => readonly RevisionPods[];
  readonly ingress: Ingress;
  /** The activator's Prometheus endpoint (held requests), once it runs. */
  readonly activatorMetricsUrl: () => string | undefined;
  /** The autoscaler's Prometheus endpoint (stable and panic concurrency), once it runs. */
  readonly autoscalerMetricsUrl: () => string | undefined;
  readonly dispatcher: Dispatcher;
  readonly limit: PodLimitView;
  /** Each revision's scaling metric and target, as the autoscaler resolves them. */
  readonly scaling: (revision: RevisionPods) => ScalingTarget;
  /** The components' log names. */
  readonly componentLogs: readonly string[];
}

/** Requests per second are averaged over this window. */
const RPS_WINDOW_MS = 3000;
/** How often the figures are sampled (and the dashboard's stream sent a snapshot). */
export const SAMPLE_INTERVAL_MS = 1000;
const HELD_METRIC = /^kn_revision_request_queued\{([^}]*)\}\s+(\S+)/gm;
const AUTOSCALER_METRIC =
  /^autoscaler_(stable_request_concurrency|panic_request_concurrency|panic_mode)\{([^}]*)\}\s+(\S+)/gm;

/** The autoscaler's latest figures for one revision. */
interface AutoscalerFigures {
  stable?: number;
  panic?: number;
  panicMode?: boolean;
}

/**
 * Samples the ingress counters every second (for requests per second), the activator's held requests
 * and the autoscaler's stable and panic concurrency from their Prometheus endpoints, and tells its
 * listeners once each sample is complete.
 */
export class StatusSampler {
  private readonly samples: { at: number; received: Map<RevisionPods, number> }[] = [];
  private held = new Map<string, number>();
  private autoscaler = new Map<string, AutoscalerFigures>();
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sources: StatusSources) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.listeners.clear();
  }

  /** Calls `listener` after every sample; returns the call that removes it. */
  onSample(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): PlatformStatus {
    const now = Date.now();
    const oldest = this.samples[0];
    const revisions = this.sources.revisions();
    return {
      time: now,
      logs: this.sources.componentLogs,
      maxPods: this.sources.limit.max,
      pods: revisions.reduce((sum, r) => sum + r.pods.length, 0),
      revisions: revisions.map((r): RevisionStatus => {
        const traffic = this.sources.ingress.trafficOf(r);
        const before = oldest?.received.get(r) ?? 0;
        const seconds = oldest ? Math.max(1, now - oldest.at) / 1000 : 1;
        const key = `${r.namespace}/${r.name}`;
        const figures = this.autoscaler.get(key);
        const scaling = this.sources.scaling(r);
        return {
          namespace: r.namespace,
          service: r.config.service,
          name: r.name,
          mode: r.mode,
          desiredPods: r.desired,
          wantedPods: this.sources.limit.wantedBy(r),
          readyPods: r.ready().length,
          inFlight: traffic.inFlight,
          held: this.held.get(key) ?? 0,
          rps: Math.round(((traffic.received - before) / seconds) * 10) / 10,
          metric: scaling.metric,
          target: scaling.target,
          stableConcurrency: round(figures?.stable),
          panicConcurrency: round(figures?.panic),
          panic: figures?.panicMode ?? false,
          failures: r.failures,
          consecutiveFailures: r.consecutiveFailures,
          crashLooping: r.crashLooping,
          reason: revisionReason(r, now),
          pods: [...r.pods, ...r.ended].map((p) => podStatus(p, now)),
        };
      }),
    };
  }

  private async sample(): Promise<void> {
    const now = Date.now();
    const { revisions, ingress } = this.sources;
    this.samples.push({
      at: now,
      received: new Map(revisions().map((r) => [r, ingress.trafficOf(r).received])),
    });
    while (this.samples.length > 1 && now - this.samples[0]!.at > RPS_WINDOW_MS) this.samples.shift();
    await Promise.all([this.sampleHeld(), this.sampleAutoscaler()]);
    for (const listener of this.listeners) listener();
  }

  private async sampleHeld(): Promise<void> {
    const text = await this.scrape(this.sources.activatorMetricsUrl());
    if (text === undefined) return;
    const held = new Map<string, number>();
    for (const m of text.matchAll(HELD_METRIC)) {
      const labels = parseLabels(m[1]!);
      held.set(`${labels.k8s_namespace_name}/${labels.kn_revision_name}`, Number(m[2]));
    }
    this.held = held;
  }

  private async sampleAutoscaler(): Promise<void> {
    const text = await this.scrape(this.sources.autoscalerMetricsUrl());
    if (text === undefined) return;
    this.autoscaler = parseAutoscalerMetrics(text);
  }

  /** The text of a Prometheus endpoint; undefined while it is not there (starting, stopping). */
  private async scrape(url: string | undefined): Promise<string | undefined> {
    if (!url) return undefined;
    try {
      const res = await request(url, {
        dispatcher: this.sources.dispatcher,
        signal: AbortSignal.timeout(SAMPLE_INTERVAL_MS - 100),
      });
      return await res.body.text();
    } catch {
      // The component is starting or stopping; keep the last figures.
      return undefined;
    }
  }
}

function parseLabels(text: string): Record<string, string | undefined> {
  return Object.fromEntries([...text.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
}

/**
 * The autoscaler's stable and panic averages and panic mode per `namespace/revision`, from its
 * Prometheus text (`autoscaler_stable_request_concurrency`, `autoscaler_panic_request_concurrency`,
 * `autoscaler_panic_mode`).
 */
export function parseAutoscalerMetrics(text: string): Map<string, AutoscalerFigures> {
  const out = new Map<string, AutoscalerFigures>();
  for (const m of text.matchAll(AUTOSCALER_METRIC)) {
    const labels = parseLabels(m[2]!);
    const key = `${labels.namespace}/${labels.revision}`;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const figures = out.get(key) ?? {};
    if (m[1] === 'stable_request_concurrency') figures.stable = value;
    else if (m[1] === 'panic_request_concurrency') figures.panic = value;
    else figures.panicMode = value === 1;
    out.set(key, figures);
  }
  return out;
}

function round(value: number | undefined): number | null {
  return value === undefined ? null : Math.round(value * 100) / 100;
}

/** One Pod as the status shows it. */
export function podStatus(pod: Pod, now: number): PodStatus {
  const ended = pod.timeline.endedAt;
  return {
    name: pod.name,
    state: pod.phase,
    ageSeconds: Math.max(0, Math.round(((ended ?? now) - pod.timeline.spawnedAt) / 1000)),
    restarts: pod.restarts,
    reason: pod.reason ?? null,
    exit: pod.exit ?? null,
    endedSecondsAgo: ended === undefined ? null : Math.max(0, Math.round((now - ended) / 1000)),
    logs: pod.containers.map((c) => `${pod.name}.${c}`),
  };
}

/** A crash-looping revision's reason: how many failed in a row, the last failure, and the next try. */
export function revisionReason(revision: RevisionPods, now: number): string | null {
  if (!revision.crashLooping) return null;
  const last = revision.ended.find((p) => p.phase === 'failed')?.failure;
  const wait = Math.ceil((revision.nextStartAt - now) / 1000);
  return `CrashLoopBackOff: ${revision.consecutiveFailures} Pods failed in a row${last ? ` (last: ${last})` : ''}${wait > 0 ? `; next start in ${wait} s` : ''}`;
}

/** What the table shows of a revision. */
export type TableRow = Pick<
  RevisionStatus,
  | 'namespace'
  | 'service'
  | 'name'
  | 'mode'
  | 'desiredPods'
  | 'wantedPods'
  | 'readyPods'
  | 'inFlight'
  | 'held'
  | 'rps'
> & { readonly reason?: string | null };

/** What the table shows of the status. */
export interface TableStatus {
  readonly maxPods: number;
  readonly pods: number;
  readonly revisions: readonly TableRow[];
}

/** The status as a fixed-width table, one line a revision, and the reason of each revision in trouble. */
export function statusTable(status: TableStatus): string[] {
  const header = ['REVISION', 'MODE', 'DESIRED', 'READY', 'IN-FLIGHT', 'HELD', 'REQ/S'];
  const rows = status.revisions.map((r) => [
    `${r.namespace}/${r.name}`,
    r.mode,
    String(r.desiredPods),
    String(r.readyPods),
    String(r.inFlight),
    String(r.held),
    r.rps.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const held = status.revisions
    .filter((r) => r.wantedPods > r.desiredPods)
    .map((r) => `${r.namespace}/${r.name} wants ${r.wantedPods}`);
  return [
    ...[header, ...rows].map((row) =>
      row.map((cell, i) => (i <= 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    ),
    `pods: ${status.pods} of at most ${status.maxPods}${held.length > 0 ? ` (held back by the limit: ${held.join(', ')})` : ''}`,
    ...status.revisions.flatMap((r) => (r.reason ? [`${r.namespace}/${r.name}: ${r.reason}`] : [])),
  ];
}
