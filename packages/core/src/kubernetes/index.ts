/**
 * Kubernetes helpers shared by the activator, the autoscaler and the injector: Knative's labels, informers kept running
 * through failures, list requests that a stop can abort, and the revision watch (`revision-watch.ts`) that merges
 * informers on EndpointSlices, Endpoints and Revisions into one state per revision. A subpath of its own (`@zerogate/core/kubernetes`)
 * so that components without Kubernetes never load the client.
 */
import {
  type ConfigurationOptions,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Observable,
  Watch,
} from '@kubernetes/client-node';
import { Backoff, type WatchBackoff } from '../backoff.js';
import type { Logger } from '../logger.js';

/** The label naming the revision on its Services, Endpoints and EndpointSlices. */
export const REVISION_LABEL = 'serving.knative.dev/revision';
/** The label telling a revision's public Service (`Public`, the activator or the Pods) from its private one. */
export const SERVICE_TYPE_LABEL = 'networking.internal.knative.dev/serviceType';
/** Selects a revision's private endpoints (its Pods). */
export const PRIVATE_SELECTOR = `${REVISION_LABEL},${SERVICE_TYPE_LABEL}=Private`;
/** Selects a revision's public endpoints (the activators in Proxy mode, the Pods in Serve mode). */
export const PUBLIC_SELECTOR = `${REVISION_LABEL},${SERVICE_TYPE_LABEL}=Public`;
/** Knative's Revision resource, for the custom-objects API. */
export const REVISIONS = { group: 'serving.knative.dev', version: 'v1', plural: 'revisions' } as const;

/** Restart delays of a failed informer, now in the core's root; re-exported here for the informers' users. */
export { DEFAULT_BACKOFF, resolveBackoff, type WatchBackoff } from '../backoff.js';

/**
 * Request options that attach `signal` to a generated API call. The list calls take no signal; a request
 * middleware attaches one (the shape `setHeaderOptions` uses), so a stop can abort a list in flight.
 */
export function abortableRequests(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/** True for a plain object. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The list call behind an informer. */
export type ListFn<T extends KubernetesObject> = () => Promise<KubernetesListObject<T>>;

/**
 * A Watch that does nothing once closed. The client's informer starts a new watch after a list or a
 * reconnect delay without checking whether it was stopped meanwhile, which would leak a connection.
 */
class ClosableWatch extends Watch {
  private closed = false;
  private current: AbortController | undefined;

  override async watch(...args: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    // Never calling `done` leaves the informer idle for good.
    if (this.closed) return new AbortController();
    const controller = await super.watch(...args);
    if (this.closed) controller.abort();
    else this.current = controller;
    return controller;
  }

  close(): void {
    this.closed = true;
    this.current?.abort();
  }
}

/**
 * One informer kept running: the client's informer emits `error` and stops on most failures (a dropped
 * watch, a failed list), so it is restarted with backoff. A restart resumes the watch from the last
 * resourceVersion (nothing lost or repeated); when that is too old the API server answers 410 and the
 * informer relists, reporting what changed meanwhile as adds, updates and deletes.
 */
export class KeptInformer<T extends KubernetesObject> {
  private readonly watch: ClosableWatch;
  private readonly informer: ListWatch<T>;
  private readonly backoff: Backoff;
  private stopped = false;
  private failedThisAttempt = false;
  private recoveryLogged = true;
  private healthySince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly what: string,
    kubeConfig: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    labelSelector: string | undefined,
    backoff: WatchBackoff,
    private readonly logger: Logger,
    onChange: (obj: T, deleted: boolean) => void,
  ) {
    this.backoff = new Backoff({ ...backoff, resetAfterMs: backoff.maxMs });
    this.watch = new ClosableWatch(kubeConfig);
    // The informer waits 1 s doubling to 30 s between clean reconnects of a quiet watch; cap that at our
    // maximum, and make the wait end silently on stop.
    const delayFn = (ms: number) =>
      new Promise<void>((resolve) => {
        if (!this.stopped) this.sleepTimer = setTimeout(resolve, Math.min(ms, backoff.maxMs));
      });
    this.informer = new ListWatch<T>(path, this.watch, list, false, labelSelector, undefined, { delayFn });
    const guarded = (deleted: boolean) => (obj: T) => {
      if (this.stopped) return;
      try {
        onChange(obj, deleted);
      } catch (err) {
        // A throw here would end up swallowed by the client's watch parser or abort its list handling.
        this.logger.error({ err, watch: this.what }, 'failed to handle a watch event');
      }
    };
    this.informer.on('add', guarded(false));
    this.informer.on('update', guarded(false));
    this.informer.on('delete', guarded(true));
    this.informer.on('error', (err: unknown) => this.onError(err));
  }

  /** The first attempt: resolves once listed and watching, or once it failed (retries then run on their own). */
  start(): Promise<void> {
    return this.attempt();
  }

  /** Stops the informer, its watch and any pending restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.sleepTimer);
    this.watch.close();
    await this.informer.stop();
  }

  private attempt(): Promise<void> {
    this.failedThisAttempt = false;
    const run = this.informer.start().then(
      () => {
        if (this.stopped || this.failedThisAttempt) return;
        this.healthySince = Date.now();
        if (this.backoff.failures > 0 && !this.recoveryLogged) {
          this.recoveryLogged = true;
          this.logger.info({ watch: this.what, failures: this.backoff.failures }, 'watch resumed');
        }
      },
      (err: unknown) => this.onError(err),
    );
    this.running = run;
    return run;
  }

  private onError(err: unknown): void {
    // Stopping aborts the watch, which the client reports as an error too.
    if (this.stopped) return;
    this.failedThisAttempt = true;
    if (this.healthySince !== undefined) this.backoff.ran(Date.now() - this.healthySince);
    this.healthySince = undefined;
    const delayMs = this.backoff.next();
    const failures = this.backoff.failures;
    if (failures === 1) {
      this.recoveryLogged = false;
      this.logger.warn({ err, watch: this.what, retryInMs: delayMs }, 'watch failed; retrying with backoff');
    } else {
      this.logger.debug({ err, watch: this.what, failures, retryInMs: delayMs }, 'watch failed again');
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.restart(), delayMs);
  }

  private async restart(): Promise<void> {
    this.timer = undefined;
    // Never two starts at once: the informer keeps one request handle.
    await this.running;
    if (!this.stopped) await this.attempt();
  }
}

export * from './api-errors.js';
export * from './change-batcher.js';
export * from './names.js';
export * from './revision-watch.js';

/**
 * Reads a Revision with `parse`, which notes each field it had to replace by its default in `problems`;
 * a Revision with any such field is logged once, as a warning, and used all the same.
 */
export function readRevision<R extends KubernetesObject, T>(
  revision: R,
  parse: (revision: R, problems: string[]) => T,
  logger: Logger,
): T {
  const problems: string[] = [];
  const result = parse(revision, problems);
  if (problems.length > 0) {
    logger.warn(
      {
        revision: `${revision.metadata?.namespace}/${revision.metadata?.name}`,
        resourceVersion: revision.metadata?.resourceVersion,
        problems,
      },
      'malformed Revision; using defaults for its bad fields',
    );
  }
  return result;
}
