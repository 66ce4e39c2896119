/**
 * The autoscaler's view of the cluster: informers on Knative Revisions (autoscaling annotations and
 * `containerConcurrency`) and on each revision's private EndpointSlices (its ready Pods), merged into
 * one {@link RevisionSpec} per revision for the {@link Collector}. Mirrors what Knative's KPA
 * reconciler reads (`pkg/reconciler/autoscaling/kpa/kpa.go`: the PodAutoscaler's annotations and
 * `podCounter` over the private Service's endpoints).
 */
import {
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1EndpointSlice,
} from '@kubernetes/client-node';
import type { Logger } from '@zerogate/core';
import {
  abortableRequests,
  ChangeBatcher,
  isRecord,
  KeptInformer,
  PRIVATE_SELECTOR,
  REVISION_LABEL,
  REVISIONS,
  readRevision,
  resolveBackoff,
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

/** Options of {@link RevisionWatcher}. */
export interface RevisionWatcherOptions {
  /** Where the API server is and how to authenticate (in a Pod: `loadFromCluster()`). */
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Watch only this namespace; default (or '') every namespace. */
  readonly namespace?: string;
  /** Restart delays after informer failures; default `DEFAULT_BACKOFF` of `@zerogate/core/kubernetes`. */
  readonly backoff?: Partial<WatchBackoff>;
}

/** The part of a Knative Revision the autoscaler reads. */
interface KnativeRevision extends KubernetesObject {
  spec?: unknown;
}

interface RevisionParams {
  readonly annotations: Readonly<Record<string, string>>;
  readonly containerConcurrency: number;
}

interface RevisionState {
  readonly namespace: string;
  readonly name: string;
  /** Ready Pod IPs per private EndpointSlice, by slice name. */
  readonly slices: Map<string, readonly string[]>;
  params: RevisionParams | undefined;
  /** Whether the Revision was in the first list, i.e. ran before this autoscaler started. */
  existing: boolean;
}

function revisionKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
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
  private readonly informers: KeptInformer<KubernetesObject>[];
  private readonly revisions = new Map<string, RevisionState>();
  /** The revision each slice was filed under, so a relabelled slice leaves its old revision. */
  private readonly owners = new Map<string, string>();
  private readonly delivered = new Map<string, RevisionSpec>();
  /** Paused until the initial lists are in, so the first delivery carries both sources' state at once. */
  private readonly changes = new ChangeBatcher((key) => this.deliver(key));
  private listener: RevisionListener | undefined;
  private stopped = false;
  /** Aborts list requests in flight on stop. */
  private readonly aborter = new AbortController();

  /** Checks the options and builds the informers; nothing is requested until {@link start}. */
  constructor(options: RevisionWatcherOptions) {
    const { kubeConfig, logger } = options;
    if (!kubeConfig?.getCurrentCluster()) {
      throw new TypeError('RevisionWatcher option kubeConfig must have a current cluster');
    }
    const namespace = options.namespace === '' ? undefined : options.namespace;
    if (namespace !== undefined && typeof namespace !== 'string') {
      throw new TypeError('RevisionWatcher option namespace must be a string');
    }
    const backoff = resolveBackoff('RevisionWatcher', options.backoff);
    this.logger = logger;

    const ns = namespace === undefined ? '' : `/namespaces/${namespace}`;
    const abortable = abortableRequests(this.aborter.signal);
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const listSlices = (): Promise<KubernetesListObject<V1EndpointSlice>> =>
      namespace === undefined
        ? discovery.listEndpointSliceForAllNamespaces({ labelSelector: PRIVATE_SELECTOR }, abortable)
        : discovery.listNamespacedEndpointSlice({ namespace, labelSelector: PRIVATE_SELECTOR }, abortable);
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const listRevisions = (): Promise<KubernetesListObject<KnativeRevision>> =>
      namespace === undefined
        ? custom.listClusterCustomObject({ ...REVISIONS }, abortable)
        : custom.listNamespacedCustomObject({ ...REVISIONS, namespace }, abortable);
    this.informers = [
      new KeptInformer<V1EndpointSlice>(
        'private endpointslices',
        kubeConfig,
        `/apis/discovery.k8s.io/v1${ns}/endpointslices`,
        listSlices,
        PRIVATE_SELECTOR,
        backoff,
        logger,
        (s, deleted) => this.onSlice(s, deleted),
      ),
      new KeptInformer<KnativeRevision>(
        'revisions',
        kubeConfig,
        `/apis/serving.knative.dev/v1${ns}/revisions`,
        listRevisions,
        undefined,
        backoff,
        logger,
        (r, deleted) => this.onRevision(r, deleted),
      ),
    ] as KeptInformer<KubernetesObject>[];
  }

  /** Starts both informers; resolves once each listed (or failed its first attempt) and the result was delivered. */
  async start(listener: RevisionListener): Promise<void> {
    if (this.listener) throw new Error('RevisionWatcher was already started');
    this.listener = listener;
    await Promise.all(this.informers.map((i) => i.start()));
    if (this.stopped) return;
    this.changes.resume();
  }

  /** Stops every informer, watch and retry timer; nothing is delivered afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.changes.pause();
    this.aborter.abort();
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private state(namespace: string, name: string): RevisionState {
    const key = revisionKey(namespace, name);
    let state = this.revisions.get(key);
    if (!state) {
      state = { namespace, name, slices: new Map(), params: undefined, existing: false };
      this.revisions.set(key, state);
    }
    return state;
  }

  private onSlice(slice: V1EndpointSlice, deleted: boolean): void {
    const namespace = slice.metadata?.namespace;
    const name = slice.metadata?.name;
    if (!namespace || !name) return;
    const sliceKey = `${namespace}/${name}`;
    const revision = deleted ? undefined : slice.metadata?.labels?.[REVISION_LABEL];
    const key = revision ? revisionKey(namespace, revision) : undefined;
    const previous = this.owners.get(sliceKey);
    if (previous !== undefined && previous !== key) {
      this.revisions.get(previous)?.slices.delete(name);
      this.owners.delete(sliceKey);
      this.changes.mark(previous);
    }
    if (revision && key) {
      this.state(namespace, revision).slices.set(name, readyIps(slice));
      this.owners.set(sliceKey, key);
      this.changes.mark(key);
    }
  }

  private onRevision(revision: KnativeRevision, deleted: boolean): void {
    const namespace = revision.metadata?.namespace;
    const name = revision.metadata?.name;
    if (!namespace || !name) return;
    const state = this.state(namespace, name);
    if (deleted) {
      state.params = undefined;
      state.existing = false;
    } else {
      if (state.params === undefined && !this.changes.live) state.existing = true;
      state.params = readRevision(revision, revisionParams, this.logger);
    }
    this.changes.mark(revisionKey(namespace, name));
  }

  /** Delivers the net change of one revision. */
  private deliver(key: string): void {
    if (!this.listener) return;
    const state = this.revisions.get(key);
    const spec = state && this.compute(state);
    if (state && !state.params && state.slices.size === 0) this.revisions.delete(key);
    const previous = this.delivered.get(key);
    if (!spec) {
      if (previous && state) {
        this.delivered.delete(key);
        this.notify(() => this.listener?.remove(state.namespace, state.name));
      }
    } else if (!previous || !sameSpec(previous, spec)) {
      this.delivered.set(key, spec);
      const { namespace, name } = state;
      this.notify(() => this.listener?.upsert(namespace, name, spec));
    }
  }

  private notify(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.logger.error({ err }, 'revision listener failed');
    }
  }

  /** The merged state, or undefined while the Revision object is unknown. */
  private compute(state: RevisionState): RevisionSpec | undefined {
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
