/**
 * The Kubernetes actuator: scales a revision's Deployment through its `scale` subresource and writes the
 * EndpointSlices of its public Service, so traffic reaches the activator (Proxy) or the Pods (Serve).
 * Mirrors `pkg/reconciler/autoscaling/kpa/scaler.go` (scale, activator probe) and
 * `pkg/reconciler/serverlessservice/serverlessservice.go` (public endpoints), writing EndpointSlices
 * where Knative writes Endpoints (deprecated since Kubernetes 1.33).
 */
import { createHash } from 'node:crypto';
import {
  AppsV1Api,
  DiscoveryV1Api,
  type DiscoveryV1EndpointPort,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Endpoint,
  type V1EndpointSlice,
} from '@kubernetes/client-node';
import { Backoff, type Logger, sleep } from '@zerogate/core';
import {
  abortableRequests,
  apiStatusOf,
  deploymentName,
  describeApiError,
  KeptInformer,
  REVISION_LABEL,
  resolveBackoff,
  SERVICE_TYPE_LABEL,
  type WatchBackoff,
} from '@zerogate/core/kubernetes';
import { type ActivatorProbeOptions, probeActivatorInPath } from './activator-probe.js';
import {
  type Actuator,
  ActuatorError,
  type ActuatorErrorCode,
  type Mode,
  type RevisionRef,
} from './actuator.js';

export { REVISION_LABEL, SERVICE_TYPE_LABEL } from '@zerogate/core/kubernetes';
/** The label tying an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The label naming the controller that owns an EndpointSlice. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/**
 * Our value of {@link MANAGED_BY_LABEL}: Kubernetes' own controllers leave such slices alone. Shaped like
 * Kubernetes' own `endpointslice-controller.k8s.io`, since a label value may not contain `/`.
 */
export const MANAGED_BY = 'autoscaler.zerogate.dev';

/**
 * The ports of a public Service (`pkg/reconciler/serverlessservice/resources/services.go`): `http` (80)
 * or `http2` (81, h2c revisions) and `https` (443). Only these are copied into the public slices; the
 * private Service's metrics ports and the activator's profiling port have no public counterpart.
 */
const PUBLIC_PORT_NAMES: ReadonlySet<string> = new Set(['http', 'http2', 'https']);

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Retry delays of failed API calls: `initialMs`, times `factor` per failure, capped at `maxMs`, `attempts` calls in all. */
export interface RetryPolicy {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
  readonly attempts: number;
}

/** 100 ms doubling to 2 s, six calls in all (about 3 s): well inside the decider's 2 s tick plus one. */
export const DEFAULT_RETRY: RetryPolicy = { initialMs: 100, factor: 2, maxMs: 2000, attempts: 6 };

/** Options of {@link KubernetesActuator}. */
export interface KubernetesActuatorOptions {
  /** Where the API server is and how to authenticate (in a Pod: `loadFromCluster()`). */
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** The Deployment of a revision; default {@link knativeDeploymentName}. */
  readonly deploymentName?: (rev: RevisionRef) => string;
  /** Namespace of the activator Service; default `knative-serving`. */
  readonly activatorNamespace?: string;
  /** Name of the activator Service; default `activator-service`. */
  readonly activatorService?: string;
  /** The revision's public address, probed before scaling to zero; default {@link knativePublicUrl}. */
  readonly publicUrl?: (rev: RevisionRef) => string;
  /** Timing of the activator-in-path probe; default Knative's (1 s period, 45 s limit). */
  readonly probe?: ActivatorProbeOptions;
  /** Retries of failed API calls; default {@link DEFAULT_RETRY}. */
  readonly retry?: Partial<RetryPolicy>;
  /** Restart delays of the activator watch after failures; default `DEFAULT_BACKOFF` of `@zerogate/core/kubernetes`. */
  readonly watchBackoff?: Partial<WatchBackoff>;
  /** Waits between retries; tests replace it. */
  readonly sleep?: (ms: number) => Promise<unknown>;
}

