import type { V1Deployment, V1EndpointSlice } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/support/http.js';
import { TestApiServer } from '../../../test/support/test-apiserver.js';
import { ActuatorError, type RevisionRef } from './actuator.js';
import {
  KubernetesActuator,
  type KubernetesActuatorOptions,
  knativeDeploymentName,
  MANAGED_BY,
} from './actuator-kubernetes.js';

const NS = 'ns1';
const rev: RevisionRef = { namespace: NS, name: 'hello-00001' };
const DEPLOYMENT = 'hello-00001-deployment';
const SCALE_PATH = `/apis/apps/v1/namespaces/${NS}/deployments/${DEPLOYMENT}/scale`;
const logger = pino({ level: 'silent' });

let api: TestApiServer;
/** Actuators started by a test, stopped after it. */
const started: KubernetesActuator[] = [];

beforeEach(async () => {
  api = await TestApiServer.start();
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.stop()));
  await api.close();
});

function actuator(options: Partial<KubernetesActuatorOptions> = {}): KubernetesActuator {
  return new KubernetesActuator({
    kubeConfig: api.kubeConfig(),
    logger,
    retry: { initialMs: 1, maxMs: 5 },
    watchBackoff: { initialMs: 10, maxMs: 50 },
    ...options,
  });
}

function deployment(replicas: number): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: DEPLOYMENT, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'hello' } },
      template: { metadata: { labels: { app: 'hello' } } },
    },
  };
}

function replicas(): number | undefined {
  return api.get<V1Deployment>('Deployment', NS, DEPLOYMENT)?.spec?.replicas;
}

/** The private EndpointSlice of the revision, as Kubernetes' EndpointSlice controller writes it. */
function privateSlice(ready: string[], notReady: string[] = []): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'hello-00001-private-abcde',
      namespace: NS,
      labels: {
        'kubernetes.io/service-name': 'hello-00001-private',
        'serving.knative.dev/revision': 'hello-00001',
        'networking.internal.knative.dev/serviceType': 'Private',
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
    },
    addressType: 'IPv4',
    ports: [
      { name: 'http', port: 8012, protocol: 'TCP' },
      { name: 'https', port: 8112, protocol: 'TCP' },
      { name: 'http-autometric', port: 9090, protocol: 'TCP' },
    ],
    endpoints: [
      ...ready.map((ip) => ({
        addresses: [ip],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', namespace: NS, name: `pod-${ip}` },
      })),
      ...notReady.map((ip) => ({ addresses: [ip], conditions: { ready: false } })),
    ],
  };
}

