/**
 * Informers on Knative's objects merged into one state per revision, which is delivered only when what it
 * adds up to changed: the structure the activator's endpoint source and the autoscaler's revision watcher
 * share (Knative's `revision_backends.go` and KPA reconciler read the same objects through listers).
 */
import {
  type ConfigurationOptions,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1EndpointSlice,
  type V1Endpoints,
  type V1Pod,
} from '@kubernetes/client-node';
import { resolveBackoff, type WatchBackoff } from '../backoff.js';
import type { Logger } from '../logger.js';
import { ChangeBatcher } from './change-batcher.js';
import { abortableRequests, KeptInformer, REVISION_LABEL, REVISIONS } from './index.js';

/** Where a {@link RevisionWatch} watches and how it retries. */
export interface RevisionWatchOptions {
  /** Where the API server is and how to authenticate (in a Pod: `loadFromCluster()`). */
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Watch only this namespace; default every namespace. */
  readonly namespace?: string;
  /** Restart delays after informer failures; default `DEFAULT_BACKOFF`. */
  readonly backoff?: Partial<WatchBackoff>;
}

/** What a revision's state always holds. */
export interface RevisionStateBase {
  readonly namespace: string;
  readonly name: string;
}

/** How a {@link RevisionWatch} keeps and delivers its states. */
export interface RevisionMerge<S extends RevisionStateBase, V> {
  /** A new state, before anything is known of the revision. */
  create(namespace: string, name: string): S;
  /** What the state adds up to, or undefined while it adds up to no revision (removed if delivered). */
  compute(state: S): V | undefined;
  /** True when nothing is known of the revision any more (its state is dropped); implies no `compute`. */
  empty(state: S): boolean;
  /** True when two deliveries say the same. */
  same(a: V, b: V): boolean;
  /** Names the listener in the log line when it throws (`endpoint listener`). */
  readonly listenerName: string;
}

/** Receives each revision's merged state, only when it changed, and its removal. */
export interface RevisionDeliveries<S extends RevisionStateBase, V> {
  upsert(state: S, value: V): void;
  remove(state: S): void;
}

/** An informer, as a watch's owner drives it. */
export interface Informer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The part of a Knative Revision read through the custom-objects API. */
export interface KnativeRevision extends KubernetesObject {
  spec?: unknown;
}

function revisionKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * Makes the informers of one component (on EndpointSlices, Endpoints and Revisions, in one namespace or
 * all, kept running through failures, their lists aborted on stop) and merges what they report into one
 * state per revision. Objects are filed under the revision their {@link REVISION_LABEL} names, and leave
 * it when relabelled or deleted. Changes are batched ({@link ChangeBatcher}): paused until the first lists
 * are in, so the first delivery carries every informer's state at once, then delivered once per turn.
 */
export class RevisionWatch<S extends RevisionStateBase, V> {
  /** Paused until {@link start} has the first lists, and while the owner switches informers. */
  readonly changes = new ChangeBatcher((key) => this.deliver(key));
  private readonly kubeConfig: KubeConfig;
  private readonly logger: Logger;
  private readonly namespace: string | undefined;
  private readonly backoff: WatchBackoff;
  private readonly states = new Map<string, S>();
  /** The revision each filed object is under, so a relabelled one leaves its old revision. */
  private readonly owners = new Map<string, string>();
  private readonly delivered = new Map<string, V>();
  private listener: RevisionDeliveries<S, V> | undefined;
  private isStopped = false;
  /** Aborts list requests in flight on stop. */
  private readonly aborter = new AbortController();
  private readonly abortable = abortableRequests(this.aborter.signal);
  /** The informers {@link start} and {@link stop} drive: every one made, less those retired. */
  private readonly informers = new Set<Informer>();

  /** Checks the options, naming them as options of `owner`; nothing is requested until informers start. */
  constructor(
    private readonly owner: string,
    options: RevisionWatchOptions,
    private readonly merge: RevisionMerge<S, V>,
  ) {
    const { kubeConfig, namespace } = options;
    if (!kubeConfig?.getCurrentCluster()) {
      throw new TypeError(`${owner} option kubeConfig must have a current cluster`);
    }
    if (namespace !== undefined && (typeof namespace !== 'string' || namespace === '')) {
      throw new TypeError(`${owner} option namespace must be a non-empty string`);
    }
    this.kubeConfig = kubeConfig;
    this.logger = options.logger;
    this.namespace = namespace;
    this.backoff = resolveBackoff(owner, options.backoff);
  }

