import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type V1Deployment, type V1Service } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestApiServer } from '../../../test/support/test-apiserver.js';
import type { RevisionObject } from './revision-objects.js';
import { RevisionWiring, type RevisionWiringOptions, type WiringRequest } from './revision-wiring.js';

const logger = pino({ level: 'silent' });
const NS = 'ns1';

const REQUEST: WiringRequest = {
  namespace: NS,
  revision: {
    name: 'hello-00001',
    source: 'serving.knative.dev/revision',
    service: 'hello',
    configuration: '',
  },
  settings: {
    containerConcurrency: 10,
    timeoutSeconds: 60,
    responseStartTimeoutSeconds: 5,
    idleTimeoutSeconds: 0,
    queueProxy: 'sidecar',
    revisionAnnotations: { 'autoscaling.knative.dev/min-scale': '1' },
  },
  h2c: false,
  userPort: 8080,
  deployment: 'hello-00001-deployment',
};

let api: TestApiServer;
const servers: Server[] = [];

beforeEach(async () => {
  api = await TestApiServer.start();
  api.apply({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'activator-service', namespace: 'zerogate-system' },
  });
});

afterEach(async () => {
  await api.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

function wiring(options: Partial<RevisionWiringOptions> = {}): RevisionWiring {
  return new RevisionWiring({
    kubeConfig: api.kubeConfig(),
    logger,
    timeoutMs: 2000,
    activatorService: { namespace: 'zerogate-system', name: 'activator-service' },
    ...options,
  });
}

function applyDeployment(): string {
  const d = api.apply<V1Deployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'hello-00001-deployment', namespace: NS },
    spec: {
      selector: { matchLabels: { app: 'hello' } },
      template: { metadata: { labels: { app: 'hello' } } },
    },
  });
  return d.metadata!.uid!;
}

const creates = () => api.requests.filter((r) => r.verb === 'create');

