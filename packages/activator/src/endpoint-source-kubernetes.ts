/**
 * The activator's `kubernetes` endpoint source: informers on EndpointSlices (or Endpoints) and Knative
 * Revisions, merged into one {@link RevisionInfo} per revision (`pkg/activator/net/revision_backends.go`).
 * Where listing EndpointSlices is forbidden (Knative's own activator role grants only Endpoints), it
 * falls back to Endpoints once, with a warning. The revisions' Pods are watched too, for whether the
 * revision is failing (docs/activator.md §10.1); where listing Pods is forbidden, that comes from the
 * Revision's `Ready` condition alone.
 */
import type { KubernetesObject, V1EndpointSlice, V1Endpoints } from '@kubernetes/client-node';
import { joinHostPort, type Logger } from '@zerogate/core';
import {
  apiStatusMessage,
  apiStatusOf,
  describeApiError,
  type Informer,
  isRecord,
  type KnativeRevision,
  REVISION_LABEL as POD_SELECTOR,
  PRIVATE_SELECTOR,
  PUBLIC_SELECTOR,
  type RevisionStateBase,
  RevisionWatch,
  type RevisionWatchOptions,
  readRevision,
} from '@zerogate/core/kubernetes';
import {
  activatorAnnotations,
  type EndpointListener,
  type EndpointSource,
  type RevisionInfo,
  sameAnnotations,
} from './endpoint-source.js';
import { type PodHealth, podHealth, revisionFailing, revisionFailure } from './pod-health.js';

export { DEFAULT_BACKOFF, REVISION_LABEL, SERVICE_TYPE_LABEL } from '@zerogate/core/kubernetes';

/** `spec.timeoutSeconds` when a Revision does not set it: Knative's `revision-timeout-seconds` default. */
export const DEFAULT_TIMEOUT_SECONDS = 300;

/** Options of {@link KubernetesEndpointSource}: core's `RevisionWatch` options, and which API to read Pods from. */
export interface KubernetesEndpointSourceOptions extends RevisionWatchOptions {
  /**
   * Watch core/v1 Endpoints from the start instead of discovery.k8s.io/v1 EndpointSlices, for clusters
   * without them. Without it, EndpointSlices are watched until listing them is forbidden (403), then
   * Endpoints.
   */
  readonly useEndpoints?: boolean;
}

interface RevisionSpecFacts {
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  readonly responseStartTimeoutSeconds: number;
  readonly idleTimeoutSeconds: number;
  /** From the Revision's `serving.knative.dev/service` and `…/configuration` labels, for metrics. */
  readonly service: string;
  readonly configuration: string;
  /** The Revision's `zerogate.dev/` annotations. */
  readonly annotations: Readonly<Record<string, string>> | undefined;
  /** Why the Revision says it cannot become ready (`Ready=False`), if it does. */
  readonly failing: string | undefined;
}

type NumericSpecField = Exclude<
  keyof RevisionSpecFacts,
  'service' | 'configuration' | 'annotations' | 'failing'
>;

const DEFAULT_SPEC: RevisionSpecFacts = {
  containerConcurrency: 0,
  timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
  responseStartTimeoutSeconds: 0,
  idleTimeoutSeconds: 0,
  service: '',
  configuration: '',
  annotations: undefined,
  failing: undefined,
};

interface Addresses {
  readonly ready: readonly string[];
  readonly notReady: readonly string[];
}

/** What each kind of endpoints object tells: Pod addresses (private) or the IPs in the path (public). */
interface RoleFacts {
  readonly private: Addresses;
  readonly public: readonly string[];
}

type Role = keyof RoleFacts;

/** Which API the endpoints objects come from. */
type EndpointsKind = 'slice' | 'endpoints';

/** Everything known about one revision, from every informer. */
interface RevisionState extends RevisionStateBase {
  /** Facts per EndpointSlice (or Endpoints) object of each role, by `kind/role/namespace/name`. */
  readonly endpoints: { readonly [R in Role]: Map<string, RoleFacts[R]> };
  spec: RevisionSpecFacts | undefined;
  /** What each of its Pods' status tells, by `pod/namespace/name` (docs/activator.md §10.1). */
  readonly pods: Map<string, PodHealth>;
}

/**
 * The warning logged once when listing Pods is forbidden (Knative's own activator role grants no Pods):
 * failing revisions are then told only by their Revision's `Ready` condition.
 */
