/**
 * The queue-proxy sidecar as Knative's revision reconciler builds it (`pkg/reconciler/revision/resources/queue.go`
 * makeQueueContainer), run as a native sidecar: an init container with `restartPolicy: Always`, which
 * starts before the app and stops after it. `QUEUE_NATIVE_SIDECAR=true` tells the queue-proxy so: the
 * kubelet signals it only after the app containers exited, so the app's preStop `/wait-for-drain` starts
 * the drain itself instead of waiting for a SIGTERM.
 */
import type { V1Container, V1EnvVar, V1SecurityContext } from '@kubernetes/client-node';
import { queueProxyServerTiming } from '@zerogate/core';
import { QUEUE_PROXY_POD_FIELDS, queueProxyEnv } from '@zerogate/queue-proxy/env';
import type { QueueProxyResources } from './config.js';
import type { ReadinessHandover } from './readiness-handover.js';
import type { RevisionIdentity, RevisionSettings } from './revision-settings.js';

/** The sidecar's container name, Knative's (`QueueContainerName`); its presence marks a Pod as injected. */
export const QUEUE_PROXY_NAME = 'queue-proxy';

/** The queue-proxy's ports (`pkg/networking`): Knative's numbers and container port names. */
export const QUEUE_PORTS = {
  /** Serving port of HTTP/1 revisions (`BackendHTTPPort`). */
  http: 8012,
  /** Serving port of h2c revisions (`BackendHTTP2Port`). */
  h2c: 8013,
  /** TLS serving port (`BackendHTTPSPort`); declared as Knative does, not served yet. */
  https: 8112,
  /** `/wait-for-drain` (`QueueAdminPort`). */
  admin: 8022,
  /** The autoscaler's `Stat` endpoint (`AutoscalingQueueMetricsPort`). */
  autoscalerMetrics: 9090,
  /** Prometheus request metrics (`UserQueueMetricsPort`). */
  userMetrics: 9091,
} as const;

/** Container port names, Knative's; the private Service targets the metrics ports by these names. */
export const QUEUE_PORT_NAMES = {
  serving: 'queue-port',
  https: 'https-port',
  admin: 'http-queueadm',
  autoscalerMetrics: 'http-autometric',
  userMetrics: 'http-usermetric',
} as const;

/**
 * Ports no other container of an injected Pod may declare: the queue-proxy's, as Knative reserves them
 * (`pkg/apis/serving/k8s_validation.go` reservedPorts, less the profiling port it does not serve).
 */
export const RESERVED_PORTS: ReadonlySet<number> = new Set(Object.values(QUEUE_PORTS));

/** The preStop hook of app containers: block until the queue-proxy has drained (`deploy.go` userLifecycle). */
export const WAIT_FOR_DRAIN_PATH = '/wait-for-drain';

/** The securityContext of Knative's queue-proxy: non-root, read-only root, no capabilities, default seccomp. */
function securityContext(): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** What the sidecar is built from. */
export interface QueueProxyInput {
  readonly image: string;
  readonly resources: QueueProxyResources;
  readonly logLevel: string;
  readonly systemNamespace: string;
  readonly revision: RevisionIdentity;
  readonly settings: RevisionSettings;
  readonly userPort: number;
  /** The revision speaks h2c (its port is named `h2c`): the queue-proxy serves on 8013. */
  readonly h2c: boolean;
  readonly readiness: ReadinessHandover;
  /**
   * The Pod's `terminationGracePeriodSeconds`, given to the queue-proxy (`QUEUE_TERMINATION_GRACE_SECONDS`)
   * so that requests and websockets of a terminating Pod run until it nearly ends.
   */
  readonly terminationGraceSeconds: number;
}

/**
 * The queue-proxy container, with the environment `packages/queue-proxy/src/config.ts` reads, built by
 * the queue-proxy's own `queueProxyEnv`: every required variable set, the Pod's identity from the
 * downward API (the name is not known yet when a ReplicaSet's Pod is admitted), and the app's readiness
 * probe handed over.
 */
export function makeQueueProxyContainer(input: QueueProxyInput): V1Container {
  const { revision, settings } = input;
  const servingPort = input.h2c ? QUEUE_PORTS.h2c : QUEUE_PORTS.http;
  const values = queueProxyEnv({
    revision: { name: revision.name, configuration: revision.configuration, service: revision.service },
    containerConcurrency: settings.containerConcurrency,
    userPort: input.userPort,
    ports: { serving: servingPort, tls: QUEUE_PORTS.https },
    timeouts: {
      revisionSeconds: settings.timeoutSeconds,
      responseStartSeconds: settings.responseStartTimeoutSeconds,
      idleSeconds: settings.idleTimeoutSeconds,
    },
    readinessProbe: input.readiness.servingProbeJson,
    multiContainerProbes: false,
    http2AutoDetection: false,
    // The revision's `zerogate.dev/server-timing: "false"` turns the queue-proxy's Server-Timing off too.
    serverTiming: queueProxyServerTiming(settings.revisionAnnotations),
    logging: { level: input.logLevel },
    systemNamespace: input.systemNamespace,
    // Signalled only after the app exited: the app's preStop hook starts the drain.
    drain: { nativeSidecar: true, terminationGraceSeconds: input.terminationGraceSeconds },
  });
  const env: V1EnvVar[] = [
    ...Object.entries(QUEUE_PROXY_POD_FIELDS).map(([name, fieldPath]) => ({
      name,
      valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } },
    })),
    ...Object.entries(values).map(([name, value]) => ({ name, value })),
  ];
  const port = (name: string, containerPort: number) => ({ name, containerPort, protocol: 'TCP' });
  return {
    name: QUEUE_PROXY_NAME,
    image: input.image,
    // A native sidecar: started before the app containers, kept running, stopped after them.
    restartPolicy: 'Always',
    ports: [
      port(QUEUE_PORT_NAMES.serving, servingPort),
      port(QUEUE_PORT_NAMES.https, QUEUE_PORTS.https),
      port(QUEUE_PORT_NAMES.admin, QUEUE_PORTS.admin),
      port(QUEUE_PORT_NAMES.autoscalerMetrics, QUEUE_PORTS.autoscalerMetrics),
      port(QUEUE_PORT_NAMES.userMetrics, QUEUE_PORTS.userMetrics),
    ],
    env,
    readinessProbe: input.readiness.queueProxyProbe,
    // No CPU limit: throttling a proxy shows up as latency for every request (Knative #8057).
    resources: {
      requests: { cpu: input.resources.cpuRequest, memory: input.resources.memoryRequest },
      limits: { memory: input.resources.memoryLimit },
    },
    securityContext: securityContext(),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}
