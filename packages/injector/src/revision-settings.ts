/**
 * What a Pod says about its revision: whether it opted in, the revision it belongs to, and the
 * per-revision settings Knative keeps in the Revision spec, here read from the Pod's annotations.
 */
import { REVISION_LABEL } from '@zerogate/core/kubernetes';
import { revisionNameProblem } from './knative-names.js';

export { REVISION_LABEL } from '@zerogate/core/kubernetes';

/** The opt-in label; only the value {@link INJECT_ENABLED} injects. */
export const INJECT_LABEL = 'zerogate.dev/inject';
export const INJECT_ENABLED = 'enabled';
/** Names the revision when {@link REVISION_LABEL} is absent. */
export const ZEROGATE_REVISION_LABEL = 'zerogate.dev/revision';
/** The last resort for the revision name: the common `app` label. */
export const APP_LABEL = 'app';
export const SERVICE_LABEL = 'serving.knative.dev/service';
export const CONFIGURATION_LABEL = 'serving.knative.dev/configuration';

/** Where the revision name is looked for, first match wins. */
const REVISION_SOURCES = [REVISION_LABEL, ZEROGATE_REVISION_LABEL, APP_LABEL] as const;

/** The annotations the injector reads (Knative keeps these in the Revision spec). */
export const ANNOTATIONS = {
  containerConcurrency: 'zerogate.dev/container-concurrency',
  timeoutSeconds: 'zerogate.dev/timeout-seconds',
  responseStartTimeoutSeconds: 'zerogate.dev/response-start-timeout-seconds',
  idleTimeoutSeconds: 'zerogate.dev/idle-timeout-seconds',
  queueProxy: 'zerogate.dev/queue-proxy',
} as const;
/**
 * Where a revision's queue-proxy contract runs, from {@link ANNOTATIONS}.queueProxy: `sidecar` (the
 * default) injects the queue-proxy; `in-process` injects none, for an app that carries the contract
 * itself (`@zerogate/in-process`).
 */
export const QUEUE_PROXY_MODES = ['sidecar', 'in-process'] as const;
/** One of {@link QUEUE_PROXY_MODES}. */
export type QueueProxyMode = (typeof QUEUE_PROXY_MODES)[number];
/** Annotations copied onto the Revision for the autoscaler, untouched. */
export const AUTOSCALING_PREFIX = 'autoscaling.knative.dev/';
/** The prefix of Zerogate's annotations. */
export const ZEROGATE_PREFIX = 'zerogate.dev/';

/** Knative's `container-concurrency-max-limit` default. */
export const MAX_CONTAINER_CONCURRENCY = 1000;
/** The queue-proxy's cap on every timeout (`REVISION_TIMEOUT_SECONDS` and the others). */
export const MAX_TIMEOUT_SECONDS = 3600;
/** Knative's `revision-timeout-seconds` default. */
export const DEFAULT_TIMEOUT_SECONDS = 300;

/** Which revision a Pod belongs to. */
export interface RevisionIdentity {
  readonly name: string;
  /** The label the name came from; anything but {@link REVISION_LABEL} means the Pod gets that label added. */
  readonly source: (typeof REVISION_SOURCES)[number];
  /** `serving.knative.dev/service`, '' when absent. */
  readonly service: string;
  /** `serving.knative.dev/configuration`, '' when absent. */
  readonly configuration: string;
}

/** The per-revision settings of the queue-proxy and of the Revision object. */
export interface RevisionSettings {
  readonly containerConcurrency: number;
  /** Total request timeout; 0 = none. */
  readonly timeoutSeconds: number;
  /** 0 = off. */
  readonly responseStartTimeoutSeconds: number;
  /** 0 = off. */
  readonly idleTimeoutSeconds: number;
  /** Sidecar or in-process. */
  readonly queueProxy: QueueProxyMode;
  /**
   * The Pod's annotations the Revision carries for others: `autoscaling.knative.dev/*` for the autoscaler,
   * and the `zerogate.dev/*` ones other than the injector's own for the activator (how it holds and wakes
   * the revision).
   */
  readonly revisionAnnotations: Readonly<Record<string, string>>;
}

type StringMap = Readonly<Record<string, unknown>> | undefined;

/** True when the Pod carries `zerogate.dev/inject: enabled`. */
export function optedIn(labels: StringMap): boolean {
  return labels?.[INJECT_LABEL] === INJECT_ENABLED;
}

