import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig as loadQueueProxyConfig } from '../packages/queue-proxy/src/config.js';
import { eventually, httpsRequest, KUBELET_PROBE, send } from './support/http.js';
import {
  decodePatch,
  deploymentPod,
  injectorEnv,
  podReview,
  postReview,
  type RunningInjector,
  resolvedEnv,
  reviewResponse,
  startInjector,
} from './support/injector-fixture.js';
import { applyJsonPatch } from './support/injector-json-patch.js';
import { startQueueProxy, startUserApp } from './support/processes.js';
import { TestApiServer } from './support/test-apiserver.js';
import { createPki, HAS_OPENSSL, type TestPki } from './support/tls.js';

if (!HAS_OPENSSL)
  console.warn('injector tests skipped: the openssl CLI is needed to make their certificates');

let dir: string;
let pki: TestPki;
let cert: { cert: string; key: string };
let api: TestApiServer | undefined;
let kubeconfig: string;
let injector: RunningInjector;

beforeAll(() => {
  if (!HAS_OPENSSL) return;
  dir = mkdtempSync(join(tmpdir(), 'injector-test-'));
  pki = createPki(join(dir, 'pki'));
  cert = pki.issue('server');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  if (!HAS_OPENSSL) return;
  api = await TestApiServer.start();
  api.apply({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'activator-service', namespace: 'zerogate-system' },
  });
  api.apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'hello-00001-deployment', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'hello' } },
      template: { metadata: { labels: { app: 'hello' } } },
    },
  });
  kubeconfig = api.writeKubeConfig(join(dir, 'kubeconfig.json'));
  injector = await startInjector(injectorEnv(cert, kubeconfig));
});

afterEach(async () => {
  await api?.close();
  api = undefined;
});

const server = () => api as TestApiServer;