  /** True once {@link stop} was called. */
  get stopped(): boolean {
    return this.isStopped;
  }

  /**
   * An informer on the EndpointSlices `labelSelector` selects. `onListError` sees every failed list
   * before the informer does (which retries it with backoff).
   */
  endpointSlices(
    what: string,
    labelSelector: string,
    onChange: (slice: V1EndpointSlice, deleted: boolean) => void,
    onListError?: (err: unknown) => void,
  ): Informer {
    const api = this.kubeConfig.makeApiClient(DiscoveryV1Api);
    const list = this.scoped(
      (opts) => api.listEndpointSliceForAllNamespaces({ labelSelector }, opts),
      (namespace, opts) => api.listNamespacedEndpointSlice({ namespace, labelSelector }, opts),
    );
    const listed = seenFirst(list, onListError);
    return this.keep(what, 'apis/discovery.k8s.io/v1', 'endpointslices', listed, labelSelector, onChange);
  }

  /** An informer on the core/v1 Endpoints `labelSelector` selects. */
  endpoints(
    what: string,
    labelSelector: string,
    onChange: (endpoints: V1Endpoints, deleted: boolean) => void,
  ): Informer {
    const api = this.kubeConfig.makeApiClient(CoreV1Api);
    const list = this.scoped(
      (opts) => api.listEndpointsForAllNamespaces({ labelSelector }, opts),
      (namespace, opts) => api.listNamespacedEndpoints({ namespace, labelSelector }, opts),
    );
    return this.keep(what, 'api/v1', 'endpoints', list, labelSelector, onChange);
  }

  /**
   * An informer on the Pods `labelSelector` selects (a revision's, by {@link REVISION_LABEL}), for what
   * their status tells of the revision. `onListError` sees every failed list first, as for
   * {@link endpointSlices}.
   */
  pods(
    what: string,
    labelSelector: string,
    onChange: (pod: V1Pod, deleted: boolean) => void,
    onListError?: (err: unknown) => void,
  ): Informer {
    const api = this.kubeConfig.makeApiClient(CoreV1Api);
    const list = this.scoped(
      (opts) => api.listPodForAllNamespaces({ labelSelector }, opts),
      (namespace, opts) => api.listNamespacedPod({ namespace, labelSelector }, opts),
    );
    return this.keep(what, 'api/v1', 'pods', seenFirst(list, onListError), labelSelector, onChange);
  }

  /** An informer on Knative's Revisions, named `revisions` in its log lines. */
  revisions(onChange: (revision: KnativeRevision, deleted: boolean) => void): Informer {
    const api = this.kubeConfig.makeApiClient(CustomObjectsApi);
    const list = this.scoped<KubernetesListObject<KnativeRevision>>(
      (opts) => api.listClusterCustomObject({ ...REVISIONS }, opts),
      (namespace, opts) => api.listNamespacedCustomObject({ ...REVISIONS, namespace }, opts),
    );
    return this.keep('revisions', 'apis/serving.knative.dev/v1', 'revisions', list, undefined, onChange);
  }

  /**
   * Starts every informer made so far and delivers to `listener`: once each listed (or failed its first
   * attempt) and `settled` resolved, everything known is delivered, then every change.
   */
  async start(listener: RevisionDeliveries<S, V>, settled?: () => Promise<void>): Promise<void> {
    if (this.listener) throw new Error(`${this.owner} was already started`);
    this.listener = listener;
    await Promise.all([...this.informers].map((i) => i.start()));
    await settled?.();
    if (this.isStopped) return;
    this.changes.resume();
  }

  /** Stops delivering, aborts lists in flight and stops every informer, then waits for `settled`. */
  async stop(settled?: () => Promise<void>): Promise<void> {
    this.isStopped = true;
    this.changes.pause();
    this.aborter.abort();
    await Promise.all([...this.informers].map((i) => i.stop()));
    await settled?.();
  }

  /** Stops `informers` for good and leaves them out of {@link start} and {@link stop}. */
  async retire(informers: readonly Informer[]): Promise<void> {
    for (const i of informers) this.informers.delete(i);
    await Promise.all(informers.map((i) => i.stop()));
  }

