/**
 * Support for the injector's end-to-end tests: certificates made with the openssl CLI, an HTTPS client
 * trusting them, the built injector process, and AdmissionReviews of Pods as the API server sends them.
 */
import { execFileSync } from 'node:child_process';
import type { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { V1Container, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { spawnNode, type TestProcess } from './processes.js';

/** Whether the openssl CLI is there (the tests that need certificates skip without it). */
export const HAS_OPENSSL = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A test CA and the server certificates it signed, as files. */
export interface TestPki {
  readonly dir: string;
  readonly ca: Buffer;
  /** Writes a fresh server certificate and key for 127.0.0.1 to `<name>.crt`/`<name>.key`; returns the paths. */
  issue(name: string): { cert: string; key: string };
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** Creates a CA in `dir` (P-256 keys: quick to make). */
export function createPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=zerogate-test-ca',
  ]);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  let serial = 1;
  return {
    dir,
    ca: readFileSync(join(dir, 'ca.crt')),
    issue(name) {
      openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=injector']);
      openssl(dir, [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        String(serial++),
        '-out',
        `${name}.crt`,
        '-days',
        '1',
        '-extfile',
        'san.ext',
      ]);
      return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    },
  };
}

/** Replaces `path` atomically with `data` (as the kubelet updates a mounted Secret). */
export function replaceFile(path: string, data: Buffer): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

/** An HTTPS response, read whole, with the certificate the server presented. */
export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The serial number of the server's certificate, hex. */
  serial: string;
}

/** Sends one request over its own TLS connection trusting `ca`. */
export function httpsRequest(
  port: number,
  ca: Buffer,
  options: {
    method?: string;
    path: string;
    headers?: Record<string, string | number>;
    body?: string | Buffer;
  },
): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        ca,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const cert = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate?.() as
          | X509Certificate
          | undefined;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            serial: cert?.serialNumber ?? '',
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Posts an AdmissionReview (or any text) to `/mutate-pods`. */
export function postReview(
  port: number,
  ca: Buffer,
  body: string | Buffer,
  headers: Record<string, string | number> = { 'content-type': 'application/json' },
): Promise<HttpsResponse> {
  return httpsRequest(port, ca, { method: 'POST', path: '/mutate-pods?timeout=10s', headers, body });
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
  const proc = spawnNode('packages/injector/dist/main.js', env);
  const line = await proc.waitForLine((l) => l.includes('"msg":"started"'));
  return { proc, port: (JSON.parse(line) as { ports: { https: number } }).ports.https };
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
