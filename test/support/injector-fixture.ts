/**
 * Support for the injector's end-to-end tests: the built injector process, and AdmissionReviews of Pods
 * as the API server sends them.
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { V1Container, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { type HttpsResponse, httpsRequest } from './http.js';
import { startComponent, type TestProcess } from './processes.js';

/** Replaces `path` atomically with `data` (as the kubelet updates a mounted Secret). */
export function replaceFile(path: string, data: Buffer): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

/** Posts an AdmissionReview (or any text) to `/mutate-pods`. */
export function postReview(
  port: number,
  ca: Buffer,
  body: string | Buffer,
  headers: Record<string, string | number> = { 'content-type': 'application/json' },
): Promise<HttpsResponse> {
  return httpsRequest(port, { ca, method: 'POST', path: '/mutate-pods?timeout=10s', headers, body });
}

/** A running injector process and the port it bound. */
export interface RunningInjector {
  readonly proc: TestProcess;
  readonly port: number;
}

/** The environment of an injector on a free port of 127.0.0.1. */
export function injectorEnv(
  cert: { cert: string; key: string },
  kubeconfig: string,
  overrides: Record<string, string> = {},
) {
  return {
    INJECTOR_PORT: '0',
    INJECTOR_BIND_ADDRESS: '127.0.0.1',
    INJECTOR_TLS_CERT_FILE: cert.cert,
    INJECTOR_TLS_KEY_FILE: cert.key,
    INJECTOR_QUEUE_PROXY_IMAGE: 'example.com/zerogate/queue-proxy:test',
    KUBECONFIG: kubeconfig,
    ...overrides,
  };
}

/** Starts the built injector and waits for its startup line. */
export async function startInjector(env: Record<string, string>): Promise<RunningInjector> {
  const { proc, ports } = await startComponent<{ https: number }>('packages/injector/dist/main.js', env);
  return { proc, port: ports.https };
}

/** A Pod of Deployment `hello-00001-deployment` as the API server hands it to a webhook (defaults filled in). */
export function deploymentPod(userPort: number): V1Pod {
  return {
    metadata: {
      generateName: 'hello-00001-deployment-5d8f7c9b4-',
      namespace: 'default',
      labels: {
        app: 'hello',
        'zerogate.dev/inject': 'enabled',
        'serving.knative.dev/revision': 'hello-00001',
        'serving.knative.dev/service': 'hello',
        'pod-template-hash': '5d8f7c9b4',
      },
      annotations: {
        'zerogate.dev/container-concurrency': '1',
        'zerogate.dev/timeout-seconds': '60',
        'autoscaling.knative.dev/max-scale': '3',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'hello-00001-deployment-5d8f7c9b4',
          uid: '1b0c9f0e-0000-4000-8000-000000000001',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'example.com/hello:1',
          imagePullPolicy: 'IfNotPresent',
          ports: [{ containerPort: userPort, protocol: 'TCP' }],
          readinessProbe: {
            httpGet: { path: '/', port: userPort, scheme: 'HTTP' },
            timeoutSeconds: 1,
            periodSeconds: 10,
            successThreshold: 1,
            failureThreshold: 3,
          },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
    },
  };
}

let uidCounter = 0;

/** An `admission.k8s.io/v1` AdmissionReview of creating `pod` in `namespace`. */
export function podReview(
  pod: unknown,
  options: { namespace?: string; dryRun?: boolean; uid?: string } = {},
) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? `705ab4f5-6393-11e8-b7cc-42010a8000${String(++uidCounter).padStart(2, '0')}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: options.namespace ?? 'default',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
      dryRun: options.dryRun ?? false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}

/** The response part of an AdmissionReview answer. */
export interface ReviewResponse {
  uid: string;
  allowed: boolean;
  patchType?: string;
  patch?: string;
  warnings?: string[];
  status?: { code: number; message: string };
}

/** Parses an answer, checking it is an AdmissionReview. */
export function reviewResponse(body: string): ReviewResponse {
  const review = JSON.parse(body) as { apiVersion: string; kind: string; response: ReviewResponse };
  if (review.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview') {
    throw new Error(`not an AdmissionReview: ${body}`);
  }
  return review.response;
}

/** The JSON Patch of an answer, decoded; [] when there is none. */
export function decodePatch(response: ReviewResponse): { op: string; path: string; value?: unknown }[] {
  return response.patch ? JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) : [];
}

/** A container's environment as the kubelet would give it: downward-API references resolved. */
export function resolvedEnv(container: V1Container, pod: { name: string; namespace: string; ip: string }) {
  const fields: Record<string, string> = {
    'metadata.name': pod.name,
    'metadata.namespace': pod.namespace,
    'status.podIP': pod.ip,
  };
  const env: Record<string, string> = {};
  for (const e of container.env ?? ([] as V1EnvVar[])) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    env[e.name] = path !== undefined ? (fields[path] ?? `<unresolved ${path}>`) : (e.value ?? '');
  }
  return env;
}