function activatorSlice(
  ips: string[],
  namespace = 'knative-serving',
  service = 'activator-service',
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-xyz`, namespace, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [
      { name: 'http', port: 8012, protocol: 'TCP' },
      { name: 'http2', port: 8013, protocol: 'TCP' },
      { name: 'https', port: 8112, protocol: 'TCP' },
      { name: 'http-profiling', port: 8008, protocol: 'TCP' },
    ],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}

/** The IPs of the revision's public slices (the ones we own). */
function publicIps(): string[] {
  return api
    .list<V1EndpointSlice>('EndpointSlice', NS)
    .filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === rev.name)
    .flatMap((s) => s.endpoints ?? [])
    .flatMap((e) => e.addresses)
    .sort();
}

function publicSlices(): V1EndpointSlice[] {
  return api
    .list<V1EndpointSlice>('EndpointSlice', NS)
    .filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === rev.name);
}

function writes(): string[] {
  return api.requests
    .filter((r) => r.verb === 'create' || r.verb === 'update' || r.verb === 'patch' || r.verb === 'delete')
    .map((r) => `${r.verb} ${r.path}`);
}

describe('knativeDeploymentName', () => {
  it('is the revision name with -deployment', () => {
    expect(knativeDeploymentName(rev)).toBe(DEPLOYMENT);
  });
});

describe('KubernetesActuator.scale', () => {
  it('patches spec.replicas through the scale subresource, to and from zero', async () => {
    api.apply(deployment(1));
    const a = actuator();
    await a.scale(rev, 3);
    expect(replicas()).toBe(3);
    await a.scale(rev, 0);
    expect(replicas()).toBe(0);
    await a.scale(rev, 1);
    expect(replicas()).toBe(1);
    expect(writes()).toEqual([`patch ${SCALE_PATH}`, `patch ${SCALE_PATH}`, `patch ${SCALE_PATH}`]);
  });

  it('does not write when the count is already right', async () => {
    api.apply(deployment(2));
    await actuator().scale(rev, 2);
    expect(writes()).toEqual([]);
    expect(api.requests.map((r) => r.verb)).toEqual(['get']);
  });

  it('uses the injected Deployment name', async () => {
    api.apply({ ...deployment(1), metadata: { name: 'custom', namespace: NS } });
    await actuator({ deploymentName: (r) => (r.name === rev.name ? 'custom' : 'x') }).scale(rev, 4);
    expect(api.get<V1Deployment>('Deployment', NS, 'custom')?.spec?.replicas).toBe(4);
  });

  it('retries server errors with exponential backoff until the patch lands', async () => {
    api.apply(deployment(1));
    api.failNext('patch', SCALE_PATH, 500, 2);
    api.failNext('get', SCALE_PATH, 503, 1);
    const delays: number[] = [];
    const a = actuator({
      retry: { initialMs: 10, factor: 2, maxMs: 25, attempts: 5 },
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    await a.scale(rev, 5);
    expect(replicas()).toBe(5);
    expect(delays).toEqual([10, 20, 25]);
  });

  it('rejects with a coded error once the attempts are used up, or at once when the failure is permanent', async () => {
    api.apply(deployment(1));
    api.failNext('patch', SCALE_PATH, 500, 10);
    const a = actuator({ retry: { initialMs: 1, attempts: 3 } });
    const err = await a.scale(rev, 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActuatorError);
    expect((err as ActuatorError).code).toBe('ERR_ACTUATOR_SCALE');
    expect((err as ActuatorError).message).toMatch(/HTTP 500.*3 attempts/);
    expect(api.requests.filter((r) => r.verb === 'patch')).toHaveLength(3);
    expect(replicas()).toBe(1);

    api.requests.length = 0;
    const missing = await a.scale({ namespace: NS, name: 'nope' }, 1).catch((e: unknown) => e);
    expect((missing as ActuatorError).code).toBe('ERR_ACTUATOR_SCALE');
    expect((missing as ActuatorError).message).toMatch(/HTTP 404/);
    expect(api.requests).toHaveLength(1);
  });

  it('re-reads after a conflict instead of overwriting: a concurrent change to the wanted count is kept', async () => {
    api.apply(deployment(1));
    api.failNext('patch', SCALE_PATH, 409);
    // Meanwhile another writer scales to the count we want: the re-read sees it and writes nothing more.
    const a = actuator({
      sleep: async () => {
        api.apply(deployment(3));
      },
    });
    await a.scale(rev, 3);
    expect(replicas()).toBe(3);
    expect(api.requests.map((r) => r.verb)).toEqual(['get', 'patch', 'get']);
  });

  it('re-applies on the fresh resourceVersion after a conflict', async () => {
    api.apply(deployment(1));
    api.failNext('patch', SCALE_PATH, 409);
    const a = actuator({
      sleep: async () => {
        api.apply(deployment(7));
      },
    });
    await a.scale(rev, 3);
    expect(replicas()).toBe(3);
    expect(api.requests.map((r) => r.verb)).toEqual(['get', 'patch', 'get', 'patch']);
  });

  it('rejects a bad count', async () => {
    await expect(actuator().scale(rev, -1)).rejects.toThrow(/desiredPods/);
    await expect(actuator().scale(rev, 1.5)).rejects.toThrow(/desiredPods/);
  });
});

describe('KubernetesActuator.setPodDeletionCost', () => {
  const pod = (name: string, annotations: Record<string, string> = {}) =>
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NS, annotations },
      spec: { containers: [{ name: 'user-container', image: 'app' }] },
    });
  const annotationsOf = (name: string) =>
    api.get<{ metadata: { annotations?: Record<string, string> } } & { kind: string }>('Pod', NS, name)
      ?.metadata.annotations;

  it('merges the cost into the Pod’s annotations, keeping the others, and takes a Pod already gone as done', async () => {
    pod('hello-00001-deployment-abc', { keep: 'me' });
    const a = actuator();
    await a.setPodDeletionCost(NS, 'hello-00001-deployment-abc', 3);
    expect(annotationsOf('hello-00001-deployment-abc')).toEqual({
      keep: 'me',
      'controller.kubernetes.io/pod-deletion-cost': '3',
    });
    await a.setPodDeletionCost(NS, 'hello-00001-deployment-abc', 0);
    expect(annotationsOf('hello-00001-deployment-abc')?.['controller.kubernetes.io/pod-deletion-cost']).toBe(
      '0',
    );
    await expect(a.setPodDeletionCost(NS, 'gone', 1)).resolves.toBeUndefined();
  });

  it('rejects, naming the Pod, when the write fails, and a cost that is no 32-bit integer', async () => {
    pod('p');
    api.failNext('patch', `/api/v1/namespaces/${NS}/pods/p`, 403);
    const a = actuator();
    await expect(a.setPodDeletionCost(NS, 'p', 1)).rejects.toThrow(/Pod ns1\/p.*403/);
    await expect(a.setPodDeletionCost(NS, 'p', 1.5)).rejects.toThrow(RangeError);
    expect(annotationsOf('p')?.['controller.kubernetes.io/pod-deletion-cost']).toBeUndefined();
  });
});

describe('KubernetesActuator.setMode', () => {
  it('points the public slice at the ready Pods in Serve mode and at the activators in Proxy mode', async () => {
    api.apply(privateSlice(['10.0.0.1', '10.0.0.2'], ['10.0.0.3']));
    api.apply(activatorSlice(['10.1.0.1', '10.1.0.2', '10.1.0.3']));
    const a = actuator();

    await a.setMode(rev, 'Serve', 2);
    expect(publicIps()).toEqual(['10.0.0.1', '10.0.0.2']);
    const [serve] = publicSlices();
    expect(serve?.metadata?.labels).toMatchObject({
      'kubernetes.io/service-name': 'hello-00001',
      'networking.internal.knative.dev/serviceType': 'Public',
      'serving.knative.dev/revision': 'hello-00001',
      'endpointslice.kubernetes.io/managed-by': MANAGED_BY,
    });
    // Only the public ports are carried over.
    expect(serve?.ports?.map((p) => `${p.name}:${p.port}`)).toEqual(['http:8012', 'https:8112']);
    expect(serve?.endpoints?.[0]?.targetRef?.name).toBe('pod-10.0.0.1');

    api.requests.length = 0;
    await a.setMode(rev, 'Proxy', 2);
    // The flip is one update of the same slice: the Service never goes without endpoints.
    expect(writes()).toEqual([
      `update /apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/hello-00001-ipv4`,
    ]);
    const proxied = publicIps();
    expect(proxied).toHaveLength(2);
    for (const ip of proxied) expect(ip).toMatch(/^10\.1\.0\./);

    await a.setMode(rev, 'Serve', 2);
    expect(publicIps()).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(publicSlices()).toHaveLength(1);
  });

  it('chooses a stable subset of activators keyed on the revision name', async () => {
    api.apply(activatorSlice(['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5']));
    const a = actuator();
    await a.setMode(rev, 'Proxy', 2);
    const first = publicIps();
    expect(first).toHaveLength(2);

    // Another activator joining moves at most one of the chosen ones.
    api.apply(activatorSlice(['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5', '10.1.0.6']));
    await a.setMode(rev, 'Proxy', 2);
    const second = publicIps();
    expect(second.filter((ip) => first.includes(ip)).length).toBeGreaterThanOrEqual(1);

    // Asking for more than there are, or for 0, means all.
    await a.setMode(rev, 'Proxy', 10);
    expect(publicIps()).toHaveLength(6);
    await a.setMode(rev, 'Proxy', 0);
    expect(publicIps()).toHaveLength(6);
  });

  it('falls back to Proxy without ready Pods and to Serve without activators', async () => {
    api.apply(privateSlice([], ['10.0.0.3']));
    api.apply(activatorSlice(['10.1.0.1']));
    const a = actuator();
    await a.setMode(rev, 'Serve', 2);
    expect(publicIps()).toEqual(['10.1.0.1']);

    api.apply(privateSlice(['10.0.0.1']));
    api.apply(activatorSlice([]));
    await a.setMode(rev, 'Proxy', 2);
    expect(publicIps()).toEqual(['10.0.0.1']);

    // Neither: the public slice is left with no endpoints.
    api.apply(privateSlice([]));
    await a.setMode(rev, 'Proxy', 2);
    expect(publicIps()).toEqual([]);
    expect(publicSlices()).toHaveLength(1);
  });

  it('reads the activator Service from the configured namespace and name', async () => {
    api.apply(activatorSlice(['10.9.0.1'], 'system', 'my-activator'));
    api.apply(activatorSlice(['10.1.0.1']));
    await actuator({ activatorNamespace: 'system', activatorService: 'my-activator' }).setMode(
      rev,
      'Proxy',
      2,
    );
    expect(publicIps()).toEqual(['10.9.0.1']);
  });

  it('writes nothing when the public slices already say the same', async () => {
    api.apply(privateSlice(['10.0.0.1', '10.0.0.2']));
    api.apply(activatorSlice(['10.1.0.1', '10.1.0.2', '10.1.0.3']));
    const a = actuator();
    await a.setMode(rev, 'Serve', 2);
    await a.setMode(rev, 'Proxy', 2);
    api.requests.length = 0;
    await a.setMode(rev, 'Proxy', 2);
    await a.setMode(rev, 'Proxy', 2);
    expect(writes()).toEqual([]);
    await a.setMode(rev, 'Serve', 2);
    expect(writes()).toHaveLength(1);
    api.requests.length = 0;
    await a.setMode(rev, 'Serve', 2);
    expect(writes()).toEqual([]);
  });

  it('repairs a public slice edited behind its back, and retries failed and conflicting writes', async () => {
    api.apply(privateSlice(['10.0.0.1']));
    api.apply(activatorSlice(['10.1.0.1']));
    const a = actuator();
    await a.setMode(rev, 'Serve', 2);
    const [slice] = publicSlices();
    api.apply({ ...slice!, endpoints: [{ addresses: ['10.6.6.6'], conditions: { ready: true } }] });
    await a.setMode(rev, 'Serve', 2);
    expect(publicIps()).toEqual(['10.0.0.1']);

    const path = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/${slice!.metadata!.name}`;
    api.failNext('update', path, 409);
    api.failNext('list', /endpointslices$/, 500);
    await a.setMode(rev, 'Proxy', 2);
    expect(publicIps()).toEqual(['10.1.0.1']);
  });

  it('rejects with a coded error when writes keep failing', async () => {
    api.apply(privateSlice(['10.0.0.1']));
    api.failNext('create', /endpointslices$/, 503, 10);
    const err = await actuator({ retry: { initialMs: 1, attempts: 2 } })
      .setMode(rev, 'Serve', 2)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActuatorError);
    expect((err as ActuatorError).code).toBe('ERR_ACTUATOR_MODE');
  });
});