  /**
   * Files `obj` under the revision its label names, in the map `facts` picks of that revision's state,
   * with what `parse` reads of it; a deleted or relabelled object leaves its previous revision. `kind`
   * keeps objects of different informers apart (`slice/private`).
   */
  file<F>(
    kind: string,
    obj: KubernetesObject,
    deleted: boolean,
    facts: (state: S) => Map<string, F>,
    parse: () => F,
  ): void {
    const namespace = obj.metadata?.namespace;
    const name = obj.metadata?.name;
    if (!namespace || !name) return;
    const objectKey = `${kind}/${namespace}/${name}`;
    const revision = deleted ? undefined : obj.metadata?.labels?.[REVISION_LABEL];
    const key = revision ? revisionKey(namespace, revision) : undefined;
    const previous = this.owners.get(objectKey);
    if (previous !== undefined && previous !== key) {
      const old = this.states.get(previous);
      if (old) facts(old).delete(objectKey);
      this.owners.delete(objectKey);
      this.changes.mark(previous);
    }
    if (revision && key) {
      facts(this.state(namespace, revision)).set(objectKey, parse());
      this.owners.set(objectKey, key);
      this.changes.mark(key);
    }
  }

  /** Drops every object filed with a `kind` starting with `prefix`; `drop` removes it from its state. */
  forget(prefix: string, drop: (state: S, objectKey: string) => void): void {
    for (const [objectKey, key] of this.owners) {
      if (!objectKey.startsWith(prefix)) continue;
      const state = this.states.get(key);
      if (state) drop(state, objectKey);
      this.owners.delete(objectKey);
      this.changes.mark(key);
    }
  }

  /** Lets `apply` change the state of the revision `obj` is (a Revision object), and marks it changed. */
  revision(obj: KubernetesObject, apply: (state: S) => void): void {
    const namespace = obj.metadata?.namespace;
    const name = obj.metadata?.name;
    if (!namespace || !name) return;
    apply(this.state(namespace, name));
    this.changes.mark(revisionKey(namespace, name));
  }

  /** The list call of the watched scope: every namespace's, or the one namespace's; aborted on stop. */
  private scoped<T>(
    all: (opts: ConfigurationOptions) => Promise<T>,
    inNamespace: (namespace: string, opts: ConfigurationOptions) => Promise<T>,
  ): () => Promise<T> {
    const namespace = this.namespace;
    const abortable = this.abortable;
    return namespace === undefined ? () => all(abortable) : () => inNamespace(namespace, abortable);
  }

  /** An informer on `resource` of the API at `apiPath`, in the watched scope, kept running and registered. */
  private keep<T extends KubernetesObject>(
    what: string,
    apiPath: string,
    resource: string,
    list: () => Promise<KubernetesListObject<T>>,
    labelSelector: string | undefined,
    onChange: (obj: T, deleted: boolean) => void,
  ): Informer {
    const scope = this.namespace === undefined ? '' : `/namespaces/${this.namespace}`;
    const path = `/${apiPath}${scope}/${resource}`;
    const { kubeConfig, backoff, logger } = this;
    const informer = new KeptInformer<T>(
      what,
      kubeConfig,
      path,
      list,
      labelSelector,
      backoff,
      logger,
      onChange,
    );
    this.informers.add(informer);
    return informer;
  }

  private state(namespace: string, name: string): S {
    const key = revisionKey(namespace, name);
    let state = this.states.get(key);
    if (!state) {
      state = this.merge.create(namespace, name);
      this.states.set(key, state);
    }
    return state;
  }

  /**
   * Delivers the net change of one revision. A revision without a state has nothing to deliver: a state is
   * dropped only when it adds up to nothing, and its removal is delivered then.
   */
  private deliver(key: string): void {
    const listener = this.listener;
    const state = this.states.get(key);
    if (!listener || !state) return;
    const value = this.merge.compute(state);
    if (this.merge.empty(state)) this.states.delete(key);
    const previous = this.delivered.get(key);
    if (value === undefined) {
      if (previous !== undefined) {
        this.delivered.delete(key);
        this.notify(() => listener.remove(state));
      }
    } else if (previous === undefined || !this.merge.same(previous, value)) {
      this.delivered.set(key, value);
      this.notify(() => listener.upsert(state, value));
    }
  }

  private notify(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.logger.error({ err }, `${this.merge.listenerName} failed`);
    }
  }
}

/** `list`, with each failure shown to `onListError` (when given) before it goes on to the informer. */
function seenFirst<T>(list: () => Promise<T>, onListError?: (err: unknown) => void): () => Promise<T> {
  if (!onListError) return list;
  return () =>
    list().catch((err: unknown) => {
      onListError(err);
      throw err;
    });
}
