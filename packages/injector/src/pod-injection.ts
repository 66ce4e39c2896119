/**
 * Decides what to do with one Pod and, when it is to be injected, builds the JSON Patch: the queue-proxy
 * as a native sidecar, the app's readiness probe handed over, a preStop hook that waits for the drain,
 * `PORT` and Knative's `K_*` variables, the revision label and a grace period covering the revision
 * timeout (`pkg/reconciler/revision/resources/deploy.go`). A Pod annotated `zerogate.dev/queue-proxy:
 * in-process` gets no sidecar: its app carries the contract (`@zerogate/in-process`), and is given the
 * contract's variables, the kubelet's probe of its own port and the same preStop hook. Pure: no I/O.
 */
import type { V1Container, V1EnvVar, V1Pod, V1Probe } from '@kubernetes/client-node';
import { queueProxyServerTiming } from '@zerogate/core';
import { deploymentName } from '@zerogate/core/kubernetes';
import { IN_PROCESS_ENV, inProcessEnv, QUEUE_PROXY_POD_FIELDS } from '@zerogate/queue-proxy/env';
import type { QueueProxyResources } from './config.js';
import { type JsonPatchOperation, pointer } from './json-patch.js';
import {
  makeQueueProxyContainer,
  QUEUE_PORT_NAMES,
  QUEUE_PORTS,
  QUEUE_PROXY_NAME,
  RESERVED_PORTS,
  WAIT_FOR_DRAIN_PATH,
} from './queue-proxy-container.js';
import { handOverReadinessProbe } from './readiness-handover.js';
import {
  ANNOTATIONS,
  optedIn,
  REVISION_LABEL,
  type RevisionIdentity,
  type RevisionSettings,
  readRevisionIdentity,
  readRevisionSettings,
} from './revision-settings.js';

/** What the sidecar is made of, from the injector's configuration. */
export interface InjectionOptions {
  readonly image: string;
  readonly resources: QueueProxyResources;
  readonly queueProxyLogLevel: string;
  /** Pods of this namespace are never injected. */
  readonly systemNamespace: string;
}

/** The Pod is left as it is: not ours, already injected, or not injectable (then with warnings). */
export interface AdmitUnchanged {
  readonly kind: 'unchanged';
  /** For the log. */
  readonly reason: string;
  readonly warnings: readonly string[];
}

/** The Pod is refused: admitting it, with or without the sidecar, would break it or its revision. */
export interface Deny {
  readonly kind: 'deny';
  readonly message: string;
}

/** The Pod is injected with `patch`; the revision's objects should exist. */
export interface Inject {
  readonly kind: 'inject';
  readonly patch: readonly JsonPatchOperation[];
  readonly revision: RevisionIdentity;
  readonly settings: RevisionSettings;
  readonly h2c: boolean;
  /** The app's serving port (its first containerPort), which an in-process revision's Services target. */
  readonly userPort: number;
  /** The Deployment that owns the Pod (through its ReplicaSet), when there is one. */
  readonly deployment: string | undefined;
  readonly warnings: readonly string[];
}

/** The decision about one Pod. */
export type InjectionPlan = AdmitUnchanged | Deny | Inject;

/** The Pod's grace period when it sets none (Kubernetes' default). */
const DEFAULT_GRACE_SECONDS = 30;
/** The label Deployments put on their Pods; their ReplicaSet is named `<deployment>-<hash>`. */
const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** The preStop hook Knative gives app containers: wait until the queue-proxy has drained. */
function waitForDrain() {
  return { httpGet: { path: WAIT_FOR_DRAIN_PATH, port: QUEUE_PORTS.admin, scheme: 'HTTP' } };
}

function hasEnv(container: V1Container, name: string): boolean {
  return (container.env ?? []).some((e) => e.name === name);
}

/** `container` with the preStop hook and the given variables added where absent. */
function withDrainAndEnv(container: V1Container, env: readonly V1EnvVar[]): V1Container {
  const out: V1Container = { ...container };
  if (!container.lifecycle?.preStop) out.lifecycle = { ...container.lifecycle, preStop: waitForDrain() };
  const missing = env.filter((e) => !hasEnv(container, e.name));
  if (missing.length > 0) out.env = [...(container.env ?? []), ...missing];
  return out;
}

/** The first container declaring a port serves (Knative allows exactly one); its first port is the user port. */
function servingContainer(containers: readonly V1Container[]): number {
  return containers.findIndex((c) => (c.ports?.[0]?.containerPort ?? 0) > 0);
}