/**
 * The Pod's revision: {@link REVISION_LABEL}, else {@link ZEROGATE_REVISION_LABEL}, else {@link APP_LABEL}.
 * Returns a problem (the Pod cannot be wired to a revision) when none is set or the name cannot name a
 * Service.
 */
export function readRevisionIdentity(labels: StringMap): RevisionIdentity | { problem: string } {
  for (const source of REVISION_SOURCES) {
    const value = labels?.[source];
    if (typeof value !== 'string' || value === '') continue;
    const problem = revisionNameProblem(value);
    if (problem) return { problem: `revision name ${JSON.stringify(value)} (label ${source}) ${problem}` };
    const text = (key: string) => (typeof labels?.[key] === 'string' ? (labels[key] as string) : '');
    return { name: value, source, service: text(SERVICE_LABEL), configuration: text(CONFIGURATION_LABEL) };
  }
  return { problem: `no revision label: set ${REVISION_LABEL}, ${ZEROGATE_REVISION_LABEL} or ${APP_LABEL}` };
}

/** Reads a whole number of at most `max` from an annotation; undefined when absent. */
function wholeNumber(
  annotations: StringMap,
  key: string,
  max: number,
  problems: string[],
): number | undefined {
  const value = annotations?.[key];
  if (value === undefined) return undefined;
  // Strict: "1.0", " 5", "+3" and "1e2" are rejected rather than guessed at.
  if (typeof value !== 'string' || !/^\d{1,10}$/.test(value) || Number(value) > max) {
    problems.push(`annotation ${key} must be a whole number from 0 to ${max}, got ${JSON.stringify(value)}`);
    return undefined;
  }
  return Number(value);
}

/**
 * Reads the revision settings from the Pod's annotations, with Knative's defaults for those absent.
 * Returns every problem found (each naming its annotation) instead when a value is malformed or out of
 * range, a per-phase timeout exceeds the total one (Knative's Revision validation), or the queue-proxy
 * mode is not one of {@link QUEUE_PROXY_MODES}.
 */
export function readRevisionSettings(annotations: StringMap): RevisionSettings | { problems: string[] } {
  const problems: string[] = [];
  const cc = wholeNumber(annotations, ANNOTATIONS.containerConcurrency, MAX_CONTAINER_CONCURRENCY, problems);
  const timeout = wholeNumber(annotations, ANNOTATIONS.timeoutSeconds, MAX_TIMEOUT_SECONDS, problems);
  const timeoutSeconds = timeout ?? DEFAULT_TIMEOUT_SECONDS;
  const phase = (key: string): number => {
    const n = wholeNumber(annotations, key, MAX_TIMEOUT_SECONDS, problems) ?? 0;
    if (timeoutSeconds > 0 && n > timeoutSeconds) {
      problems.push(
        `annotation ${key} (${n}) must not exceed the total timeout ${ANNOTATIONS.timeoutSeconds} (${timeoutSeconds})`,
      );
    }
    return n;
  };
  const responseStartTimeoutSeconds = phase(ANNOTATIONS.responseStartTimeoutSeconds);
  const idleTimeoutSeconds = phase(ANNOTATIONS.idleTimeoutSeconds);
  const mode = annotations?.[ANNOTATIONS.queueProxy] ?? 'sidecar';
  if (!QUEUE_PROXY_MODES.includes(mode as QueueProxyMode)) {
    problems.push(
      `annotation ${ANNOTATIONS.queueProxy} must be one of ${QUEUE_PROXY_MODES.join(', ')}, got ${JSON.stringify(mode)}`,
    );
  }
  if (problems.length > 0) return { problems };

  const revisionAnnotations: Record<string, string> = {};
  const own = new Set<string>(Object.values(ANNOTATIONS));
  for (const [k, v] of Object.entries(annotations ?? {})) {
    if (typeof v !== 'string' || own.has(k)) continue;
    if (k.startsWith(AUTOSCALING_PREFIX) || k.startsWith(ZEROGATE_PREFIX)) revisionAnnotations[k] = v;
  }
  return {
    containerConcurrency: cc ?? 0,
    timeoutSeconds,
    responseStartTimeoutSeconds,
    idleTimeoutSeconds,
    queueProxy: mode as QueueProxyMode,
    revisionAnnotations,
  };
}
