/**
 * The Kubernetes objects the activator and the autoscaler expect for a revision, which Knative's
 * controllers would create and which the injector creates instead: the Revision (settings the activator
 * and the autoscaler read), the private Service selecting the revision's Pods (its EndpointSlices,
 * labelled by Kubernetes from the Service's labels, list the Pods) and the public Service without a
 * selector (the autoscaler writes its EndpointSlices: the activators or the Pods). The Services of an
 * in-process revision target the app's own ports instead of the queue-proxy's. Pure builders.
 */
import type { V1OwnerReference, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { privateServiceName, REVISION_LABEL, SERVICE_TYPE_LABEL } from '@zerogate/core/kubernetes';
import { QUEUE_PORT_NAMES, QUEUE_PORTS } from './queue-proxy-container.js';
import {
  CONFIGURATION_LABEL,
  type RevisionIdentity,
  type RevisionSettings,
  SERVICE_LABEL,
} from './revision-settings.js';

/** Marks the objects the injector created. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'zerogate-injector';

/** A revision's objects are built from this. */
export interface RevisionWiringSpec {
  readonly namespace: string;
  readonly revision: RevisionIdentity;
  readonly settings: RevisionSettings;
  readonly h2c: boolean;
  /** The app's serving port: what an in-process revision's Services target. */
  readonly userPort: number;
  /** Owner of every object (the revision's Deployment), so they go when it goes. */
  readonly owner?: V1OwnerReference | undefined;
}

/** A Knative Revision, as far as the injector writes it. */
export interface RevisionObject {
  apiVersion: 'serving.knative.dev/v1';
  kind: 'Revision';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences?: V1OwnerReference[];
  };
  spec: {
    containerConcurrency: number;
    timeoutSeconds: number;
    responseStartTimeoutSeconds: number;
    idleTimeoutSeconds: number;
  };
}

function labels(spec: RevisionWiringSpec, extra: Record<string, string> = {}): Record<string, string> {
  const { revision } = spec;
  return {
    [REVISION_LABEL]: revision.name,
    ...(revision.service ? { [SERVICE_LABEL]: revision.service } : {}),
    ...(revision.configuration ? { [CONFIGURATION_LABEL]: revision.configuration } : {}),
    [MANAGED_BY_LABEL]: MANAGED_BY,
    ...extra,
  };
}

function metadata(spec: RevisionWiringSpec, name: string, extraLabels: Record<string, string> = {}) {
  return {
    name,
    namespace: spec.namespace,
    labels: labels(spec, extraLabels),
    ...(spec.owner ? { ownerReferences: [spec.owner] } : {}),
  };
}

/** Whether the revision's app carries the queue-proxy's contract itself: no sidecar to aim at. */
const inProcess = (spec: RevisionWiringSpec): boolean => spec.settings.queueProxy === 'in-process';

/**
 * The serving port of a revision's Services (`pkg:apis/networking` ServicePortName): `http` for HTTP/1
 * revisions, `http2` with appProtocol `kubernetes.io/h2c` for h2c ones, aimed at the queue-proxy, or at
 * the app's own port in in-process mode.
 */
function servingPort(spec: RevisionWiringSpec, port: number): V1ServicePort {
  const target = (sidecarPort: number) => (inProcess(spec) ? spec.userPort : sidecarPort);
  return spec.h2c
    ? {
        name: 'http2',
        protocol: 'TCP',
        appProtocol: 'kubernetes.io/h2c',
        port,
        targetPort: target(QUEUE_PORTS.h2c),
      }
    : { name: 'http', protocol: 'TCP', port, targetPort: target(QUEUE_PORTS.http) };
}

/** 443, where the queue-proxy serves internal TLS; an in-process app serves none, so it has no such port. */
const httpsPorts = (spec: RevisionWiringSpec): V1ServicePort[] =>
  inProcess(spec) ? [] : [{ ...HTTPS_PORT }];

/**
 * A metrics port of the private Service: the sidecar's container port by Knative's name, or in
 * in-process mode the same number on the app container, whatever the app named it.
 */
function metricsPort(spec: RevisionWiringSpec, name: string, port: number): V1ServicePort {
  return { name, protocol: 'TCP', port, targetPort: inProcess(spec) ? port : name };
}

const HTTPS_PORT: V1ServicePort = {
  name: 'https',
  protocol: 'TCP',
  port: 443,
  targetPort: QUEUE_PORTS.https,
};

/**
 * The public Service `<revision>`: no selector; the autoscaler owns its EndpointSlices (`serverlessservice/
 * resources/services.go` MakePublicService: 80 `http` or 81 `http2`, and 443).
 */
export function publicService(spec: RevisionWiringSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(spec, spec.revision.name, { [SERVICE_TYPE_LABEL]: 'Public' }),
    spec: { ports: [servingPort(spec, spec.h2c ? 81 : 80), ...httpsPorts(spec)] },
  };
}

/**
 * The private Service `<revision>-private` selecting the revision's Pods (MakePrivateService): serving
 * port 80, 443, and the queue-proxy's metrics ports by name. Kubernetes copies its labels onto its
 * EndpointSlices, which is how the activator and the autoscaler find the revision's Pods.
 */
export function privateService(spec: RevisionWiringSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(spec, privateServiceName(spec.revision.name), { [SERVICE_TYPE_LABEL]: 'Private' }),
    spec: {
      selector: { [REVISION_LABEL]: spec.revision.name },
      ports: [
        servingPort(spec, 80),
        ...httpsPorts(spec),
        metricsPort(spec, QUEUE_PORT_NAMES.autoscalerMetrics, QUEUE_PORTS.autoscalerMetrics),
        metricsPort(spec, QUEUE_PORT_NAMES.userMetrics, QUEUE_PORTS.userMetrics),
      ],
    },
  };
}

/**
 * The Revision: `containerConcurrency` and the timeouts for the activator, the `autoscaling.knative.dev/*`
 * annotations for the autoscaler and the `zerogate.dev/*` ones for the activator.
 */
export function revisionObject(spec: RevisionWiringSpec): RevisionObject {
  const { settings } = spec;
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: { ...metadata(spec, spec.revision.name), annotations: { ...settings.revisionAnnotations } },
    spec: {
      containerConcurrency: settings.containerConcurrency,
      timeoutSeconds: settings.timeoutSeconds,
      responseStartTimeoutSeconds: settings.responseStartTimeoutSeconds,
      idleTimeoutSeconds: settings.idleTimeoutSeconds,
    },
  };
}