describe('KubernetesActuator.start', () => {
  /** Starts `a` and counts the changes of the activators it reports. */
  async function watching(a: KubernetesActuator): Promise<{ changes: number }> {
    const seen = { changes: 0 };
    started.push(a);
    await a.start(() => seen.changes++);
    return seen;
  }
  /**
   * Time for a report that must not come. The actuator shows nothing else of what it has read, so no
   * later event marks the point where it would have reported.
   */
  const settle = () => new Promise((r) => setTimeout(r, 100));

  it('reports each change of the ready activators, and nothing else', async () => {
    api.apply(activatorSlice(['10.1.0.1', '10.1.0.2']));
    const seen = await watching(actuator());
    expect(await eventually(() => seen.changes === 1, 2000)).toBe(true);

    // One activator replaced by another.
    api.apply(activatorSlice(['10.1.0.1', '10.1.0.3']));
    expect(await eventually(() => seen.changes === 2, 2000)).toBe(true);

    // A label, the profiling port, an activator not ready yet: nothing a public slice would copy.
    const slice = activatorSlice(['10.1.0.1', '10.1.0.3']);
    api.apply({ ...slice, metadata: { ...slice.metadata, annotations: { note: 'x' } } });
    api.apply({
      ...slice,
      ports: slice.ports!.map((p) => (p.name === 'http-profiling' ? { ...p, port: 8009 } : p)),
    });
    api.apply({
      ...slice,
      endpoints: [...(slice.endpoints ?? []), { addresses: ['10.1.0.4'], conditions: { ready: false } }],
    });
    // Another Service's slices, and an activator Service elsewhere.
    api.apply(activatorSlice(['10.2.0.1'], 'knative-serving', 'other'));
    api.apply(activatorSlice(['10.2.0.2'], 'elsewhere'));
    await settle();
    expect(seen.changes).toBe(2);

    // It became ready; then the slice is gone.
    api.apply({
      ...slice,
      endpoints: [...(slice.endpoints ?? []), { addresses: ['10.1.0.4'], conditions: { ready: true } }],
    });
    expect(await eventually(() => seen.changes === 3, 2000)).toBe(true);
    api.delete('EndpointSlice', 'knative-serving', slice.metadata!.name!);
    expect(await eventually(() => seen.changes === 4, 2000)).toBe(true);
  });

  it('watches the configured namespace and Service, and reports nothing once stopped', async () => {
    const a = actuator({ activatorNamespace: 'system', activatorService: 'my-activator' });
    const seen = await watching(a);
    api.apply(activatorSlice(['10.1.0.1']));
    api.apply(activatorSlice(['10.9.0.1'], 'system', 'my-activator'));
    expect(await eventually(() => seen.changes === 1, 2000)).toBe(true);
    await settle();
    expect(seen.changes).toBe(1);
    expect(
      api.requests.filter((r) => r.verb === 'watch').map((r) => [r.path, r.query['labelSelector']]),
    ).toEqual([
      [
        '/apis/discovery.k8s.io/v1/namespaces/system/endpointslices',
        'kubernetes.io/service-name=my-activator',
      ],
    ]);

    await a.stop();
    // An actuator still running reports the change; by then the stopped one has reported nothing.
    const other = actuator({ activatorNamespace: 'system', activatorService: 'my-activator' });
    const live = await watching(other);
    expect(await eventually(() => live.changes === 1, 2000)).toBe(true);
    api.apply(activatorSlice(['10.9.0.2'], 'system', 'my-activator'));
    expect(await eventually(() => live.changes === 2, 2000)).toBe(true);
    await other.stop();
    expect(seen.changes).toBe(1);
    expect(await eventually(() => api.openWatches === 0, 2000)).toBe(true);
  });

  it('keeps watching through a dropped watch and still reports the change made meanwhile', async () => {
    api.apply(activatorSlice(['10.1.0.1']));
    const seen = await watching(actuator());
    expect(await eventually(() => seen.changes === 1, 2000)).toBe(true);
    api.cutWatches();
    api.apply(activatorSlice(['10.1.0.2']));
    expect(await eventually(() => seen.changes === 2, 3000)).toBe(true);
  });
});

describe('KubernetesActuator options', () => {
  it('names the bad option', () => {
    expect(() => actuator({ retry: { attempts: 0 } })).toThrow(/retry\.attempts/);
    expect(() => actuator({ retry: { initialMs: 0 } })).toThrow(/retry\.initialMs/);
    expect(() => actuator({ retry: { initialMs: 10, maxMs: 5 } })).toThrow(/retry\.maxMs/);
    expect(() => actuator({ activatorNamespace: '' })).toThrow(/activatorNamespace/);
  });
});