export const PODS_FORBIDDEN_MESSAGE =
  'listing Pods is forbidden (403); failing revisions are told by their Revision only. Grant this ' +
  'service account list and watch on pods to refuse requests for crash-looping Pods at once';

/**
 * The warning logged once when listing EndpointSlices is forbidden: what happened, what the activator does
 * instead, and how to avoid it.
 */
export const ENDPOINTSLICES_FORBIDDEN_MESSAGE =
  'listing EndpointSlices is forbidden (403); falling back to core/v1 Endpoints. Grant this service ' +
  'account list and watch on endpointslices (discovery.k8s.io) to use EndpointSlices';

/** The queue-proxy port: the one named `http` (HTTP/1) or `http2` (h2c revisions), else the first. */
function servingPort(ports: readonly { name?: string; port?: number }[] | undefined): number | undefined {
  if (!ports || ports.length === 0) return undefined;
  const port = ports.find((p) => p.name === 'http') ?? ports.find((p) => p.name === 'http2') ?? ports[0];
  return typeof port?.port === 'number' ? port.port : undefined;
}

/**
 * Splits a private EndpointSlice's endpoints into ready and not-ready `ip:port`s. An unset `ready` counts
 * as not ready (Kubernetes calls it unknown): the activator probes such Pods before using them. Terminating
 * Pods are draining and get no new requests.
 */
function sliceAddresses(slice: V1EndpointSlice): Addresses {
  // FQDN slices carry names, not Pod IPs the activator can probe.
  if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') return { ready: [], notReady: [] };
  const port = servingPort(slice.ports);
  if (port === undefined) return { ready: [], notReady: [] };
  const ready: string[] = [];
  const notReady: string[] = [];
  for (const endpoint of slice.endpoints ?? []) {
    const conditions = endpoint.conditions ?? {};
    if (conditions.ready !== true && conditions.terminating === true) continue;
    const into = conditions.ready === true ? ready : notReady;
    for (const ip of endpoint.addresses ?? []) into.push(joinHostPort(ip, port));
  }
  return { ready, notReady };
}

/** The ready IPs of a public EndpointSlice: the activators (Proxy mode) or the Pods (Serve mode). */
function sliceReadyIps(slice: V1EndpointSlice): string[] {
  if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') return [];
  return (slice.endpoints ?? [])
    .filter((e) => e.conditions?.ready === true)
    .flatMap((e) => e.addresses ?? []);
}

/** Splits private Endpoints: each subset's `addresses` are ready, `notReadyAddresses` not. */
function endpointsAddresses(endpoints: V1Endpoints): Addresses {
  const ready: string[] = [];
  const notReady: string[] = [];
  for (const subset of endpoints.subsets ?? []) {
    const port = servingPort(subset.ports);
    if (port === undefined) continue;
    for (const a of subset.addresses ?? []) ready.push(joinHostPort(a.ip, port));
    for (const a of subset.notReadyAddresses ?? []) notReady.push(joinHostPort(a.ip, port));
  }
  return { ready, notReady };
}

