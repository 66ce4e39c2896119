/**
 * What `GET /zerogate/status` and the live table show: the machine-wide Pod limit and the Pods running,
 * and per revision its mode, desired (and wanted) and ready Pods, requests in flight at the ingress,
 * requests the activator holds, and requests per second.
 */
import { type Dispatcher, request } from 'undici';
import type { Ingress } from './ingress.js';
import type { RevisionPods } from './revision-pods.js';

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
}

/** The whole status document. */
export interface PlatformStatus {
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

/** Requests per second are averaged over this window. */
const RPS_WINDOW_MS = 3000;
const HELD_METRIC = /^kn_revision_request_queued\{([^}]*)\}\s+(\S+)/gm;

/**
 * Samples the ingress counters every second (for requests per second) and the activator's held
 * requests from its Prometheus endpoint.
 */
export class StatusSampler {
  private readonly samples: { at: number; received: Map<RevisionPods, number> }[] = [];
  private held = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly revisions: () => readonly RevisionPods[],
    private readonly ingress: Ingress,
    private readonly activatorMetricsUrl: () => string | undefined,
    private readonly dispatcher: Dispatcher,
    private readonly limit: PodLimitView,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  status(): PlatformStatus {
    const now = Date.now();
    const oldest = this.samples[0];
    const revisions = this.revisions();
    return {
      maxPods: this.limit.max,
      pods: revisions.reduce((sum, r) => sum + r.pods.length, 0),
      revisions: revisions.map((r) => {
        const traffic = this.ingress.trafficOf(r);
        const before = oldest?.received.get(r) ?? 0;
        const seconds = oldest ? Math.max(1, now - oldest.at) / 1000 : 1;
        return {
          namespace: r.namespace,
          service: r.config.service,
          name: r.name,
          mode: r.mode,
          desiredPods: r.desired,
          wantedPods: this.limit.wantedBy(r),
          readyPods: r.ready().length,
          inFlight: traffic.inFlight,
          held: this.held.get(`${r.namespace}/${r.name}`) ?? 0,
          rps: Math.round(((traffic.received - before) / seconds) * 10) / 10,
        };
      }),
    };
  }

  private sample(): void {
    const now = Date.now();
    this.samples.push({
      at: now,
      received: new Map(this.revisions().map((r) => [r, this.ingress.trafficOf(r).received])),
    });
    while (this.samples.length > 1 && now - this.samples[0]!.at > RPS_WINDOW_MS) this.samples.shift();
    void this.sampleHeld();
  }

  private async sampleHeld(): Promise<void> {
    const url = this.activatorMetricsUrl();
    if (!url) return;
    try {
      const res = await request(url, { dispatcher: this.dispatcher, signal: AbortSignal.timeout(900) });
      const text = await res.body.text();
      const held = new Map<string, number>();
      for (const m of text.matchAll(HELD_METRIC)) {
        const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
        held.set(`${labels.k8s_namespace_name}/${labels.kn_revision_name}`, Number(m[2]));
      }
      this.held = held;
    } catch {
      // The activator is starting or stopping; keep the last figures.
    }
  }
}

/** The status as a fixed-width table, one line a revision. */
export function statusTable(status: PlatformStatus): string[] {
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
  ];
}
