/**
 * What the activator learns about each revision, from whichever source is configured (Kubernetes
 * informers or a watched file), behind one interface.
 */

/** One revision's routing facts. */
export interface RevisionInfo {
  readonly namespace: string;
  readonly name: string;
  /** The Knative Service and Configuration of the revision ('' or absent when unknown), for metrics. */
  readonly service?: string | undefined;
  readonly configuration?: string | undefined;
  /** Requests one Pod may run at once; 0 = unlimited. */
  readonly containerConcurrency: number;
  /** Total request timeout (`spec.timeoutSeconds`); 0 = none. */
  readonly timeoutSeconds: number;
  /** 0 = off. */
  readonly responseStartTimeoutSeconds: number;
  /** 0 = off. */
  readonly idleTimeoutSeconds: number;
  /** Pod addresses (`ip:port` of the queue-proxy) that Kubernetes reports ready. */
  readonly ready: readonly string[];
  /** Pod addresses not ready yet: the activator probes them itself. */
  readonly notReady: readonly string[];
  /**
   * Addresses (IPs) of the activators in this revision's path, for subsetting: each activator takes a
   * share of the Pods. Empty = unknown, so this activator uses every Pod.
   */
  readonly activators: readonly string[];
  /**
   * The revision's `zerogate.dev/` annotations (how it is held and woken; revision-settings.ts), absent
   * when it has none.
   */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /**
   * Why the revision cannot become ready now, in a few words (`app exited with code 1 (3 times)`,
   * `user-container CrashLoopBackOff: …`): its Pods crash-loop, cannot start, or are refused. Absent
   * while it is not failing. Requests are refused with it while no Pod is usable (docs/activator.md §10.1).
   */
  readonly failing?: string | undefined;
}

/** The annotation that turns on the waiting page for browsers (docs/activator.md §10.2). */
export const WAITING_PAGE_ANNOTATION = 'zerogate.dev/waiting-page';

/** The prefix of the annotations a source passes on in {@link RevisionInfo.annotations}. */
export const ACTIVATOR_ANNOTATION_PREFIX = 'zerogate.dev/';

/** The `zerogate.dev/` entries of `all`, or undefined when there are none. */
export function activatorAnnotations(
  all: Readonly<Record<string, unknown>> | undefined,
): Readonly<Record<string, string>> | undefined {
  let picked: Record<string, string> | undefined;
  for (const [key, value] of Object.entries(all ?? {})) {
    if (!key.startsWith(ACTIVATOR_ANNOTATION_PREFIX) || typeof value !== 'string') continue;
    picked ??= {};
    picked[key] = value;
  }
  return picked;
}

/** Whether two annotation sets hold the same entries. */
export function sameAnnotations(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined,
): boolean {
  const ak = Object.keys(a ?? {});
  return ak.length === Object.keys(b ?? {}).length && ak.every((k) => a?.[k] === b?.[k]);
}

/** `<namespace>/<name>`, the key of a revision everywhere in the activator. */
export function revisionKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Receives changes from an {@link EndpointSource}. */
export interface EndpointListener {
  /** A revision appeared or changed; `info` is its whole current state. */
  upsert(info: RevisionInfo): void;
  /** A revision is gone. */
  remove(namespace: string, name: string): void;
}

/** A source of {@link RevisionInfo}: started once, delivers the current state then every change. */
export interface EndpointSource {
  /** Starts watching; resolves once the initial state was delivered (or the first attempt failed and retries run). */
  start(listener: EndpointListener): Promise<void>;
  /** Stops watching and releases every watch, timer and file handle. */
  stop(): Promise<void>;
}
