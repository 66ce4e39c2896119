/**
 * The Kubernetes actuator: scales a revision's Deployment through its `scale` subresource and writes the
 * EndpointSlices of its public Service, so traffic reaches the activator (Proxy) or the Pods (Serve).
 * Mirrors `pkg/reconciler/autoscaling/kpa/scaler.go` (scale, activator probe) and
 * `pkg/reconciler/serverlessservice/serverlessservice.go` (public endpoints), writing EndpointSlices
 * where Knative writes Endpoints (deprecated since Kubernetes 1.33). Which endpoints the public slices
 * get, and which writes make them so, is worked out in `public-endpoints.ts`; this file makes the API
 * calls, with their retries, and keeps the activator watch.
 */
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
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
import { POD_DELETION_COST_ANNOTATION } from './pod-deletion-cost.js';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  planPublicSlices,
  publicEndpoints,
  readyEndpointsKey,
  SERVICE_NAME_LABEL,
  type SlicePlan,
} from './public-endpoints.js';

export { REVISION_LABEL, SERVICE_TYPE_LABEL } from '@zerogate/core/kubernetes';
export {
  chooseActivatorSubset,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
} from './public-endpoints.js';

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

/**
 * Drives revisions on Kubernetes. Every write is idempotent: the current state is read first and nothing
 * is written when it already matches, so the decider may repeat a decision every tick at the cost of
 * reads only. Failed calls are retried per {@link RetryPolicy}; a conflict re-reads before writing again.
 */
export class KubernetesActuator implements Actuator {
  private readonly kubeConfig: KubeConfig;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
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
    this.core = kubeConfig.makeApiClient(CoreV1Api);
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
   * Sets the Pod's `controller.kubernetes.io/pod-deletion-cost` annotation with one merge patch (RBAC:
   * `patch` on pods), which the ReplicaSet controller ranks Pods by when it scales down. One call, not
   * retried: the costs are written again on a later scrape (`pod-deletion-cost.ts`). A Pod already gone
   * (404) is fine: it needs no cost.
   */
  async setPodDeletionCost(namespace: string, pod: string, cost: number): Promise<void> {
    if (!(Number.isSafeInteger(cost) && Math.abs(cost) <= 2_147_483_647)) {
      throw new RangeError(`pod deletion cost must be a 32-bit integer, got ${cost}`);
    }
    try {
      await this.core.patchNamespacedPod(
        {
          namespace,
          name: pod,
          body: { metadata: { annotations: { [POD_DELETION_COST_ANNOTATION]: String(cost) } } },
        },
        MERGE_PATCH,
      );
    } catch (err) {
      if (apiStatusOf(err) === 404) return;
      throw new Error(`could not annotate Pod ${namespace}/${pod} (${describeApiError(err)})`, {
        cause: err,
      });
    }
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
        const { effective, slices } = publicEndpoints(
          rev,
          mode,
          numActivators,
          privateSlices.items,
          activatorSlices.items,
        );
        if (effective !== mode) {
          this.logger.debug(
            { revision: `${namespace}/${name}`, mode, effective },
            'overriding the requested mode',
          );
        }
        await this.writeSlices(rev, planPublicSlices(rev, slices, owned.items));
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

  /** Makes the writes of `plan` (creates and replaces, then deletes); a slice already gone counts as deleted. */
  private async writeSlices(rev: RevisionRef, plan: SlicePlan): Promise<void> {
    const { namespace } = rev;
    for (const { op, body } of plan.writes) {
      const name = body.metadata!.name!;
      if (op === 'replace') await this.discovery.replaceNamespacedEndpointSlice({ namespace, name, body });
      else await this.discovery.createNamespacedEndpointSlice({ namespace, body });
    }
    for (const { name, resourceVersion } of plan.deletions) {
      try {
        await this.discovery.deleteNamespacedEndpointSlice({
          namespace,
          name,
          body: { preconditions: { resourceVersion } },
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
