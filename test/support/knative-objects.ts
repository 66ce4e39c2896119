/** Knative's objects as tests put them into a test API server, in the shapes Knative gives them. */
import type { KubernetesObject, V1Deployment, V1EndpointSlice, V1Endpoints } from '@kubernetes/client-node';

/** A Knative Revision. */
export interface RevisionResource extends KubernetesObject {
  spec: Record<string, unknown>;
}

/** A Revision named `name` with `spec` (containerConcurrency, timeoutSeconds, …). */
export function knativeRevision(
  name: string,
  spec: Record<string, unknown>,
  options: { namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> } = {},
): RevisionResource {
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: {
      name,
      namespace: options.namespace ?? 'default',
      ...(options.annotations ? { annotations: options.annotations } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
    },
    spec,
  };
}

/** A revision's Deployment (`<revision>-deployment`) with `replicas` Pods, selecting them by the revision label. */
export function revisionDeployment(revision: string, replicas: number, namespace = 'default'): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${revision}-deployment`, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { 'serving.knative.dev/revision': revision } },
      template: {
        metadata: { labels: { 'serving.knative.dev/revision': revision } },
        spec: { containers: [{ name: 'user-container', image: 'example.com/hello' }] },
      },
    },
  };
}

/**
 * The EndpointSlice of a revision's private Service (`<revision>-private`), as Kubernetes writes it for
 * the revision's Pods: the ready ones at `ready`, the others at `notReady`.
 */
export function privateSlice(
  revision: string,
  ready: readonly string[],
  notReady: readonly string[] = [],
  options: { namespace?: string; port?: number } = {},
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${revision}-private-x7k2p`,
      namespace: options.namespace ?? 'default',
      labels: {
        'kubernetes.io/service-name': `${revision}-private`,
        'serving.knative.dev/revision': revision,
        'networking.internal.knative.dev/serviceType': 'Private',
      },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: options.port ?? 8012, protocol: 'TCP' }],
    endpoints: [
      ...ready.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
      ...notReady.map((ip) => ({ addresses: [ip], conditions: { ready: false } })),
    ],
  };
}

/**
 * The core/v1 Endpoints of a revision's private Service, as Knative's clusters still read them: one
 * subset per Pod, each a queue-proxy on 127.0.0.1 at one of `ports`.
 */
export function privateEndpoints(
  revision: string,
  ports: readonly number[],
  namespace = 'default',
): V1Endpoints {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: `${revision}-private`,
      namespace,
      labels: {
        'serving.knative.dev/revision': revision,
        'networking.internal.knative.dev/serviceType': 'Private',
      },
    },
    subsets: ports.map((port) => ({
      addresses: [{ ip: '127.0.0.1' }],
      ports: [{ name: 'http', port, protocol: 'TCP' }],
    })),
  };
}

/**
 * The activator Service's EndpointSlice, with a ready activator at each of `ips`, in `namespace` (by
 * default where a standalone install runs the activators).
 */
export function activatorSlice(ips: readonly string[], namespace = 'zerogate-system'): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'activator-service-4kq9z',
      namespace,
      labels: { 'kubernetes.io/service-name': 'activator-service' },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8012, protocol: 'TCP' }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}