/** The Deployment Knative creates for a revision: `<revision>-deployment` (`pkg/reconciler/revision/resources/names`). */
export function knativeDeploymentName(rev: RevisionRef): string {
  return deploymentName(rev.name);
}

/**
 * The public Service's in-cluster URL, which `scaler.go` probes: `http://<rev>.<ns>.svc.cluster.local`
 * (port 80). Knative probes h2c revisions on port 81 over h2c; pass `publicUrl` for those.
 */
export function knativePublicUrl(rev: RevisionRef, clusterDomain = 'cluster.local'): string {
  return `http://${rev.name}.${rev.namespace}.svc.${clusterDomain}`;
}

/** How a failed call is retried: re-read first (conflict), after a delay (transient) or not at all. */
type Failure = 'conflict' | 'transient' | 'permanent';

function classify(err: unknown): Failure {
  const status = apiStatusOf(err);
  // No HTTP answer at all: refused, reset, timed out.
  if (status === undefined) return 'transient';
  if (status === 409) return 'conflict';
  if (status === 429 || status >= 500) return 'transient';
  return 'permanent';
}

/** An endpoint copied into a public slice, in a canonical form that compares by JSON. */
interface PublicEndpoint {
  addresses: string[];
  conditions: { ready?: boolean; serving?: boolean; terminating?: boolean };
  nodeName?: string;
  zone?: string;
  targetRef?: { kind?: string; namespace?: string; name?: string; uid?: string };
}

/** One public slice to write: endpoints of one address type sharing one port list. */
interface DesiredSlice {
  name: string;
  addressType: string;
  ports: DiscoveryV1EndpointPort[];
  endpoints: PublicEndpoint[];
}

function canonicalPorts(ports: readonly DiscoveryV1EndpointPort[] | undefined): DiscoveryV1EndpointPort[] {
  return (ports ?? [])
    .filter((p) => p.name !== undefined && PUBLIC_PORT_NAMES.has(p.name))
    .map((p) => ({
      name: p.name,
      port: p.port,
      protocol: p.protocol ?? 'TCP',
      ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
    }))
    .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
}

const READY = { ready: true, serving: true, terminating: false } as const;

/** An endpoint in canonical form; `conditions` default to ready, as copied endpoints always are. */
function canonicalEndpoint(e: V1Endpoint, conditions: PublicEndpoint['conditions'] = READY): PublicEndpoint {
  const out: PublicEndpoint = { addresses: [...(e.addresses ?? [])].sort(), conditions: { ...conditions } };
  if (e.nodeName) out.nodeName = e.nodeName;
  if (e.zone) out.zone = e.zone;
  if (e.targetRef) {
    const { kind, namespace, name, uid } = e.targetRef;
    out.targetRef = {
      ...(kind ? { kind } : {}),
      ...(namespace ? { namespace } : {}),
      ...(name ? { name } : {}),
      ...(uid ? { uid } : {}),
    };
  }
  return out;
}

/** The ready endpoints of slices, each with its slice's address type and public ports. */
interface ReadyEndpoint {
  addressType: string;
  ports: DiscoveryV1EndpointPort[];
  endpoint: PublicEndpoint;
}