describe('revision wiring', () => {
  it('creates the Revision, the private Service and the public Service the activator and autoscaler look for', async () => {
    const uid = applyDeployment();
    expect(await wiring().ensure(REQUEST)).toEqual([]);
    const owner = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'hello-00001-deployment', uid }];

    const revision = api.get<RevisionObject>('Revision', NS, 'hello-00001');
    expect(revision).toMatchObject({
      metadata: {
        labels: {
          'serving.knative.dev/revision': 'hello-00001',
          'serving.knative.dev/service': 'hello',
          'app.kubernetes.io/managed-by': 'zerogate-injector',
        },
        annotations: { 'autoscaling.knative.dev/min-scale': '1' },
        ownerReferences: owner,
      },
      spec: {
        containerConcurrency: 10,
        timeoutSeconds: 60,
        responseStartTimeoutSeconds: 5,
        idleTimeoutSeconds: 0,
      },
    });

    const priv = api.get<V1Service>('Service', NS, 'hello-00001-private');
    expect(priv?.metadata?.labels).toMatchObject({
      'serving.knative.dev/revision': 'hello-00001',
      'networking.internal.knative.dev/serviceType': 'Private',
    });
    expect(priv?.metadata?.ownerReferences).toEqual(owner);
    expect(priv?.spec?.selector).toEqual({ 'serving.knative.dev/revision': 'hello-00001' });
    expect(priv?.spec?.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 8012 },
      { name: 'https', protocol: 'TCP', port: 443, targetPort: 8112 },
      { name: 'http-autometric', protocol: 'TCP', port: 9090, targetPort: 'http-autometric' },
      { name: 'http-usermetric', protocol: 'TCP', port: 9091, targetPort: 'http-usermetric' },
    ]);

    const pub = api.get<V1Service>('Service', NS, 'hello-00001');
    expect(pub?.metadata?.labels).toMatchObject({
      'serving.knative.dev/revision': 'hello-00001',
      'networking.internal.knative.dev/serviceType': 'Public',
    });
    expect(pub?.spec?.selector).toBeUndefined();
    expect(pub?.spec?.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 8012 },
      { name: 'https', protocol: 'TCP', port: 443, targetPort: 8112 },
    ]);
  });

  it('gives h2c revisions the http2 port with the h2c appProtocol', async () => {
    await wiring().ensure({ ...REQUEST, h2c: true, deployment: undefined });
    const pub = api.get<V1Service>('Service', NS, 'hello-00001');
    expect(pub?.spec?.ports?.[0]).toEqual({
      name: 'http2',
      protocol: 'TCP',
      appProtocol: 'kubernetes.io/h2c',
      port: 81,
      targetPort: 8013,
    });
    expect(pub?.metadata?.ownerReferences).toBeUndefined();
    expect(api.get<V1Service>('Service', NS, 'hello-00001-private')?.spec?.ports?.[0]).toMatchObject({
      name: 'http2',
      port: 80,
      targetPort: 8013,
    });
  });

  it('aims the Services of an in-process revision at the app: its serving port, no 443, the metrics ports by number', async () => {
    await wiring().ensure({ ...REQUEST, settings: { ...REQUEST.settings, queueProxy: 'in-process' } });
    expect(api.get<V1Service>('Service', NS, 'hello-00001-private')?.spec?.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 },
      { name: 'http-autometric', protocol: 'TCP', port: 9090, targetPort: 9090 },
      { name: 'http-usermetric', protocol: 'TCP', port: 9091, targetPort: 9091 },
    ]);
    expect(api.get<V1Service>('Service', NS, 'hello-00001')?.spec?.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 },
    ]);
    // The Revision is the same as a sidecar revision's: the activator and the autoscaler see no difference.
    expect(api.get<RevisionObject>('Revision', NS, 'hello-00001')?.spec).toEqual({
      containerConcurrency: 10,
      timeoutSeconds: 60,
      responseStartTimeoutSeconds: 5,
      idleTimeoutSeconds: 0,
    });
  });

  it('leaves existing objects alone, and asks again only once the cache entry expires', async () => {
    let now = 0;
    const w = wiring({ now: () => now, cacheTtlMs: 1000 });
    await w.ensure(REQUEST);
    api.requests.length = 0;
    expect(await w.ensure(REQUEST)).toEqual([]);
    expect(api.requests).toEqual([]);
    now = 1001;
    expect(await w.ensure(REQUEST)).toEqual([]);
    expect(creates()).toHaveLength(3);
    expect(api.list('Service', NS)).toHaveLength(2);
    expect(api.list('Revision', NS)).toHaveLength(1);
  });

  it('shares one round of calls between Pods admitted at once', async () => {
    const w = wiring();
    await Promise.all([w.ensure(REQUEST), w.ensure(REQUEST), w.ensure(REQUEST)]);
    expect(creates()).toHaveLength(3);
  });

  it('warns when the Revision exists with other settings', async () => {
    await wiring().ensure(REQUEST);
    const warnings = await wiring().ensure({
      ...REQUEST,
      settings: { ...REQUEST.settings, containerConcurrency: 2 },
    });
    expect(warnings).toEqual([
      'Revision ns1/hello-00001 already exists with containerConcurrency 10 (this Pod: 2); the activator and the ' +
        'autoscaler use the Revision: give changed settings a new revision name',
    ]);
    expect(api.get<RevisionObject>('Revision', NS, 'hello-00001')?.spec.containerConcurrency).toBe(10);
  });

  it('warns when the activator Service is missing', async () => {
    api.delete('Service', 'zerogate-system', 'activator-service');
    expect(await wiring().ensure(REQUEST)).toEqual([
      expect.stringContaining('the activator Service zerogate-system/activator-service does not exist'),
    ]);
  });

  it('turns failed calls into one warning and tries again on the next Pod', async () => {
    api.failNext('create', `/api/v1/namespaces/${NS}/services`, 403);
    const w = wiring();
    const warnings = await w.ensure(REQUEST);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^could not create Service ns1\/hello-00001(-private)? \(HTTP 403: injected failure/,
    );
    expect(await w.ensure(REQUEST)).toEqual([]);
    expect(api.list('Service', NS)).toHaveLength(2);
  });

  it('answers by the deadline when the API server does not', async () => {
    const hanging = createServer(() => {});
    servers.push(hanging);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const started = Date.now();
    const warnings = await wiring({ kubeConfig: kc, timeoutMs: 300 }).ensure(REQUEST);
    // The API server never answers: the deadline ended the wait, no earlier than 300 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(warnings).toEqual([
      'the Kubernetes API did not answer within 300 ms; revision ns1/hello-00001 may lack its Services or ' +
        'Revision (a later Pod retries)',
    ]);
    // A shorter budget from the caller wins.
    const t2 = Date.now();
    const short = await wiring({ kubeConfig: kc, timeoutMs: 2000 }).ensure(REQUEST, 100);
    expect(short).toEqual([expect.stringContaining('the Kubernetes API did not answer within 100 ms')]);
    // No earlier than the caller's 100 ms, and before the wiring's own 2 s would have run out.
    expect(Date.now() - t2).toBeGreaterThanOrEqual(100 - 20);
    expect(Date.now() - t2).toBeLessThan(2000);
  });
});