function endpointsReadyIps(endpoints: V1Endpoints): string[] {
  return (endpoints.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
}

/** Reads the routing fields of a Revision's spec; a missing field takes its default, a malformed one too (listed in `problems`). */
function revisionSpec(revision: KnativeRevision, problems: string[]): RevisionSpecFacts {
  const spec = revision.spec;
  const labels = revision.metadata?.labels ?? {};
  const names = {
    service: labels['serving.knative.dev/service'] ?? '',
    configuration: labels['serving.knative.dev/configuration'] ?? '',
    annotations: activatorAnnotations(revision.metadata?.annotations),
    failing: revisionFailure((revision as { status?: unknown }).status),
  };
  if (spec !== undefined && spec !== null && !isRecord(spec)) {
    problems.push('spec is not an object');
    return { ...DEFAULT_SPEC, ...names };
  }
  const field = (name: NumericSpecField): number => {
    const value = spec?.[name];
    if (value === undefined || value === null) return DEFAULT_SPEC[name];
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
    problems.push(`spec.${name} is ${JSON.stringify(value)}, not a non-negative integer`);
    return DEFAULT_SPEC[name];
  };
  return {
    containerConcurrency: field('containerConcurrency'),
    timeoutSeconds: field('timeoutSeconds'),
    responseStartTimeoutSeconds: field('responseStartTimeoutSeconds'),
    idleTimeoutSeconds: field('idleTimeoutSeconds'),
    ...names,
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sameInfo(a: RevisionInfo, b: RevisionInfo): boolean {
  return (
    a.containerConcurrency === b.containerConcurrency &&
    a.timeoutSeconds === b.timeoutSeconds &&
    a.responseStartTimeoutSeconds === b.responseStartTimeoutSeconds &&
    a.idleTimeoutSeconds === b.idleTimeoutSeconds &&
    a.service === b.service &&
    a.configuration === b.configuration &&
    sameAnnotations(a.annotations, b.annotations) &&
    a.failing === b.failing &&
    sameList(a.ready, b.ready) &&
    sameList(a.notReady, b.notReady) &&
    sameList(a.activators, b.activators)
  );
}

/**
 * Learns revisions from the Kubernetes API: Pod addresses from the private EndpointSlices (or Endpoints),
 * the activators in the path from the public ones (for subsetting), and the container concurrency and
 * timeouts from the Knative Revision. Every change is delivered as the revision's whole merged state,
 * only when that state changed; changes arriving together (a relist) are delivered once.
 */
export class KubernetesEndpointSource implements EndpointSource {
  private readonly logger: Logger;
  private readonly watch: RevisionWatch<RevisionState, RevisionInfo>;
  /** The informers on EndpointSlices, or on Endpoints once configured or fallen back to. */
  private endpointInformers: Informer[];
  /** Makes the Endpoints informers, until EndpointSlices turn out forbidden; then undefined. */
  private endpointsFallback: (() => Informer[]) | undefined;
  /**
   * The switch to Endpoints: resolves once the EndpointSlice informers stopped and the Endpoints ones made
   * their first attempt.
   */
  private switching: Promise<void> | undefined;

  constructor(options: KubernetesEndpointSourceOptions) {
    const { logger, namespace } = options;
    this.logger = logger;
    const watch = new RevisionWatch<RevisionState, RevisionInfo>('KubernetesEndpointSource', options, {
      create: (ns, name) => ({
        namespace: ns,
        name,
        endpoints: { private: new Map(), public: new Map() },
        spec: undefined,
        pods: new Map(),
      }),
      compute,
      empty: (state) =>
        !state.spec &&
        state.endpoints.private.size === 0 &&
        state.endpoints.public.size === 0 &&
        state.pods.size === 0,
      same: sameInfo,
      listenerName: 'endpoint listener',
    });
    this.watch = watch;

    const endpointsInformers = (): Informer[] => [
      watch.endpoints('private endpoints', PRIVATE_SELECTOR, (e, deleted) =>
        this.onEndpoints('endpoints', 'private', e, deleted, () => endpointsAddresses(e)),
      ),
      watch.endpoints('public endpoints', PUBLIC_SELECTOR, (e, deleted) =>
        this.onEndpoints('endpoints', 'public', e, deleted, () => endpointsReadyIps(e)),
      ),
    ];
    if (options.useEndpoints) {
      this.endpointInformers = endpointsInformers();
    } else {
      this.endpointsFallback = endpointsInformers;
      const scope = namespace === undefined ? 'in every namespace' : `in namespace ${namespace}`;
      // A 403 is not retried: it lasts until someone changes RBAC, and Endpoints carry the same Pods.
      const onListError = (err: unknown) => {
        if (apiStatusOf(err) === 403) this.fallBack(`list discovery.k8s.io/v1 endpointslices ${scope}`, err);
      };
      this.endpointInformers = [
        watch.endpointSlices(
          'private endpointslices',
          PRIVATE_SELECTOR,
          (s, deleted) => this.onEndpoints('slice', 'private', s, deleted, () => sliceAddresses(s)),
          onListError,
        ),
        watch.endpointSlices(
          'public endpointslices',
          PUBLIC_SELECTOR,
          (s, deleted) => this.onEndpoints('slice', 'public', s, deleted, () => sliceReadyIps(s)),
          onListError,
        ),
      ];
    }
    watch.revisions((r, deleted) =>
      watch.revision(r, (state) => {
        state.spec = deleted ? undefined : readRevision(r, revisionSpec, this.logger);
      }),
    );
    // A 403 is not retried: failing revisions are then told by their Revision alone.
    let podsForbidden = false;
    const pods = watch.pods(
      'pods',
      POD_SELECTOR,
      (pod, deleted) =>
        watch.file(
          'pod',
          pod,
          deleted,
          (state) => state.pods,
          () => podHealth(pod),
        ),
      (err) => {
        if (apiStatusOf(err) !== 403 || podsForbidden || watch.stopped) return;
        podsForbidden = true;
        this.logger.warn(
          { forbidden: 'list pods', apiMessage: apiStatusMessage(err) ?? describeApiError(err) },
          PODS_FORBIDDEN_MESSAGE,
        );
        void watch.retire([pods]);
      },
    );
  }

  /**
   * Starts every informer; resolves once each listed (or failed its first attempt) and the result was
   * delivered. When EndpointSlices turn out forbidden, that includes the first attempt on Endpoints.
   */
  start(listener: EndpointListener): Promise<void> {
    return this.watch.start(
      {
        upsert: (_state, info) => listener.upsert(info),
        remove: (state) => listener.remove(state.namespace, state.name),
      },
      // A forbidden list switched to Endpoints before its informer's first attempt ended.
      () => this.settled(),
    );
  }

  /** Stops every informer, watch and retry timer; nothing is delivered afterwards. */
  stop(): Promise<void> {
    return this.watch.stop(() => this.settled());
  }

  /**
   * Replaces the EndpointSlice informers by Endpoints ones, once: Knative's activator role grants
   * `endpoints` but not `endpointslices`, and both list the same Pods. Deliveries wait until the Endpoints
   * made their first attempt, so a revision goes from what its slices said to what its Endpoints say
   * without a moment in between.
   */
  private fallBack(forbidden: string, err: unknown): void {
    const make = this.endpointsFallback;
    if (this.watch.stopped || !make) return;
    this.endpointsFallback = undefined;
    this.logger.warn(
      {
        forbidden,
        apiMessage: apiStatusMessage(err) ?? describeApiError(err),
        fallback: 'core/v1 endpoints',
      },
      ENDPOINTSLICES_FORBIDDEN_MESSAGE,
    );
    // Stopping marks each informer stopped at once, so the failing list ends without a retry or a log.
    const stopped = this.watch.retire(this.endpointInformers);
    this.endpointInformers = make();
    const { changes } = this.watch;
    const wasLive = changes.live;
    changes.pause();
    this.watch.forget('slice/', (state, objectKey) => {
      state.endpoints.private.delete(objectKey);
      state.endpoints.public.delete(objectKey);
    });
    const started = Promise.all(this.endpointInformers.map((i) => i.start()));
    this.switching = Promise.all([stopped, started]).then(() => {
      // A switch during start() leaves going live to start().
      if (!wasLive || this.watch.stopped) return;
      changes.resume();
    });
  }

  /** Resolves once a switch to Endpoints under way, if any, is done. */
  private async settled(): Promise<void> {
    await this.switching;
  }

  /** Files an endpoints object (slice or Endpoints) under its revision, or removes it. */
  private onEndpoints<R extends Role>(
    kind: EndpointsKind,
    role: R,
    obj: KubernetesObject,
    deleted: boolean,
    parse: () => RoleFacts[R],
  ): void {
    this.watch.file(
      `${kind}/${role}`,
      obj,
      deleted,
      (state): Map<string, RoleFacts[R]> => state.endpoints[role],
      parse,
    );
  }
}

/** The merged state, or undefined while neither the Revision nor a private endpoints object exists. */
function compute(state: RevisionState): RevisionInfo | undefined {
  if (!state.spec && state.endpoints.private.size === 0) return undefined;
  const ready = new Set<string>();
  const notReady = new Set<string>();
  for (const a of state.endpoints.private.values()) {
    for (const r of a.ready) ready.add(r);
    for (const n of a.notReady) notReady.add(n);
  }
  // A Pod moving between slices may briefly appear in both; ready wins.
  for (const r of ready) notReady.delete(r);
  const activators = new Set<string>();
  for (const ips of state.endpoints.public.values()) for (const ip of ips) activators.add(ip);
  const spec = state.spec ?? DEFAULT_SPEC;
  return {
    namespace: state.namespace,
    name: state.name,
    containerConcurrency: spec.containerConcurrency,
    timeoutSeconds: spec.timeoutSeconds,
    responseStartTimeoutSeconds: spec.responseStartTimeoutSeconds,
    idleTimeoutSeconds: spec.idleTimeoutSeconds,
    service: spec.service || undefined,
    configuration: spec.configuration || undefined,
    annotations: spec.annotations,
    failing: revisionFailing(state.pods.entries(), spec.failing),
    ready: [...ready].sort(),
    notReady: [...notReady].sort(),
    activators: [...activators].sort(),
  };
}