function readyEndpoints(slices: Iterable<V1EndpointSlice>): ReadyEndpoint[] {
  const out: ReadyEndpoint[] = [];
  const seen = new Set<string>();
  for (const slice of slices) {
    // FQDN slices name hosts, not addresses a public Service can point at.
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    // Our own slices are never a source, whatever their labels say.
    if (slice.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY) continue;
    const ports = canonicalPorts(slice.ports);
    for (const e of slice.endpoints ?? []) {
      if (e.conditions?.ready !== true || (e.addresses ?? []).length === 0) continue;
      const endpoint = canonicalEndpoint(e);
      // A Pod briefly listed in two slices is copied once.
      const key = `${slice.addressType}/${endpoint.addresses.join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ addressType: slice.addressType, ports, endpoint });
    }
  }
  return out;
}

/** What a public slice copies from `slices`, as one string that changes exactly when that does. */
function readyEndpointsKey(slices: Iterable<V1EndpointSlice>): string {
  return readyEndpoints(slices)
    .map((e) => JSON.stringify([e.addressType, e.ports, e.endpoint]))
    .sort()
    .join('\n');
}

/** A 64-bit weight of `item` for `key`, for rendezvous hashing. */
function weight(key: string, item: string): bigint {
  return createHash('sha256').update(key).update('\0').update(item).digest().readBigUInt64BE(0);
}

/**
 * The `n` activators serving a revision, chosen by consistent hashing keyed on the revision name, as
 * `pkg:hash/chooser.go` ChooseSubset does for the SKS: every autoscaler picks the same subset, and adding
 * or removing an activator moves few revisions. This uses rendezvous (highest random weight) hashing, so
 * the chosen activators differ from Knative's own choice but keep those properties. `n` of 0 or at least
 * the number of activators means all of them.
 */
export function chooseActivatorSubset<T extends { endpoint: { addresses: string[] } }>(
  activators: readonly T[],
  n: number,
  key: string,
): T[] {
  if (n <= 0 || n >= activators.length) return [...activators];
  return activators
    .map((a) => ({ a, w: weight(key, a.endpoint.addresses[0]!) }))
    .sort((x, y) => (x.w > y.w ? -1 : x.w < y.w ? 1 : 0))
    .slice(0, n)
    .map((x) => x.a);
}

/**
 * Groups endpoints into slices by address type and ports. The first group of an address type is named
 * `<revision>-ipv4` (or `-ipv6`) whatever its ports, so a mode switch updates that slice in place (one
 * write, never a moment without endpoints); further groups, rare, get a name derived from their ports.
 */
function desiredSlices(rev: RevisionRef, endpoints: readonly ReadyEndpoint[]): DesiredSlice[] {
  const groups = new Map<string, DesiredSlice>();
  const families = new Set<string>();
  for (const { addressType, ports, endpoint } of endpoints) {
    const key = `${addressType}|${JSON.stringify(ports)}`;
    let group = groups.get(key);
    if (!group) {
      const family = addressType.toLowerCase();
      const name = families.has(family)
        ? `${rev.name}-${family}-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`
        : `${rev.name}-${family}`;
      families.add(family);
      group = { name, addressType, ports, endpoints: [] };
      groups.set(key, group);
    }
    group.endpoints.push(endpoint);
  }
  for (const g of groups.values()) {
    g.endpoints.sort((a, b) => a.addresses[0]!.localeCompare(b.addresses[0]!));
  }
  return [...groups.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function publicLabels(rev: RevisionRef): Record<string, string> {
  return {
    [SERVICE_NAME_LABEL]: rev.name,
    [SERVICE_TYPE_LABEL]: 'Public',
    [REVISION_LABEL]: rev.name,
    [MANAGED_BY_LABEL]: MANAGED_BY,
  };
}

/** True when `existing` already says what `desired` says (labels we own, address type, ports, endpoints). */
function sameSlice(rev: RevisionRef, existing: V1EndpointSlice, desired: DesiredSlice): boolean {
  const labels = existing.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(publicLabels(rev))) if (labels[k] !== v) return false;
  if (existing.addressType !== desired.addressType) return false;
  // Ports outside the public set make the lists differ in length.
  const ports = canonicalPorts(existing.ports);
  if (ports.length !== (existing.ports ?? []).length) return false;
  if (JSON.stringify(ports) !== JSON.stringify(desired.ports)) return false;
  const endpoints = (existing.endpoints ?? [])
    .map((e) => {
      const c = e.conditions ?? {};
      return canonicalEndpoint(e, { ready: c.ready, serving: c.serving, terminating: c.terminating });
    })
    .sort((a, b) => (a.addresses[0] ?? '').localeCompare(b.addresses[0] ?? ''));
  return JSON.stringify(endpoints) === JSON.stringify(desired.endpoints);
}

/**
 * Drives revisions on Kubernetes. Every write is idempotent: the current state is read first and nothing
 * is written when it already matches, so the decider may repeat a decision every tick at the cost of
 * reads only. Failed calls are retried per {@link RetryPolicy}; a conflict re-reads before writing again.
 */
export class KubernetesActuator implements Actuator {
  private readonly kubeConfig: KubeConfig;
  private readonly apps: AppsV1Api;
  private readonly discovery: DiscoveryV1Api;
  private readonly logger: Logger;
  private readonly deploymentName: (rev: RevisionRef) => string;
  private readonly activatorNamespace: string;
  private readonly activatorService: string;
  private readonly publicUrl: (rev: RevisionRef) => string;
  private readonly probe: ActivatorProbeOptions;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<unknown>;
  private readonly watchBackoff: WatchBackoff;
  /** The activator watch, once {@link start}ed. */
  private activatorWatch: KeptInformer<V1EndpointSlice> | undefined;
  /** Aborts the activator watch's list in flight on stop. */
  private readonly aborter = new AbortController();

  constructor(options: KubernetesActuatorOptions) {
    const { kubeConfig, logger } = options;
    if (!kubeConfig?.getCurrentCluster()) {
      throw new TypeError('KubernetesActuator option kubeConfig must have a current cluster');
    }
    if (!logger) throw new TypeError('KubernetesActuator option logger is required');
    const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
    // Constructing one checks the delays, naming the bad option.
    new Backoff(retry, 'KubernetesActuator option retry.');
    if (!(Number.isSafeInteger(retry.attempts) && retry.attempts >= 1)) {
      throw new RangeError('KubernetesActuator option retry.attempts must be an integer >= 1');
    }
    const activatorNamespace = options.activatorNamespace ?? 'knative-serving';
    const activatorService = options.activatorService ?? 'activator-service';
    if (typeof activatorNamespace !== 'string' || activatorNamespace === '') {
      throw new TypeError('KubernetesActuator option activatorNamespace must be a non-empty string');
    }
    if (typeof activatorService !== 'string' || activatorService === '') {
      throw new TypeError('KubernetesActuator option activatorService must be a non-empty string');
    }
    this.watchBackoff = resolveBackoff('KubernetesActuator', options.watchBackoff);
    this.kubeConfig = kubeConfig;
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    this.logger = logger;
    this.deploymentName = options.deploymentName ?? knativeDeploymentName;
    this.activatorNamespace = activatorNamespace;
    this.activatorService = activatorService;
    this.publicUrl = options.publicUrl ?? ((rev) => knativePublicUrl(rev));
    this.probe = options.probe ?? {};
    this.retry = retry;
    this.sleep = options.sleep ?? sleep;
  }

  /**
   * Sets `spec.replicas` through the Deployment's `scale` subresource, as `scaler.go` applyScale does.
   * The Scale is read first: no write when it already has the count. The write is a merge patch carrying
   * the read resourceVersion, so a change made meanwhile (a user's `kubectl scale`, another autoscaler)
   * fails with 409 and is re-read rather than overwritten blindly.
   */
  scale(rev: RevisionRef, desiredPods: number): Promise<void> {
    if (!(Number.isSafeInteger(desiredPods) && desiredPods >= 0)) {
      return Promise.reject(new RangeError(`desiredPods must be a non-negative integer, got ${desiredPods}`));
    }
    const name = this.deploymentName(rev);
    const { namespace } = rev;
    return this.retrying('ERR_ACTUATOR_SCALE', rev, `scale Deployment ${namespace}/${name}`, async () => {
      const current = await this.apps.readNamespacedDeploymentScale({ namespace, name });
      if (current.spec?.replicas === desiredPods) return;
      await this.apps.patchNamespacedDeploymentScale(
        {
          namespace,
          name,
          body: {
            metadata: { resourceVersion: current.metadata?.resourceVersion },
            spec: { replicas: desiredPods },
          },
        },
        MERGE_PATCH,
      );
      this.logger.info(
        { revision: `${namespace}/${rev.name}`, from: current.spec?.replicas, to: desiredPods },
        'scaled revision',
      );
    });
  }

  /**
   * Writes the public EndpointSlices of the revision, as the SKS reconciler writes public Endpoints
   * (`serverlessservice.go` reconcilePublicEndpoints): Serve copies the ready private endpoints, Proxy
   * points at `numActivators` activators chosen by {@link chooseActivatorSubset}. With no ready private
   * endpoint Serve falls back to Proxy; with no ready activator Proxy falls back to Serve. Nothing is
   * written when the slices already hold the wanted endpoints.
   */
  setMode(rev: RevisionRef, mode: Mode, numActivators: number): Promise<void> {
    if (mode !== 'Proxy' && mode !== 'Serve') {
      return Promise.reject(new TypeError(`mode must be Proxy or Serve, got ${String(mode)}`));
    }
    const { namespace, name } = rev;
    return this.retrying(
      'ERR_ACTUATOR_MODE',
      rev,
      `write public endpoints of ${namespace}/${name}`,
      async () => {
        const [privateSlices, activatorSlices, owned] = await Promise.all([
          this.discovery.listNamespacedEndpointSlice({
            namespace,
            labelSelector: `${REVISION_LABEL}=${name},${SERVICE_TYPE_LABEL}=Private`,
          }),
          this.discovery.listNamespacedEndpointSlice({
            namespace: this.activatorNamespace,
            labelSelector: `${SERVICE_NAME_LABEL}=${this.activatorService}`,
          }),
          this.discovery.listNamespacedEndpointSlice({
            namespace,
            labelSelector: `${SERVICE_NAME_LABEL}=${name},${MANAGED_BY_LABEL}=${MANAGED_BY}`,
          }),
        ]);
        const pods = readyEndpoints(privateSlices.items);
        const activators = readyEndpoints(activatorSlices.items);
        let effective: Mode = mode;
        if (effective === 'Serve' && pods.length === 0) effective = 'Proxy';
        if (effective === 'Proxy' && activators.length === 0) effective = 'Serve';
        if (effective !== mode) {
          this.logger.debug(
            { revision: `${namespace}/${name}`, mode, effective },
            'overriding the requested mode',
          );
        }
        const source = effective === 'Serve' ? pods : chooseActivatorSubset(activators, numActivators, name);
        await this.writeSlices(rev, desiredSlices(rev, source), owned.items);
      },
    );
  }

  /**
   * Watches the activator Service's EndpointSlices and calls `onActivatorsChange` whenever what a public
   * slice would copy from them changes (an activator added, gone, replaced or not ready), as the SKS
   * reconciler is re-run for every revision when the activator's endpoints change. Changes arriving
   * together (a relist) are reported once.
   */
  async start(onActivatorsChange: () => void): Promise<void> {
    if (this.activatorWatch) throw new Error('KubernetesActuator was already started');
    const namespace = this.activatorNamespace;
    const labelSelector = `${SERVICE_NAME_LABEL}=${this.activatorService}`;
    const abortable = abortableRequests(this.aborter.signal);
    const slices = new Map<string, V1EndpointSlice>();
    let key = readyEndpointsKey([]);
    let queued = false;
    const check = () => {
      queued = false;
      if (this.aborter.signal.aborted) return;
      const next = readyEndpointsKey(slices.values());
      if (next === key) return;
      key = next;
      onActivatorsChange();
    };
    this.activatorWatch = new KeptInformer<V1EndpointSlice>(
      'activator endpointslices',
      this.kubeConfig,
      `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
      () => this.discovery.listNamespacedEndpointSlice({ namespace, labelSelector }, abortable),
      labelSelector,
      this.watchBackoff,
      this.logger,
      (slice, deleted) => {
        const name = slice.metadata?.name;
        if (!name) return;
        if (deleted) slices.delete(name);
        else slices.set(name, slice);
        if (queued) return;
        queued = true;
        queueMicrotask(check);
      },
    );
    await this.activatorWatch.start();
  }

  /** Stops the activator watch. */
  async stop(): Promise<void> {
    this.aborter.abort();
    await this.activatorWatch?.stop();
  }

  /** Probes the revision's public URL until the activator answers there (`scaler.go` activatorProbe). */
  activatorInPath(rev: RevisionRef): Promise<boolean> {
    return probeActivatorInPath(this.publicUrl(rev), this.probe);
  }

  /** Creates, replaces and deletes the owned slices so they are exactly `desired`; unchanged ones are not touched. */
  private async writeSlices(
    rev: RevisionRef,
    desired: DesiredSlice[],
    owned: readonly V1EndpointSlice[],
  ): Promise<void> {
    const { namespace } = rev;
    const byName = new Map(owned.map((s) => [s.metadata?.name ?? '', s]));
    if (desired.length === 0) {
      // No endpoint anywhere: keep one slice with none, reusing an owned one when there is one.
      const keep = [...owned].sort((a, b) =>
        (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
      )[0];
      desired = [
        keep
          ? {
              name: keep.metadata!.name!,
              addressType: keep.addressType,
              ports: canonicalPorts(keep.ports),
              endpoints: [],
            }
          : { name: `${rev.name}-ipv4`, addressType: 'IPv4', ports: [], endpoints: [] },
      ];
    }
    for (const d of desired) {
      const existing = byName.get(d.name);
      byName.delete(d.name);
      if (existing && sameSlice(rev, existing, d)) continue;
      const body: V1EndpointSlice = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: d.name,
          namespace,
          labels: { ...(existing?.metadata?.labels ?? {}), ...publicLabels(rev) },
          ...(existing?.metadata?.resourceVersion
            ? { resourceVersion: existing.metadata.resourceVersion }
            : {}),
        },
        addressType: d.addressType,
        ports: d.ports,
        endpoints: d.endpoints,
      };
      if (existing) await this.discovery.replaceNamespacedEndpointSlice({ namespace, name: d.name, body });
      else await this.discovery.createNamespacedEndpointSlice({ namespace, body });
    }
    for (const [name, stale] of byName) {
      try {
        await this.discovery.deleteNamespacedEndpointSlice({
          namespace,
          name,
          body: { preconditions: { resourceVersion: stale.metadata?.resourceVersion } },
        });
      } catch (err) {
        // Already gone is what we wanted.
        if (apiStatusOf(err) !== 404) throw err;
      }
    }
  }

  /** Runs `op` until it succeeds, retrying conflicts and transient failures per the retry policy. */
  private async retrying(code: ActuatorErrorCode, rev: RevisionRef, what: string, op: () => Promise<void>) {
    const backoff = new Backoff(this.retry);
    for (let attempt = 1; ; attempt++) {
      try {
        await op();
        return;
      } catch (err) {
        const failure = classify(err);
        if (failure === 'permanent' || attempt >= this.retry.attempts) {
          throw new ActuatorError(
            code,
            rev,
            `could not ${what} (${describeApiError(err)}${failure === 'permanent' ? '' : `, ${attempt} attempts`})`,
            { cause: err },
          );
        }
        const delayMs = backoff.next();
        this.logger.debug({ err, attempt, failure, retryInMs: delayMs }, `${what} failed; retrying`);
        await this.sleep(delayMs);
      }
    }
  }
}
