/**
 * Creates a revision's objects (see `revision-objects.ts`) when its Pods are admitted: each is created
 * and an existing one (409) is left alone, so every Pod may ask again. The calls of one admission share
 * a deadline; past it, or on any failure, the Pod is still admitted and the caller gets warnings, since
 * a slow or failing API server must not stop Pods from starting.
 */
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1OwnerReference,
} from '@kubernetes/client-node';
import type { Logger } from '@zerogate/core';
import {
  abortableRequests,
  apiStatusOf,
  describeApiError,
  isRecord,
  privateServiceName,
  REVISIONS,
} from '@zerogate/core/kubernetes';
import type { ServiceRef } from './config.js';
import {
  privateService,
  publicService,
  type RevisionObject,
  type RevisionWiringSpec,
  revisionObject,
} from './revision-objects.js';
import type { RevisionIdentity, RevisionSettings } from './revision-settings.js';

/** Options of {@link RevisionWiring}. */
export interface RevisionWiringOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Bound on all the calls one {@link RevisionWiring.ensure} makes. */
  readonly timeoutMs: number;
  /** The activator's Service, whose absence is worth a warning when a revision is first wired. */
  readonly activatorService?: ServiceRef | undefined;
  /** How long a wired revision is trusted to still be wired (default 60 s); a later Pod checks again. */
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
}

/** What one admitted Pod asks for. */
export interface WiringRequest {
  readonly namespace: string;
  readonly revision: RevisionIdentity;
  readonly settings: RevisionSettings;
  readonly h2c: boolean;
  /** The app's serving port, which the Services of an in-process revision target. */
  readonly userPort: number;
  /** The Deployment owning the Pod; it becomes the owner of the objects. */
  readonly deployment: string | undefined;
}

/** Entries kept at most in the wired-revision cache; past it the cache starts over. */
const MAX_CACHED = 10_000;