/** The first port of any container that the queue-proxy needs, described, or undefined. */
function reservedPortClash(pod: V1Pod): string | undefined {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  for (const c of all) {
    for (const p of c.ports ?? []) {
      if (RESERVED_PORTS.has(p.containerPort)) {
        return (
          `container ${c.name} declares port ${p.containerPort}, which the queue-proxy needs ` +
          `(reserved: ${[...RESERVED_PORTS].join(', ')})`
        );
      }
    }
  }
  return undefined;
}

/**
 * The ports an in-process app serves beside its own, on the numbers of the queue-proxy's: the preStop
 * hook calls `/wait-for-drain` on the admin port and the autoscaler scrapes every Pod's stats port, 9090.
 */
const IN_PROCESS_SIDE_PORTS = {
  admin: QUEUE_PORTS.admin,
  stats: QUEUE_PORTS.autoscalerMetrics,
  metrics: QUEUE_PORTS.userMetrics,
} as const;
const IN_PROCESS_RESERVED: ReadonlySet<number> = new Set(Object.values(IN_PROCESS_SIDE_PORTS));

/**
 * Why the in-process app container `app` (its first port `userPort`) cannot carry the contract in `pod`,
 * or undefined: the stats port must be declared on it (the Pod's ports are what a reader of the Pod, and
 * a network policy, go by) and no other container may take the app's side ports.
 */
function inProcessPortProblem(pod: V1Pod, app: V1Container, userPort: number): string | undefined {
  if (IN_PROCESS_RESERVED.has(userPort)) {
    return (
      `container ${app.name}'s first containerPort is ${userPort}: the first port is the one ` +
      `the revision is served on, and ${[...IN_PROCESS_RESERVED].join(', ')} are the app's side ports`
    );
  }
  const stats = IN_PROCESS_SIDE_PORTS.stats;
  if (!(app.ports ?? []).some((p) => p.containerPort === stats)) {
    return (
      `container ${app.name} declares no containerPort ${stats}: the app serves the ` +
      `autoscaler's stats there (QUEUE_STATS_PORT) and the autoscaler scrapes it; add ` +
      `{ name: ${QUEUE_PORT_NAMES.autoscalerMetrics}, containerPort: ${stats} } to its ports`
    );
  }
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  for (const c of all) {
    if (c === app) continue;
    const clash = (c.ports ?? []).find((p) => IN_PROCESS_RESERVED.has(p.containerPort));
    if (clash) {
      return (
        `container ${c.name} declares port ${clash.containerPort}, which the app ` +
        `${app.name} serves (${[...IN_PROCESS_RESERVED].join(', ')})`
      );
    }
  }
  return undefined;
}

/**
 * The app container's contract variables in in-process mode: those of the queue-proxy's that
 * `@zerogate/in-process` reads, by the queue-proxy's own builder, the Pod's identity from the downward API.
 */
function inProcessContractEnv(
  identity: RevisionIdentity,
  settings: RevisionSettings,
  logLevel: string,
): V1EnvVar[] {
  const values = inProcessEnv({
    revision: { name: identity.name, configuration: identity.configuration, service: identity.service },
    containerConcurrency: settings.containerConcurrency,
    ports: { ...IN_PROCESS_SIDE_PORTS },
    timeouts: {
      revisionSeconds: settings.timeoutSeconds,
      responseStartSeconds: settings.responseStartTimeoutSeconds,
      idleSeconds: settings.idleTimeoutSeconds,
    },
    logging: { level: logLevel },
    serverTiming: queueProxyServerTiming(settings.revisionAnnotations),
  });
  return [
    ...Object.entries(QUEUE_PROXY_POD_FIELDS)
      .filter(([name]) => IN_PROCESS_ENV.includes(name))
      .map(([name, fieldPath]) => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } })),
    ...Object.entries(values).map(([name, value]) => ({ name, value })),
  ];
}

/** `probe`'s timing with a TCP connect to `port` as its action. */
function tcpProbe(probe: V1Probe, port: number): V1Probe {
  const { httpGet: _http, ...timing } = probe;
  return { tcpSocket: { port }, ...timing };
}

/** The Deployment owning the Pod through its ReplicaSet (`<deployment>-<pod-template-hash>`), if any. */
function owningDeployment(pod: V1Pod): string | undefined {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
  const hash = pod.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
  if (owner?.kind !== 'ReplicaSet' || !hash || !owner.name.endsWith(`-${hash}`)) return undefined;
  return owner.name.slice(0, -(hash.length + 1));
}