/** Sends a review of `pod` and returns the answer, checking the uid comes back. */
async function admit(pod: unknown, options: Parameters<typeof podReview>[1] = {}) {
  const review = podReview(pod, options);
  const res = await postReview(injector.port, pki.ca, JSON.stringify(review));
  expect(res.status, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('application/json');
  const response = reviewResponse(res.body);
  expect(response.uid).toBe(review.request.uid);
  return response;
}

/** The log lines with this message. */
const logged = (msg: string) => injector.proc.logs().filter((l) => l['msg'] === msg);

describe.skipIf(!HAS_OPENSSL)('injector process (needs the openssl CLI)', () => {
  it('serves /healthz over HTTPS', async () => {
    const res = await httpsRequest(injector.port, { ca: pki.ca, path: '/healthz' });
    expect(res).toMatchObject({ status: 200, body: 'ok\n' });
    // Plain HTTP gets no HTTP answer.
    await expect(send(`http://127.0.0.1:${injector.port}/healthz`)).rejects.toThrow();
  });

  it("injects a Deployment's Pod: one sidecar, the environment the queue-proxy accepts, probe moved, preStop", async () => {
    const pod = deploymentPod(8080);
    const response = await admit(pod);
    expect(response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    expect(response.warnings).toBeUndefined();
    const out = applyJsonPatch(pod, decodePatch(response) as never) as V1Pod;

    const sidecars = (out.spec?.initContainers ?? []).filter((c) => c.name === 'queue-proxy');
    expect(sidecars).toHaveLength(1);
    expect(out.spec?.containers.map((c) => c.name)).toEqual(['app']);
    const qp = sidecars[0]!;
    expect(qp).toMatchObject({ image: 'example.com/zerogate/queue-proxy:test', restartPolicy: 'Always' });

    // The queue-proxy's own configuration loader accepts the environment, downward API resolved.
    const env = resolvedEnv(qp, {
      name: 'hello-00001-deployment-5d8f7c9b4-x2k4p',
      namespace: 'default',
      ip: '10.1.2.3',
    });
    const config = loadQueueProxyConfig(env);
    expect(config).toMatchObject({
      nativeSidecar: true,
      containerConcurrency: 1,
      servingPort: 8012,
      userPort: 8080,
      revisionTimeoutMs: 60_000,
      namespace: 'default',
      service: 'hello',
      revision: 'hello-00001',
      pod: 'hello-00001-deployment-5d8f7c9b4-x2k4p',
      podIp: '10.1.2.3',
      adminPort: 8022,
      statsPort: 9090,
    });
    expect(config.readinessProbes).toEqual([
      expect.objectContaining({ kind: 'http', host: '127.0.0.1', port: 8080, path: '/', periodMs: 10_000 }),
    ]);

    const app = out.spec!.containers[0]!;
    expect(app.readinessProbe).toBeUndefined();
    expect(app.lifecycle?.preStop?.httpGet).toEqual({ path: '/wait-for-drain', port: 8022, scheme: 'HTTP' });
    expect(app.env).toContainEqual({ name: 'PORT', value: '8080' });
    expect(qp.readinessProbe?.httpGet).toMatchObject({
      port: 8012,
      httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }],
    });
    expect(out.spec?.terminationGracePeriodSeconds).toBe(60);

    // The objects the activator and the autoscaler look for.
    expect(server().get('Revision', 'default', 'hello-00001')).toMatchObject({
      metadata: { annotations: { 'autoscaling.knative.dev/max-scale': '3' } },
      spec: { containerConcurrency: 1, timeoutSeconds: 60 },
    });
    expect(server().get<V1Service>('Service', 'default', 'hello-00001-private')?.spec?.selector).toEqual({
      'serving.knative.dev/revision': 'hello-00001',
    });
    expect(server().get<V1Service>('Service', 'default', 'hello-00001')?.metadata?.labels).toMatchObject({
      'networking.internal.knative.dev/serviceType': 'Public',
    });
    expect(
      await eventually(() =>
        logged('admission').some((l) => l['outcome'] === 'injected' && l['allowed'] === true),
      ),
    ).toBe(true);
  });

  it('is idempotent: the patched Pod gets no patch, and the patch applied twice changes nothing', async () => {
    const pod = deploymentPod(8080);
    const patch = decodePatch(await admit(pod));
    const once = applyJsonPatch(pod, patch as never);
    expect(applyJsonPatch(once, patch as never)).toEqual(once);
    const again = await admit(once);
    expect(again).toEqual({ uid: again.uid, allowed: true });
    expect(server().list('Service', 'default')).toHaveLength(2);
  });

  it('creates nothing for a dry run', async () => {
    server().requests.length = 0;
    const response = await admit(deploymentPod(8080), { dryRun: true });
    expect(decodePatch(response).length).toBeGreaterThan(0);
    expect(server().requests).toEqual([]);
    expect(server().list('Service', 'default')).toEqual([]);
  });

  it('gives a queue-proxy that starts and, through the probe the kubelet uses, reports the app ready', async () => {
    const userApp = await startUserApp();
    const pod = deploymentPod(userApp.port);
    const out = applyJsonPatch(pod, decodePatch(await admit(pod)) as never) as V1Pod;
    const qp = out.spec!.initContainers![0]!;
    const env = {
      ...resolvedEnv(qp, {
        name: 'hello-00001-deployment-5d8f7c9b4-x2k4p',
        namespace: 'default',
        ip: '127.0.0.1',
      }),
      // Several queue-proxies share this machine: free ports instead of the fixed ones.
      QUEUE_SERVING_PORT: '0',
      QUEUE_ADMIN_PORT: '0',
      QUEUE_STATS_PORT: '0',
      QUEUE_METRICS_PORT: '0',
      QUEUE_BIND_ADDRESS: '127.0.0.1',
    };
    const { port } = await startQueueProxy(env);
    const probe = qp.readinessProbe!.httpGet!;
    const headers = Object.fromEntries((probe.httpHeaders ?? []).map((h) => [h.name, h.value]));
    const res = await send(`http://127.0.0.1:${port}${probe.path}`, {
      headers: { ...headers, 'user-agent': KUBELET_PROBE['user-agent'] },
    });
    expect(res).toMatchObject({ status: 200, body: 'queue' });
    // The queue-proxy ran the app's own HTTP readiness probe.
    expect((await userApp.seen()).some((s) => s.userAgent.startsWith('kube-probe/'))).toBe(true);
  });

  it('admits or denies bad Pods as documented, with a warning or a clear message', async () => {
    // No containerPort, not labelled for a revision: admitted unchanged, with a warning.
    const noPort = deploymentPod(8080);
    delete noPort.spec!.containers[0]!.ports;
    const labels = noPort.metadata!.labels!;
    delete labels['serving.knative.dev/revision'];
    labels['zerogate.dev/revision'] = 'hello-00001';
    const unchanged = await admit(noPort);
    expect(unchanged).toMatchObject({ allowed: true, warnings: [expect.stringContaining('containerPort')] });
    expect(unchanged.patch).toBeUndefined();

    // The same Pod labelled serving.knative.dev/revision: denied.
    const labelledNoPort = deploymentPod(8080);
    delete labelledNoPort.spec!.containers[0]!.ports;
    const denied = await admit(labelledNoPort);
    expect(denied.allowed).toBe(false);
    expect(denied.status).toMatchObject({ code: 422, message: expect.stringContaining('containerPort') });

    // A port the queue-proxy needs.
    const clash = deploymentPod(9091);
    expect(await admit(clash)).toMatchObject({
      allowed: false,
      status: { message: expect.stringContaining('declares port 9091, which the queue-proxy needs') },
    });

    // A malformed annotation: denied, naming it.
    const badAnnotation = deploymentPod(8080);
    badAnnotation.metadata!.annotations!['zerogate.dev/container-concurrency'] = 'ten';
    expect(await admit(badAnnotation)).toMatchObject({
      allowed: false,
      status: {
        message:
          'zerogate injector: annotation zerogate.dev/container-concurrency must be a whole number from 0 to 1000, got "ten"',
      },
    });

    // Nothing was created for any of them, and each left a log line.
    expect(server().list('Service', 'default')).toEqual([]);
    expect(await eventually(() => logged('admission').length === 4)).toBe(true);
    const lines = logged('admission');
    expect(lines.filter((l) => l['allowed'] === false)).toHaveLength(3);
    expect(lines.filter((l) => l['allowed'] === true && l['warnings'])).toHaveLength(1);
  });

  it('leaves Pods that did not opt in, and Pods of the system namespace, alone', async () => {
    const other = deploymentPod(8080);
    other.metadata!.labels!['zerogate.dev/inject'] = 'disabled';
    expect(await admit(other)).toEqual({ uid: expect.any(String), allowed: true });
    expect(await admit(deploymentPod(8080), { namespace: 'zerogate-system' })).toEqual({
      uid: expect.any(String),
      allowed: true,
    });
  });

  it('refuses malformed requests with 400, a short text body and a log line, and keeps serving', async () => {
    const review = JSON.stringify(podReview(deploymentPod(8080)));
    const cases: [string, Promise<Awaited<ReturnType<typeof postReview>>>, RegExp][] = [
      [
        'MALFORMED_JSON',
        postReview(injector.port, pki.ca, '{"apiVersion":'),
        /^request body is not valid JSON\n$/,
      ],
      [
        'CONTENT_TYPE',
        postReview(injector.port, pki.ca, review, { 'content-type': 'text/plain' }),
        /^expected Content-Type: application\/json: got "text\/plain"\n$/,
      ],
      [
        'NOT_A_REVIEW',
        postReview(injector.port, pki.ca, review.replace('admission.k8s.io/v1', 'admission.k8s.io/v1beta1')),
        /^expected apiVersion admission\.k8s\.io\/v1, kind AdmissionReview: got "admission\.k8s\.io\/v1beta1"/,
      ],
      [
        'NOT_A_REVIEW',
        postReview(injector.port, pki.ca, review.replace('"kind":"AdmissionReview"', '"kind":"Pod"')),
        /^expected apiVersion admission\.k8s\.io\/v1, kind AdmissionReview: got "admission\.k8s\.io\/v1", "Pod"\n$/,
      ],
      [
        'NO_REQUEST',
        postReview(
          injector.port,
          pki.ca,
          JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
        ),
        /^AdmissionReview has no request with a uid\n$/,
      ],
      [
        'BODY_TOO_LARGE',
        postReview(injector.port, pki.ca, Buffer.alloc(3 * 1024 * 1024 + 1, 0x20)),
        /^request body exceeds 3145728 bytes\n$/,
      ],
    ];
    for (const [code, pending, body] of cases) {
      const res = await pending;
      expect(res.status, code).toBe(400);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.body, code).toMatch(body);
    }
    // A body too large without a declared length is cut off while read.
    const chunked = await postReview(injector.port, pki.ca, Buffer.alloc(4 * 1024 * 1024, 0x20), {
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
    });
    expect(chunked.status).toBe(400);
    expect(await httpsRequest(injector.port, { ca: pki.ca, path: '/mutate-pods' })).toMatchObject({
      status: 405,
      body: 'method not allowed\n',
    });
    expect(await httpsRequest(injector.port, { ca: pki.ca, path: '/nope' })).toMatchObject({
      status: 404,
      body: 'not found\n',
    });

    // One warning line per refusal, naming its code (the 405 and 404 included).
    const codes = () =>
      injector.proc
        .logs()
        .filter((l) => typeof l['code'] === 'string')
        .map((l) => l['code'] as string)
        .sort();
    const expected = [
      ...cases.map(([code]) => code),
      'BODY_TOO_LARGE',
      'METHOD_NOT_ALLOWED',
      'UNKNOWN_PATH',
    ].sort();
    await eventually(() => codes().length >= expected.length);
    expect(codes()).toEqual(expected);
    expect((await httpsRequest(injector.port, { ca: pki.ca, path: '/healthz' })).status).toBe(200);
  });

  it('admits Pod updates unchanged and silently, other resources with a warning', async () => {
    const update = podReview(deploymentPod(8080));
    update.request.operation = 'UPDATE';
    const updated = reviewResponse((await postReview(injector.port, pki.ca, JSON.stringify(update))).body);
    expect(updated).toEqual({ uid: update.request.uid, allowed: true });

    const review = podReview({ metadata: {}, spec: {} });
    review.request.resource = { group: 'apps', version: 'v1', resource: 'deployments' };
    const res = await postReview(injector.port, pki.ca, JSON.stringify(review));
    expect(reviewResponse(res.body)).toEqual({
      uid: review.request.uid,
      allowed: true,
      warnings: ['the zerogate injector handles Pod creations only, not apps/v1/deployments'],
    });
  });
});