/** The deadline passed: the answer goes out with a warning and the calls are aborted. */
class DeadlineError extends Error {
  constructor(ms: number) {
    super(`the Kubernetes API did not answer within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** The Revision fields the activator reads, with a Revision's defaults for absent ones. */
function revisionNumbers(spec: unknown): Record<string, number> {
  const s = isRecord(spec) ? spec : {};
  const num = (k: string, fallback: number) => (typeof s[k] === 'number' ? (s[k] as number) : fallback);
  return {
    containerConcurrency: num('containerConcurrency', 0),
    timeoutSeconds: num('timeoutSeconds', 300),
    responseStartTimeoutSeconds: num('responseStartTimeoutSeconds', 0),
    idleTimeoutSeconds: num('idleTimeoutSeconds', 0),
  };
}

/**
 * Makes sure each admitted Pod's revision has its Revision, private Service and public Service. A revision
 * wired recently with the same settings is not asked about again; Pods of one revision admitted at once
 * share one round of calls. Never on dry-run admissions: the caller decides.
 */
export class RevisionWiring {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly activatorService: ServiceRef | undefined;
  private readonly cacheTtlMs: number;
  private readonly now: () => number;
  /** Wired revisions (`namespace/name`): the settings they were wired with and until when that is trusted. */
  private readonly wired = new Map<string, { fingerprint: string; until: number }>();
  private readonly inFlight = new Map<string, Promise<string[]>>();

  constructor(options: RevisionWiringOptions) {
    if (!options.kubeConfig?.getCurrentCluster()) {
      throw new TypeError('RevisionWiring option kubeConfig must have a current cluster');
    }
    if (!(options.timeoutMs > 0)) throw new RangeError('RevisionWiring option timeoutMs must be > 0');
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.apps = options.kubeConfig.makeApiClient(AppsV1Api);
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs;
    this.activatorService = options.activatorService;
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates whatever of the revision's objects is missing, within `timeoutMs` (or `budgetMs` when
   * shorter). Never rejects: resolves with the warnings for the admission response (none when all is
   * in place).
   */
  ensure(request: WiringRequest, budgetMs = this.timeoutMs): Promise<string[]> {
    const key = `${request.namespace}/${request.revision.name}`;
    const fingerprint = JSON.stringify([
      request.revision,
      request.settings,
      request.h2c,
      request.userPort,
      request.deployment,
    ]);
    const cached = this.wired.get(key);
    if (cached && cached.fingerprint === fingerprint && cached.until > this.now()) return Promise.resolve([]);
    const flightKey = `${key}\0${fingerprint}`;
    let flight = this.inFlight.get(flightKey);
    if (!flight) {
      flight = this.run(request, Math.min(budgetMs, this.timeoutMs)).then((outcome) => {
        this.inFlight.delete(flightKey);
        if (outcome.complete) {
          if (this.wired.size >= MAX_CACHED) this.wired.clear();
          this.wired.set(key, { fingerprint, until: this.now() + this.cacheTtlMs });
        }
        return outcome.warnings;
      });
      this.inFlight.set(flightKey, flight);
    }
    return flight;
  }

  /** Forgets which revisions are wired, so the next Pod of each checks again. */
  forget(): void {
    this.wired.clear();
  }

  private async run(
    request: WiringRequest,
    budgetMs: number,
  ): Promise<{ complete: boolean; warnings: string[] }> {
    const aborter = new AbortController();
    const options = abortableRequests(aborter.signal);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        aborter.abort();
        reject(new DeadlineError(budgetMs));
      }, budgetMs);
    });
    const where = `${request.namespace}/${request.revision.name}`;
    try {
      return await Promise.race([this.wire(request, options, aborter.signal), deadline]);
    } catch (err) {
      // Each call's own failure is a warning already: what gets here is the deadline (or a bug).
      this.logger.warn({ err, revision: where }, 'wiring the revision failed');
      const reason = err instanceof DeadlineError ? err.message : describeApiError(err);
      return {
        complete: false,
        warnings: [`${reason}; revision ${where} may lack its Services or Revision (a later Pod retries)`],
      };
    } finally {
      clearTimeout(timer);
      aborter.abort();
    }
  }

  private async wire(
    request: WiringRequest,
    options: ReturnType<typeof abortableRequests>,
    signal: AbortSignal,
  ): Promise<{ complete: boolean; warnings: string[] }> {
    const { namespace } = request;
    const where = `${namespace}/${request.revision.name}`;
    const warnings: string[] = [];
    const failed: string[] = [];
    let reason = '';
    const fail = (what: string, err: unknown) => {
      // Past the deadline the answer is gone and every aborted call fails: one warning said it all.
      if (signal.aborted) return;
      this.logger.warn({ err, revision: where }, `could not ${what}`);
      failed.push(what);
      reason ||= describeApiError(err);
    };

    let owner: V1OwnerReference | undefined;
    if (request.deployment) {
      try {
        const d = await this.apps.readNamespacedDeployment({ namespace, name: request.deployment }, options);
        if (d.metadata?.uid) {
          owner = {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: request.deployment,
            uid: d.metadata.uid,
          };
        }
      } catch (err) {
        // Not found: the ReplicaSet was not a Deployment's after all; the objects then have no owner.
        if (apiStatusOf(err) !== 404) fail(`read Deployment ${namespace}/${request.deployment}`, err);
      }
    }
    const spec: RevisionWiringSpec = { ...request, owner };

    const createService = async (body: ReturnType<typeof publicService>) => {
      const name = body.metadata?.name ?? '';
      try {
        await this.core.createNamespacedService({ namespace, body }, options);
        this.logger.info({ namespace, service: name }, 'created Service');
      } catch (err) {
        if (apiStatusOf(err) !== 409) fail(`create Service ${namespace}/${name}`, err);
      }
    };
    const createRevision = async (body: RevisionObject) => {
      const name = body.metadata.name;
      try {
        await this.custom.createNamespacedCustomObject({ ...REVISIONS, namespace, body }, options);
        this.logger.info({ namespace, revision: name }, 'created Revision');
        return;
      } catch (err) {
        if (apiStatusOf(err) !== 409) {
          fail(`create Revision ${namespace}/${name}`, err);
          return;
        }
      }
      // It exists: a different setting in this Pod would be ignored by the activator and the autoscaler.
      try {
        const existing = (await this.custom.getNamespacedCustomObject(
          { ...REVISIONS, namespace, name },
          options,
        )) as { spec?: unknown };
        const have = revisionNumbers(existing.spec);
        const differ = Object.entries(body.spec).filter(([k, v]) => have[k] !== v);
        if (differ.length > 0) {
          warnings.push(
            `Revision ${namespace}/${name} already exists with ` +
              `${differ.map(([k, v]) => `${k} ${have[k]} (this Pod: ${v})`).join(', ')}; the activator and ` +
              'the autoscaler use the Revision: give changed settings a new revision name',
          );
        }
      } catch (err) {
        fail(`read Revision ${namespace}/${name}`, err);
      }
    };
    const checkActivator = async () => {
      const a = this.activatorService;
      if (!a) return;
      try {
        await this.core.readNamespacedService({ namespace: a.namespace, name: a.name }, options);
      } catch (err) {
        // Advice only: the revision's own objects are what the answer is about.
        if (apiStatusOf(err) === 404) {
          warnings.push(
            `the activator Service ${a.namespace}/${a.name} does not exist: requests to revision ${where} ` +
              'at zero Pods will find nobody to hold them',
          );
        } else {
          this.logger.debug({ err }, `could not check the activator Service ${a.namespace}/${a.name}`);
        }
      }
    };

    await Promise.all([
      createRevision(revisionObject(spec)),
      createService(privateService(spec)),
      createService(publicService(spec)),
      checkActivator(),
    ]);
    if (failed.length > 0) {
      warnings.unshift(`could not ${failed.join(', ')} (${reason}); a later Pod of the revision retries`);
      return { complete: false, warnings };
    }
    this.logger.debug(
      { revision: where, private: privateServiceName(request.revision.name) },
      'revision wired',
    );
    return { complete: true, warnings };
  }
}