/**
 * Decides about `pod` (in `namespace`). Pods not opted in, in the system namespace or already carrying a
 * `queue-proxy` container are left unchanged. An opted-in Pod the sidecar cannot front (no revision name,
 * no containerPort, a port the sidecar needs) is admitted unchanged with a warning, unless it carries
 * `serving.knative.dev/revision`: the revision's private Service would then send it traffic on a port where
 * nothing listens, so it is denied. Malformed settings are denied: the Pod asked for limits (concurrency,
 * timeouts) that running it without them would silently drop. So is an in-process Pod whose app container
 * lacks the stats port, or whose ports clash with the app's side ports.
 */
export function planInjection(pod: V1Pod, namespace: string, options: InjectionOptions): InjectionPlan {
  const labels = pod.metadata?.labels;
  if (!optedIn(labels)) return { kind: 'unchanged', reason: 'not opted in', warnings: [] };
  if (namespace === options.systemNamespace) {
    return { kind: 'unchanged', reason: 'in the system namespace', warnings: [] };
  }
  const spec = pod.spec;
  const containers = spec?.containers ?? [];
  const initContainers = spec?.initContainers ?? [];

  const existing =
    initContainers.find((c) => c.name === QUEUE_PROXY_NAME) ??
    containers.find((c) => c.name === QUEUE_PROXY_NAME);
  if (existing) {
    const ours = initContainers.includes(existing) && existing.restartPolicy === 'Always';
    return {
      kind: 'unchanged',
      reason: 'already injected',
      warnings: ours
        ? []
        : [`a container named ${QUEUE_PROXY_NAME} is already present; the Pod is left as it is`],
    };
  }

  const labelled = typeof labels?.[REVISION_LABEL] === 'string';
  const cannotFront = (problem: string): InjectionPlan =>
    labelled
      ? {
          kind: 'deny',
          message:
            `zerogate injector: ${problem}; a Pod labelled ${REVISION_LABEL} without the queue-proxy would get ` +
            `its revision's traffic on port ${QUEUE_PORTS.http}, where nothing listens`,
        }
      : { kind: 'unchanged', reason: problem, warnings: [`${problem}; admitted without the queue-proxy`] };

  // A Pod that asked for in-process mode is refused whatever its labels: admitted as it is, nothing would
  // wire its revision; with a sidecar, it would get what it asked not to have.
  const denyInProcess = (problem: string): InjectionPlan => ({
    kind: 'deny',
    message: `zerogate injector: annotation ${ANNOTATIONS.queueProxy} is in-process, but ${problem}`,
  });

  const identity = readRevisionIdentity(labels);
  if ('problem' in identity) return cannotFront(identity.problem);
  const settings = readRevisionSettings(pod.metadata?.annotations);
  if ('problems' in settings) {
    return { kind: 'deny', message: `zerogate injector: ${settings.problems.join('; ')}` };
  }
  const inProcess = settings.queueProxy === 'in-process';
  const servingIndex = servingContainer(containers);
  if (servingIndex < 0) {
    return inProcess
      ? denyInProcess(
          'no container declares a containerPort: the app container declares its serving port first ' +
            `and the stats port ${IN_PROCESS_SIDE_PORTS.stats}`,
        )
      : cannotFront(
          'no container declares a containerPort, so the queue-proxy has no USER_PORT to forward to',
        );
  }
  const app = containers[servingIndex]!;
  const firstPort = app.ports![0]!;
  const userPort = firstPort.containerPort;
  if (inProcess) {
    const problem = inProcessPortProblem(pod, app, userPort);
    if (problem) return denyInProcess(problem);
    if (spec?.hostNetwork === true) {
      return denyInProcess(
        "the Pod uses the node's network, where the app's fixed side ports would clash between Pods",
      );
    }
  } else {
    const clash = reservedPortClash(pod);
    if (clash) return cannotFront(clash);
    if (spec?.hostNetwork === true) {
      return cannotFront(
        "the Pod uses the node's network, where the queue-proxy's fixed ports would clash between Pods",
      );
    }
  }

  const warnings: string[] = [];
  // Knative's protocol of a revision: its port named h2c (`pkg:apis/networking` ProtocolH2C).
  const h2c = firstPort.name === 'h2c';
  const others = containers.filter((c, i) => i !== servingIndex && (c.ports?.length ?? 0) > 0);
  if (others.length > 0) {
    warnings.push(
      `only container ${app.name}'s port ${userPort} is served${inProcess ? '' : ' through the queue-proxy'}; ` +
        `${others.map((c) => c.name).join(', ')} also declare ports`,
    );
  }
  const port = app.env?.find((e) => e.name === 'PORT');
  if (port && port.value !== String(userPort)) {
    warnings.push(
      `container ${app.name} sets PORT to ${JSON.stringify(port.value ?? '')}, but ` +
        `${inProcess ? "the revision's Services target" : 'the queue-proxy forwards to'} its first containerPort, ${userPort}`,
    );
  }
  const deployment = owningDeployment(pod);
  const expected = deploymentName(identity.name);
  if (deployment === undefined) {
    warnings.push(
      `the Pod is not managed by a Deployment; the autoscaler scales Deployment ${expected}, so revision ` +
        `${identity.name} will not be scaled`,
    );
  } else if (deployment !== expected) {
    warnings.push(
      `the autoscaler scales Deployment ${expected}, but this Pod belongs to Deployment ${deployment}; ` +
        `name the Deployment ${expected} (or change the revision) or revision ${identity.name} will not be scaled`,
    );
  }

  // In-process, the kubelet probes the app's own port as it would probe the queue-proxy's.
  const servingPort = inProcess ? userPort : h2c ? QUEUE_PORTS.h2c : QUEUE_PORTS.http;
  const readiness = handOverReadinessProbe(app, userPort, servingPort);

  // Knative's variables for every user container (`env_var.go`); PORT for the serving one (`deploy.go`).
  const knativeEnv: V1EnvVar[] = [
    { name: 'K_REVISION', value: identity.name },
    { name: 'K_CONFIGURATION', value: identity.configuration },
    { name: 'K_SERVICE', value: identity.service },
  ];
  const appEnv: V1EnvVar[] = [{ name: 'PORT', value: String(userPort) }, ...knativeEnv];
  // Every value is set whole (no appends, no removals), so applying the patch again changes nothing.
  const patch: JsonPatchOperation[] = [];
  let appProbe: V1Probe | undefined;
  if (inProcess) {
    appEnv.push(...inProcessContractEnv(identity, settings, options.queueProxyLogLevel));
    // The app answers the kubelet's probe itself, on any path (an exec probe stays as it is). The kubelet
    // probes over HTTP/1.1, which an h2c server does not speak: its port is probed by a connect instead.
    appProbe = readiness.keepOnApp
      ? app.readinessProbe
      : h2c
        ? tcpProbe(readiness.queueProxyProbe, userPort)
        : readiness.queueProxyProbe;
  } else {
    const sidecar = makeQueueProxyContainer({
      image: options.image,
      resources: options.resources,
      logLevel: options.queueProxyLogLevel,
      systemNamespace: options.systemNamespace,
      revision: identity,
      settings,
      userPort,
      h2c,
      readiness,
      // The Pod's grace period as the patch leaves it (below).
      terminationGraceSeconds: Math.max(
        settings.timeoutSeconds,
        spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
      ),
    });
    patch.push({ op: 'add', path: pointer('spec', 'initContainers'), value: [...initContainers, sidecar] });
    appProbe = readiness.keepOnApp ? app.readinessProbe : undefined;
  }
  containers.forEach((container, i) => {
    let next: V1Container;
    if (i === servingIndex) {
      // Variables the Pod sets itself are kept: they win over the injected ones.
      next = withDrainAndEnv(container, appEnv);
      if (appProbe) next.readinessProbe = appProbe;
      else delete next.readinessProbe;
    } else {
      next = withDrainAndEnv(container, knativeEnv);
    }
    if (JSON.stringify(next) !== JSON.stringify(container)) {
      patch.push({ op: 'replace', path: pointer('spec', 'containers', i), value: next });
    }
  });
  if (identity.source !== REVISION_LABEL) {
    // The private Service selects the revision's Pods by this label.
    patch.push({ op: 'add', path: pointer('metadata', 'labels', REVISION_LABEL), value: identity.name });
  }
  // The app's preStop waits for the drain and requests may run for the whole revision timeout (Knative
  // sets the grace period to timeoutSeconds); a longer grace period set by the owner is kept.
  if (settings.timeoutSeconds > (spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS)) {
    patch.push({
      op: 'add',
      path: pointer('spec', 'terminationGracePeriodSeconds'),
      value: settings.timeoutSeconds,
    });
  }
  return { kind: 'inject', patch, revision: identity, settings, h2c, userPort, deployment, warnings };
}
