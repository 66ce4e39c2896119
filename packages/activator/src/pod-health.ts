/**
 * Whether a revision's Pods show it cannot become ready (docs/activator.md §10.1), from the Pods'
 * status and the Revision's `Ready` condition: the rules the Kubernetes endpoint source applies. Pure,
 * so each rule is tested on its own.
 */

/** The part of a container status the rules read (core/v1 `ContainerStatus`). */
export interface ContainerStatusFacts {
  readonly name?: string;
  readonly restartCount?: number;
  readonly state?: {
    readonly waiting?: { readonly reason?: string; readonly message?: string } | undefined;
    readonly running?: object | undefined;
    readonly terminated?: { readonly exitCode?: number; readonly reason?: string } | undefined;
  };
  readonly lastState?: {
    readonly terminated?: { readonly exitCode?: number; readonly reason?: string } | undefined;
  };
}

/** The part of a Pod the rules read. */
export interface PodFacts {
  readonly metadata?: { readonly deletionTimestamp?: unknown } | undefined;
  readonly status?:
    | {
        readonly phase?: string;
        readonly reason?: string;
        readonly message?: string;
        readonly conditions?: readonly {
          readonly type?: string;
          readonly status?: string;
          readonly reason?: string;
          readonly message?: string;
        }[];
        readonly initContainerStatuses?: readonly ContainerStatusFacts[];
        readonly containerStatuses?: readonly ContainerStatusFacts[];
      }
    | undefined;
}

/** One Pod as the rules see it. */
export interface PodHealth {
  /** Starting or running without a failure: it may still serve, so the revision is not failing. */
  readonly live: boolean;
  /** Why it cannot serve, when it cannot. */
  readonly failing: string | undefined;
}

/**
 * Waiting reasons of a container that will not start by itself (the kubelet's back-offs and
 * configuration errors): `ContainerCreating` and `PodInitializing` are a normal start.
 */
export const FAILING_WAITING_REASONS: ReadonlySet<string> = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

/** Longest message kept from the API (a scheduler's message can list every node). */
const MAX_MESSAGE = 200;

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_MESSAGE ? `${oneLine.slice(0, MAX_MESSAGE - 1)}…` : oneLine;
}

function restarts(count: number | undefined): string {
  return count === undefined || count === 0 ? '' : ` (${count} ${count === 1 ? 'restart' : 'restarts'})`;
}

/** Why one container cannot run, or undefined. */
function containerFailure(c: ContainerStatusFacts): string | undefined {
  const name = c.name ?? 'container';
  const waiting = c.state?.waiting;
  if (waiting?.reason !== undefined && FAILING_WAITING_REASONS.has(waiting.reason)) {
    const exit = c.lastState?.terminated?.exitCode;
    if (waiting.reason === 'CrashLoopBackOff' && exit !== undefined) {
      return `${name} exited with code ${exit}${restarts(c.restartCount)}: CrashLoopBackOff`;
    }
    return `${name} ${waiting.reason}${waiting.message ? `: ${clip(waiting.message)}` : ''}${restarts(c.restartCount)}`;
  }
  const terminated = c.state?.terminated;
  if (
    terminated !== undefined &&
    terminated.exitCode !== undefined &&
    terminated.exitCode !== 0 &&
    (c.restartCount ?? 0) > 0
  ) {
    return `${name} exited with code ${terminated.exitCode}${restarts(c.restartCount)}`;
  }
  return undefined;
}

/**
 * One Pod's health: failing when a container waits in a back-off or configuration error
 * ({@link FAILING_WAITING_REASONS}), ended with a non-zero exit after restarts, the Pod failed, or the
 * scheduler found no node for it; live when it is starting or running without any of those and is
 * not being deleted.
 */
export function podHealth(pod: PodFacts): PodHealth {
  const status = pod.status ?? {};
  if (status.phase === 'Failed') {
    const why = status.reason ?? 'Failed';
    return { live: false, failing: `Pod ${why}${status.message ? `: ${clip(status.message)}` : ''}` };
  }
  for (const c of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
    const failing = containerFailure(c);
    if (failing !== undefined) return { live: false, failing };
  }
  const scheduled = status.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return {
      live: false,
      failing: `Unschedulable${scheduled.message ? `: ${clip(scheduled.message)}` : ''}`,
    };
  }
  const deleting = pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
  const live = !deleting && status.phase !== 'Succeeded';
  return { live, failing: undefined };
}

/** The part of a Knative Revision's status the rules read. */
export interface RevisionStatusFacts {
  readonly conditions?: readonly {
    readonly type?: string;
    readonly status?: string;
    readonly reason?: string;
    readonly message?: string;
  }[];
}

/**
 * Why a Knative Revision says it cannot become ready: its `Ready` condition `False`, with the reason
 * and message Knative gives (`ProgressDeadlineExceeded`, `ExitCode1`, `ImagePullBackOff`, …).
 */
export function revisionFailure(status: unknown): string | undefined {
  const conditions = (status as RevisionStatusFacts | undefined)?.conditions;
  if (!Array.isArray(conditions)) return undefined;
  const ready = conditions.find((c) => c?.type === 'Ready');
  if (ready?.status !== 'False') return undefined;
  const reason = typeof ready.reason === 'string' && ready.reason !== '' ? ready.reason : 'not Ready';
  return typeof ready.message === 'string' && ready.message !== ''
    ? `${reason}: ${clip(ready.message)}`
    : reason;
}

/**
 * Whether a revision is failing: some Pod failing, or the Revision not Ready, while none of its Pods is
 * live (starting or running). The failing Pod's reason comes first (Pods sorted by name, for a stable
 * answer), else the Revision's.
 */
export function revisionFailing(
  pods: Iterable<readonly [string, PodHealth]>,
  revision: string | undefined,
): string | undefined {
  let failing: [string, string] | undefined;
  for (const [name, health] of pods) {
    if (health.live) return undefined;
    if (health.failing !== undefined && (failing === undefined || name < failing[0])) {
      failing = [name, health.failing];
    }
  }
  return failing?.[1] ?? revision;
}
