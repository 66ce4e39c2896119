/**
 * The autoscaler's view of the cluster: informers on Knative Revisions (autoscaling annotations and
 * `containerConcurrency`) and on each revision's private EndpointSlices (its ready Pods), merged into
 * one {@link RevisionSpec} per revision for the {@link Collector}. Mirrors what Knative's KPA
 * reconciler reads (`pkg/reconciler/autoscaling/kpa/kpa.go`: the PodAutoscaler's annotations and
 * `podCounter` over the private Service's endpoints).
 */
import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { Logger } from '@zerogate/core';
import {
  isRecord,
  type KnativeRevision,
  PRIVATE_SELECTOR,
  type RevisionStateBase,
  RevisionWatch,
  type RevisionWatchOptions,
  readRevision,
  type WatchBackoff,
} from '@zerogate/core/kubernetes';
import type { RevisionSpec } from './collector.js';

/** Restart delays of a failed informer (see `@zerogate/core/kubernetes`). */
export type { WatchBackoff };

/** Receives the merged state of each revision, only when it changed, and removals. */
export interface RevisionListener {
  /** The revision appeared or its parameters or ready Pods changed. */
  upsert(namespace: string, name: string, spec: RevisionSpec): void;
  /** The Revision object was deleted. */
  remove(namespace: string, name: string): void;
}

/** Options of {@link RevisionWatcher}: those of core's `RevisionWatch`, where a `namespace` of '' also means every namespace. */
export type RevisionWatcherOptions = RevisionWatchOptions;

interface RevisionParams {
  readonly annotations: Readonly<Record<string, string>>;
  readonly containerConcurrency: number;
}

interface RevisionState extends RevisionStateBase {
  /** Ready Pod IPs per private EndpointSlice. */
  readonly slices: Map<string, readonly string[]>;
  params: RevisionParams | undefined;
  /** Whether the Revision was in the first list, i.e. ran before this autoscaler started. */
  existing: boolean;
}

/**
 * The ready Pod IPs of a private EndpointSlice. Terminating and not-ready endpoints are left out: the
 * decider counts only Pods that can take requests (`resources.ReadyPodCounter`).
 */
export function readyIps(slice: V1EndpointSlice): string[] {
  // FQDN slices carry names, not Pod IPs to scrape.
  if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') return [];
  const ips: string[] = [];
  for (const endpoint of slice.endpoints ?? []) {
    const conditions = endpoint.conditions ?? {};
    if (conditions.ready !== true || conditions.terminating === true) continue;
    for (const ip of endpoint.addresses ?? []) ips.push(ip);
  }
  return ips;
}

/** Reads a Revision's annotations and `spec.containerConcurrency`; a malformed value takes 0 and is listed in `problems`. */
function revisionParams(revision: KnativeRevision, problems: string[]): RevisionParams {
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(revision.metadata?.annotations ?? {})) {
    if (typeof v === 'string') annotations[k] = v;
  }
  const spec = revision.spec;
  let containerConcurrency = 0;
  if (spec !== undefined && spec !== null && !isRecord(spec)) {
    problems.push('spec is not an object');
  } else {
    const value = spec?.containerConcurrency;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) containerConcurrency = value;
    else if (value !== undefined && value !== null) {
      problems.push(`spec.containerConcurrency is ${JSON.stringify(value)}, not a non-negative integer`);
    }
  }
  return { annotations, containerConcurrency };
}

function sameSpec(a: RevisionSpec, b: RevisionSpec): boolean {
  if (a.containerConcurrency !== b.containerConcurrency) return false;
  if (a.readyPods.length !== b.readyPods.length || a.readyPods.some((p, i) => p !== b.readyPods[i])) {
    return false;
  }
  const ka = Object.keys(a.annotations ?? {});
  const kb = Object.keys(b.annotations ?? {});
  return ka.length === kb.length && ka.every((k) => a.annotations?.[k] === b.annotations?.[k]);
}

/**
 * Learns the revisions to autoscale from the Kubernetes API and tells a {@link RevisionListener} each
 * one's parameters and ready Pods. A revision is delivered once its Revision object is known (the
 * annotations and concurrency are needed to decide), with the ready IPs of every private EndpointSlice
 * labelled with it, sorted by address (EndpointSlices carry no Pod age, which Knative's `PodIPsByAge`
 * would use). Revisions in the first list are delivered with `existing: true`: they ran before this
 * autoscaler started, so their deciders start from their ready Pods rather than the initial scale.
 * Changes arriving together (a relist) are delivered once, and only when the state changed.
 */
export class RevisionWatcher {
  private readonly logger: Logger;
  private readonly watch: RevisionWatch<RevisionState, RevisionSpec>;

  /** Checks the options and builds the informers; nothing is requested until {@link start}. */
  constructor(options: RevisionWatcherOptions) {
    this.logger = options.logger;
    const namespace = options.namespace === '' ? undefined : options.namespace;
    this.watch = new RevisionWatch(
      'RevisionWatcher',
      { ...options, namespace },
      {
        create: (ns, name) => ({
          namespace: ns,
          name,
          slices: new Map(),
          params: undefined,
          existing: false,
        }),
        compute,
        empty: (state) => !state.params && state.slices.size === 0,
        same: sameSpec,
        listenerName: 'revision listener',
      },
    );
    this.watch.endpointSlices('private endpointslices', PRIVATE_SELECTOR, (slice, deleted) => {
      this.watch.file(
        'slice',
        slice,
        deleted,
        (state) => state.slices,
        () => readyIps(slice),
      );
    });
    this.watch.revisions((r, deleted) => this.onRevision(r, deleted));
  }

  /** Starts both informers; resolves once each listed (or failed its first attempt) and the result was delivered. */
  start(listener: RevisionListener): Promise<void> {
    return this.watch.start({
      upsert: (state, spec) => listener.upsert(state.namespace, state.name, spec),
      remove: (state) => listener.remove(state.namespace, state.name),
    });
  }

  /** Stops every informer, watch and retry timer; nothing is delivered afterwards. */
  stop(): Promise<void> {
    return this.watch.stop();
  }

  private onRevision(revision: KnativeRevision, deleted: boolean): void {
    this.watch.revision(revision, (state) => {
      if (deleted) {
        state.params = undefined;
        state.existing = false;
      } else {
        if (state.params === undefined && !this.watch.changes.live) state.existing = true;
        state.params = readRevision(revision, revisionParams, this.logger);
      }
    });
  }
}

/** The merged state, or undefined while the Revision object is unknown. */
function compute(state: RevisionState): RevisionSpec | undefined {
  if (!state.params) return undefined;
  const ready = new Set<string>();
  for (const ips of state.slices.values()) for (const ip of ips) ready.add(ip);
  return {
    annotations: state.params.annotations,
    containerConcurrency: state.params.containerConcurrency,
    readyPods: [...ready].sort(compareAddresses),
    existing: state.existing,
  };
}

/** Orders IPv4 addresses numerically (10.0.0.9 before 10.0.0.10), others as strings. */
function compareAddresses(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  if (pa.length === 4 && pb.length === 4) {
    for (let i = 0; i < 4; i++) {
      const d = Number(pa[i]) - Number(pb[i]);
      if (d !== 0) return d;
    }
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
