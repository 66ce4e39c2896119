import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type Informer,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1EndpointSlice,
  type V1Service,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestApiServer } from './support/test-apiserver.js';

const SLICES = '/apis/discovery.k8s.io/v1/endpointslices';
const REVISIONS = { group: 'serving.knative.dev', version: 'v1', plural: 'revisions' };

let server: TestApiServer;
const informers: Informer<KubernetesObject>[] = [];
/** Set while tearing down, so error handlers stop restarting informers. */
let closing = false;

beforeEach(async () => {
  closing = false;
  server = await TestApiServer.start();
});

afterEach(async () => {
  closing = true;
  for (const informer of informers.splice(0)) await informer.stop();
  await server.close();
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Failed {
  code: number;
  /** The Status sent; the client hands error bodies over as unparsed text. */
  body: { kind: string; reason: string; code: number; message: string };
}

async function apiError(p: Promise<unknown>): Promise<Failed> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException) return { code: err.code, body: JSON.parse(String(err.body)) };
    throw err;
  }
  throw new Error('expected the call to fail');
}

function slice(
  name: string,
  ns: string,
  ips: string[],
  labels: Record<string, string> = { app: 'a' },
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8012 }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}

/** The smallest Service the API server accepts: one port. */
function service(name: string): V1Service {
  return { metadata: { name }, spec: { ports: [{ port: 80 }] } };
}

interface Recorded {
  adds: string[];
  updates: string[];
  deletes: string[];
  errors: number;
}

/** Starts an informer on every EndpointSlice labelled `app`, restarting it after errors as a real consumer must. */
async function sliceInformer(
  labelSelector = 'app',
): Promise<{ informer: Informer<V1EndpointSlice> & ObjectCache<V1EndpointSlice>; seen: Recorded }> {
  const api = server.kubeConfig().makeApiClient(DiscoveryV1Api);
  const informer = makeInformer<V1EndpointSlice>(
    server.kubeConfig(),
    SLICES,
    () => api.listEndpointSliceForAllNamespaces({ labelSelector }),
    labelSelector,
  );
  const seen: Recorded = { adds: [], updates: [], deletes: [], errors: 0 };
  const key = (s: V1EndpointSlice) => `${s.metadata?.namespace}/${s.metadata?.name}`;
  informer.on('add', (s) => seen.adds.push(key(s)));
  informer.on('update', (s) => seen.updates.push(`${key(s)}@${s.endpoints?.length}`));
  informer.on('delete', (s) => seen.deletes.push(key(s)));
  informer.on('error', () => {
    seen.errors++;
    setTimeout(() => {
      if (!closing) void informer.start();
    }, 10);
  });
  informers.push(informer as Informer<KubernetesObject>);
  await informer.start();
  return { informer, seen };
}

describe('TestApiServer with the real client', () => {
  it('creates, reads, lists, updates and deletes core objects', async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const created = await core.createNamespacedPod({
      namespace: 'ns1',
      body: {
        metadata: { name: 'p1', labels: { app: 'x' } },
        spec: { containers: [{ name: 'c', image: 'i' }] },
      },
    });
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.metadata?.resourceVersion).toBe('1');
    expect(created.kind).toBe('Pod');

    const read = await core.readNamespacedPod({ namespace: 'ns1', name: 'p1' });
    expect(read.spec?.containers[0]?.image).toBe('i');

    read.spec!.containers[0]!.image = 'j';
    const updated = await core.replaceNamespacedPod({ namespace: 'ns1', name: 'p1', body: read });
    expect(updated.metadata?.resourceVersion).toBe('2');

    const list = await core.listPodForAllNamespaces();
    expect(list.metadata?.resourceVersion).toBe('2');
    expect(list.items.map((p) => p.spec?.containers[0]?.image)).toEqual(['j']);

    await core.deleteNamespacedPod({ namespace: 'ns1', name: 'p1' });
    expect((await core.listNamespacedPod({ namespace: 'ns1' })).items).toEqual([]);
    expect(server.resourceVersion).toBe('3');
  });

  it('answers 404, 409 Conflict and 409 AlreadyExists with Status bodies', async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const missing = await apiError(core.readNamespacedService({ namespace: 'ns1', name: 'nope' }));
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 });
    expect((await apiError(core.deleteNamespacedService({ namespace: 'ns1', name: 'nope' }))).code).toBe(404);
    expect(
      (await apiError(core.patchNamespacedService({ namespace: 'ns1', name: 'nope', body: [] }))).code,
    ).toBe(404);

    const svc = await core.createNamespacedService({ namespace: 'ns1', body: service('s') });
    const exists = await apiError(core.createNamespacedService({ namespace: 'ns1', body: service('s') }));
    expect(exists.code).toBe(409);
    expect(exists.body.reason).toBe('AlreadyExists');

    await core.replaceNamespacedService({
      namespace: 'ns1',
      name: 's',
      body: { ...svc, metadata: { ...svc.metadata, labels: { v: '2' } } },
    });
    // Writing again from the stale copy loses the race.
    const stale = await apiError(
      core.replaceNamespacedService({
        namespace: 'ns1',
        name: 's',
        body: { ...svc, metadata: { ...svc.metadata, labels: { v: '3' } } },
      }),
    );
    expect(stale.code).toBe(409);
    expect(stale.body).toMatchObject({ kind: 'Status', reason: 'Conflict' });
    expect(server.get('Service', 'ns1', 's')?.metadata?.labels).toEqual({ v: '2' });
  });

  it('patches with JSON patch, merge patch and strategic merge patch', async () => {
    const kc = server.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: 'ns1',
      body: { metadata: { name: 'c' }, data: { a: '1', b: '2' } },
    });
    await core.patchNamespacedConfigMap({
      namespace: 'ns1',
      name: 'c',
      body: [
        { op: 'replace', path: '/data/a', value: '10' },
        { op: 'add', path: '/data/c', value: '3' },
      ],
    });
    await core.patchNamespacedConfigMap(
      { namespace: 'ns1', name: 'c', body: { data: { b: null, d: '4' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const cm = await core.patchNamespacedConfigMap(
      { namespace: 'ns1', name: 'c', body: { metadata: { labels: { x: 'y' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(cm.data).toEqual({ a: '10', c: '3', d: '4' });
    expect(cm.metadata?.labels).toEqual({ x: 'y' });

    // A failed JSON patch `test` is a 422, and a patch naming an old resourceVersion a conflict.
    const failed = await apiError(
      core.patchNamespacedConfigMap({
        namespace: 'ns1',
        name: 'c',
        body: [{ op: 'test', path: '/data/a', value: '1' }],
      }),
    );
    expect(failed.code).toBe(422);
    const stale = await apiError(
      core.patchNamespacedConfigMap(
        { namespace: 'ns1', name: 'c', body: { metadata: { resourceVersion: '1' }, data: { a: '0' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
    expect(stale.code).toBe(409);
  });

  it('reads and patches the scale subresource of a deployment', async () => {
    const apps = server.kubeConfig().makeApiClient(AppsV1Api);
    server.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'ns1' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'd' } },
        template: { metadata: { labels: { app: 'd' } } },
      },
    });
    const scale = await apps.readNamespacedDeploymentScale({ namespace: 'ns1', name: 'd' });
    expect(scale.kind).toBe('Scale');
    expect(scale.apiVersion).toBe('autoscaling/v1');
    expect(scale.spec?.replicas).toBe(1);
    expect(scale.status?.selector).toBe('app=d');

    const patched = await apps.patchNamespacedDeploymentScale(
      { namespace: 'ns1', name: 'd', body: { spec: { replicas: 3 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(patched.spec?.replicas).toBe(3);
    expect((await apps.readNamespacedDeployment({ namespace: 'ns1', name: 'd' })).spec?.replicas).toBe(3);

    await apps.patchNamespacedDeploymentScale({
      namespace: 'ns1',
      name: 'd',
      body: [{ op: 'replace', path: '/spec/replicas', value: 0 }],
    });
    expect(server.get<V1Deployment>('Deployment', 'ns1', 'd')?.spec?.replicas).toBe(0);

    const current = await apps.readNamespacedDeploymentScale({ namespace: 'ns1', name: 'd' });
    await apps.replaceNamespacedDeploymentScale({
      namespace: 'ns1',
      name: 'd',
      body: { ...current, spec: { replicas: 5 } },
    });
    expect((await apps.readNamespacedDeployment({ namespace: 'ns1', name: 'd' })).spec?.replicas).toBe(5);
    // The old Scale's resourceVersion is stale now.
    const stale = await apiError(
      apps.replaceNamespacedDeploymentScale({
        namespace: 'ns1',
        name: 'd',
        body: { ...current, spec: { replicas: 7 } },
      }),
    );
    expect(stale.code).toBe(409);
  });

  it('serves Knative Revisions as custom objects', async () => {
    const custom = server.kubeConfig().makeApiClient(CustomObjectsApi);
    const ref = { group: 'serving.knative.dev', version: 'v1', plural: 'revisions' };
    await custom.createNamespacedCustomObject({
      ...ref,
      namespace: 'ns1',
      body: {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Revision',
        metadata: { name: 'r1' },
        spec: { containerConcurrency: 1 },
      },
    });
    await custom.patchNamespacedCustomObject(
      { ...ref, namespace: 'ns1', name: 'r1', body: { spec: { timeoutSeconds: 30 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const list = await custom.listClusterCustomObject(ref);
    expect(list.items).toHaveLength(1);
    expect(list.items[0].spec).toEqual({ containerConcurrency: 1, timeoutSeconds: 30 });
    expect(list.items[0].metadata.generation).toBe(2);
  });

  it('filters lists by label and field selectors', async () => {
    server.apply(slice('s1', 'ns1', [], { app: 'a', tier: 'x' }));
    server.apply(slice('s2', 'ns1', [], { app: 'b' }));
    server.apply(slice('s3', 'ns2', [], { other: 'c' }));
    const discovery = server.kubeConfig().makeApiClient(DiscoveryV1Api);
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await discovery.listEndpointSliceForAllNamespaces({ labelSelector, fieldSelector })).items.map(
        (s) => s.metadata?.name,
      );
    expect(await names('app')).toEqual(['s1', 's2']);
    expect(await names('!app')).toEqual(['s3']);
    expect(await names('app=a')).toEqual(['s1']);
    expect(await names('app!=a')).toEqual(['s2', 's3']);
    expect(await names('app,tier!=y')).toEqual(['s1', 's2']);
    expect(await names('app in (a,b),!tier')).toEqual(['s2']);
    expect(await names(undefined, 'metadata.name=s3')).toEqual(['s3']);
    expect(await names('app', 'metadata.namespace=ns1,metadata.name!=s1')).toEqual(['s2']);
    expect((await apiError(names('a=b=c'))).code).toBe(400);
  });

  it('streams adds, updates and deletes to an informer, also as objects enter and leave the selector', async () => {
    server.apply(slice('s1', 'ns1', ['10.0.0.1']));
    const { informer, seen } = await sliceInformer();
    expect(seen.adds).toEqual(['ns1/s1']);

    server.apply(slice('s2', 'ns2', ['10.0.0.2']));
    server.apply(slice('s1', 'ns1', ['10.0.0.1', '10.0.0.3']));
    server.delete('EndpointSlice', 'ns2', 's2');
    server.apply(slice('s3', 'ns1', [], { other: 'x' }));
    server.apply(slice('s3', 'ns1', [], { app: 'late' }));
    server.apply(slice('s1', 'ns1', ['10.0.0.1'], { app: 'gone' }));
    server.apply(slice('s1', 'ns1', ['10.0.0.1'], {}));
    await waitFor(() => seen.deletes.length === 2, 'the deletes');
    expect(seen.adds).toEqual(['ns1/s1', 'ns2/s2', 'ns1/s3']);
    expect(seen.updates).toEqual(['ns1/s1@2', 'ns1/s1@1']);
    expect(seen.deletes).toEqual(['ns2/s2', 'ns1/s1']);
    expect(informer.list().map((s) => s.metadata?.name)).toEqual(['s3']);
    expect(seen.errors).toBe(0);
  });

  it('resumes a cut watch from its resourceVersion with nothing lost or repeated', async () => {
    for (let i = 0; i < 3; i++) server.apply(slice(`s${i}`, 'ns1', ['10.0.0.1']));
    const { informer, seen } = await sliceInformer();
    server.apply(slice('s0', 'ns1', ['10.0.0.1', '10.0.0.2']));
    await waitFor(() => seen.updates.length === 1, 'the first update');

    // The client reports a cut stream as an informer error and stops; the error handler restarts it.
    server.cutWatches();
    expect(server.openWatches).toBe(0);
    // Changes made while the informer is disconnected are replayed when it resumes.
    server.apply(slice('s1', 'ns1', ['10.0.0.1', '10.0.0.2']));
    server.apply(slice('s3', 'ns1', ['10.0.0.3']));
    server.delete('EndpointSlice', 'ns1', 's2');
    await waitFor(() => seen.deletes.length === 1 && server.openWatches === 1, 'the resumed watch');
    server.apply(slice('s4', 'ns1', ['10.0.0.4']));
    await waitFor(() => seen.adds.length === 5, 'the add after resuming');

    expect(seen.adds).toEqual(['ns1/s0', 'ns1/s1', 'ns1/s2', 'ns1/s3', 'ns1/s4']);
    expect(seen.updates).toEqual(['ns1/s0@2', 'ns1/s1@2']);
    expect(seen.deletes).toEqual(['ns1/s2']);
    expect(informer.list().length).toBe(4);
    // It resumed: one list only, and the second watch started from the first one's last resourceVersion.
    const gets = server.requests.filter((r) => r.path === SLICES);
    expect(gets.filter((r) => r.verb === 'list')).toHaveLength(1);
    expect(gets.filter((r) => r.verb === 'watch').map((r) => r.query['resourceVersion'])).toEqual(['3', '4']);
  });

  it('sends 410 Expired to a watch older than the history, so the informer relists', async () => {
    server.apply(slice('s1', 'ns1', ['10.0.0.1']));
    server.apply(slice('s2', 'ns1', ['10.0.0.2']));
    const { informer, seen } = await sliceInformer();
    server.cutWatches();
    server.apply(slice('s1', 'ns1', ['10.0.0.1', '10.0.0.9']));
    server.delete('EndpointSlice', 'ns1', 's2');
    server.apply(slice('s3', 'ns1', ['10.0.0.3']));
    server.compactHistory();
    await waitFor(() => seen.adds.length === 3 && seen.deletes.length === 1, 'the relist');
    expect(seen.updates).toEqual(['ns1/s1@2']);
    expect(
      informer
        .list()
        .map((s) => s.metadata?.name)
        .sort(),
    ).toEqual(['s1', 's3']);
    const lists = server.requests.filter((r) => r.path === SLICES && r.verb === 'list');
    expect(lists).toHaveLength(2);
  });

  it('writes a 410 ERROR event and ends the stream for an expired resourceVersion', async () => {
    server.apply(slice('s1', 'ns1', []));
    server.apply(slice('s1', 'ns1', ['10.0.0.1']));
    server.compactHistory();
    const res = await fetch(`${server.url}${SLICES}?watch=true&resourceVersion=1`);
    expect(res.status).toBe(200);
    const [line] = (await res.text()).trim().split('\n');
    expect(JSON.parse(line!)).toMatchObject({
      type: 'ERROR',
      object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 },
    });
    // The current resourceVersion is still fine.
    const ok = await fetch(`${server.url}${SLICES}?watch=1&resourceVersion=2&timeoutSeconds=0.05`);
    expect(await ok.text()).toBe('');
  });

  it('replays from an old resourceVersion, honours timeoutSeconds and sends bookmarks', async () => {
    const s = await TestApiServer.start({ bookmarkIntervalMs: 20 });
    try {
      s.apply(slice('s1', 'ns1', []));
      s.apply(slice('s1', 'ns1', ['10.0.0.1']));
      s.apply(slice('s2', 'ns2', []));
      const started = Date.now();
      const res = await fetch(
        `${s.url}/apis/discovery.k8s.io/v1/namespaces/ns1/endpointslices?watch=true&resourceVersion=1&allowWatchBookmarks=true&timeoutSeconds=0.2`,
      );
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
      const events = (await res.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; object: KubernetesObject });
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      expect(events[0]).toMatchObject({
        type: 'MODIFIED',
        object: { metadata: { name: 's1', resourceVersion: '2' } },
      });
      expect(events.slice(1).every((e) => e.type === 'BOOKMARK')).toBe(true);
      expect(events.at(-1)?.object.metadata?.resourceVersion).toBe('3');
      expect(events.length).toBeGreaterThan(2);
    } finally {
      await s.close();
    }
  });

  it('answers what its authorizer denies with 403 Forbidden, every time, as the real API server words it', async () => {
    const s = await TestApiServer.start({ authorize: (r) => !r.path.includes('/endpointslices') });
    try {
      const discovery = s.kubeConfig().makeApiClient(DiscoveryV1Api);
      const core = s.kubeConfig().makeApiClient(CoreV1Api);
      for (let i = 0; i < 2; i++) {
        const denied = await apiError(discovery.listEndpointSliceForAllNamespaces());
        expect(denied).toEqual({
          code: 403,
          body: expect.objectContaining({
            kind: 'Status',
            code: 403,
            reason: 'Forbidden',
            message:
              'endpointslices.discovery.k8s.io is forbidden: User "system:anonymous" cannot list resource "endpointslices" in API group "discovery.k8s.io" at the cluster scope',
          }),
        });
      }
      const inNamespace = await apiError(discovery.listNamespacedEndpointSlice({ namespace: 'ns1' }));
      expect(inNamespace.body.message).toMatch(
        /cannot list resource "endpointslices" .* in the namespace "ns1"$/,
      );
      expect((await core.listNamespacedEndpoints({ namespace: 'ns1' })).items).toEqual([]);
      // Denied requests are recorded too; a new authorizer applies at once.
      expect(s.requests.map((r) => r.verb)).toEqual(['list', 'list', 'list', 'list']);
      s.authorize = undefined;
      expect((await discovery.listEndpointSliceForAllNamespaces()).items).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('merges lists by their patch merge key in a strategic merge patch, and replaces atomic ones', async () => {
    const apps = server.kubeConfig().makeApiClient(AppsV1Api);
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const discovery = server.kubeConfig().makeApiClient(DiscoveryV1Api);
    const smp = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
    server.apply<V1Deployment>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'ns1' },
      spec: {
        selector: { matchLabels: { app: 'd' } },
        template: {
          metadata: { labels: { app: 'd' } },
          spec: {
            containers: [
              {
                name: 'app',
                image: 'app:1',
                env: [{ name: 'A', value: '1' }],
                ports: [{ containerPort: 8080, name: 'http' }],
              },
              { name: 'sidecar', image: 'sidecar:1' },
            ],
          },
        },
      },
    });
    const patched = await apps.patchNamespacedDeployment(
      {
        namespace: 'ns1',
        name: 'd',
        body: {
          spec: {
            template: {
              spec: {
                containers: [
                  { name: 'app', env: [{ name: 'B', value: '2' }], ports: [{ containerPort: 9090 }] },
                  { name: 'sidecar', $patch: 'delete' },
                  { name: 'new', image: 'new:1' },
                ],
              },
            },
          },
        },
      },
      smp,
    );
    expect(patched.spec?.template.spec?.containers).toEqual([
      {
        name: 'app',
        image: 'app:1',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
        ports: [{ containerPort: 8080, name: 'http' }, { containerPort: 9090 }],
      },
      { name: 'new', image: 'new:1' },
    ]);
    // A JSON merge patch replaces the same list whole.
    const merged = await apps.patchNamespacedDeployment(
      {
        namespace: 'ns1',
        name: 'd',
        body: { spec: { template: { spec: { containers: [{ name: 'only', image: 'o:1' }] } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(merged.spec?.template.spec?.containers).toEqual([{ name: 'only', image: 'o:1' }]);

    // Service ports merge by port.
    await core.createNamespacedService({
      namespace: 'ns1',
      body: { metadata: { name: 's' }, spec: { ports: [{ name: 'http', port: 80 }] } },
    });
    const svc = await core.patchNamespacedService(
      { namespace: 'ns1', name: 's', body: { spec: { ports: [{ name: 'https', port: 443 }] } } },
      smp,
    );
    expect(svc.spec?.ports?.map((p) => `${p.name}:${p.port}`)).toEqual(['http:80', 'https:443']);

    // EndpointSlice endpoints are atomic: replaced, not merged.
    server.apply(slice('e', 'ns1', ['10.0.0.1', '10.0.0.2']));
    const replaced = await discovery.patchNamespacedEndpointSlice(
      { namespace: 'ns1', name: 'e', body: { endpoints: [{ addresses: ['10.0.0.3'] }] } },
      smp,
    );
    expect(replaced.endpoints).toEqual([{ addresses: ['10.0.0.3'] }]);

    // Custom resources take no strategic merge patch.
    server.apply({
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Revision',
      metadata: { name: 'r', namespace: 'ns1' },
    });
    const custom = server.kubeConfig().makeApiClient(CustomObjectsApi);
    const refused = await apiError(
      custom.patchNamespacedCustomObject(
        { ...REVISIONS, namespace: 'ns1', name: 'r', body: { spec: { timeoutSeconds: 1 } } },
        smp,
      ),
    );
    expect(refused.code).toBe(415);
  });

  it('refuses a custom resource update without a resourceVersion (422) or with a stale one (409)', async () => {
    const custom = server.kubeConfig().makeApiClient(CustomObjectsApi);
    const created = (await custom.createNamespacedCustomObject({
      ...REVISIONS,
      namespace: 'ns1',
      body: { apiVersion: 'serving.knative.dev/v1', kind: 'Revision', metadata: { name: 'r1' }, spec: {} },
    })) as KubernetesObject;
    const { resourceVersion, ...unversioned } = created.metadata!;
    const missing = await apiError(
      custom.replaceNamespacedCustomObject({
        ...REVISIONS,
        namespace: 'ns1',
        name: 'r1',
        body: { ...created, metadata: unversioned },
      }),
    );
    expect(missing).toEqual({
      code: 422,
      body: expect.objectContaining({
        reason: 'Invalid',
        message:
          'revisions.serving.knative.dev "r1" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
        details: {
          name: 'r1',
          group: 'serving.knative.dev',
          kind: 'revisions',
          causes: [
            {
              reason: 'FieldValueInvalid',
              message: 'Invalid value: 0x0: must be specified for an update',
              field: 'metadata.resourceVersion',
            },
          ],
        },
      }),
    });
    const update = (labels: Record<string, string>) =>
      custom.replaceNamespacedCustomObject({
        ...REVISIONS,
        namespace: 'ns1',
        name: 'r1',
        body: { ...created, metadata: { ...created.metadata, labels } },
      });
    await update({ v: '1' });
    const stale = await apiError(update({ v: '2' }));
    expect(stale.code).toBe(409);
    expect(stale.body.reason).toBe('Conflict');
    // A built-in type takes an unconditional update.
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'ns1', body: { metadata: { name: 'c' } } });
    await core.replaceNamespacedConfigMap({
      namespace: 'ns1',
      name: 'c',
      body: { metadata: { name: 'c' }, data: { a: '1' } },
    });
  });

  it('validates what clients write: required fields, formats, defaults, unknown fields', async () => {
    const discovery = server.kubeConfig().makeApiClient(DiscoveryV1Api);
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const bad = await apiError(
      discovery.createNamespacedEndpointSlice({
        namespace: 'ns1',
        body: {
          metadata: { name: 'Bad_Name', labels: { app: 'not ok' } },
          ports: [{ name: 'HTTP', port: 80 }],
          endpoints: [{ addresses: [] }, { addresses: ['10.0.0.300'] }],
        } as unknown as V1EndpointSlice,
      }),
    );
    expect(bad.code).toBe(422);
    expect(bad.body.reason).toBe('Invalid');
    expect(bad.body.message).toMatch(
      /^EndpointSlice\.discovery\.k8s\.io "Bad_Name" is invalid: \[metadata\.name: /,
    );
    const causes = (bad.body as unknown as { details: { causes: { field: string }[] } }).details.causes;
    expect(causes.map((c) => c.field)).toEqual([
      'metadata.name',
      'metadata.labels',
      'addressType',
      'ports[0].name',
      // Addresses of no known type go unchecked, as in Kubernetes.
      'endpoints[0].addresses',
    ]);

    // A Service name is a DNS-1035 label; more than one port needs names.
    const service = await apiError(
      core.createNamespacedService({
        namespace: 'ns1',
        body: { metadata: { name: '1svc' }, spec: { ports: [{ port: 80 }, { port: 81, name: 'b' }] } },
      }),
    );
    expect(service.body.message).toBe(
      `Service "1svc" is invalid: [metadata.name: Invalid value: "1svc": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'), spec.ports[0].name: Required value]`,
    );

    // Loopback endpoints are refused, unless the server was told to take them.
    const loopback = await apiError(
      discovery.createNamespacedEndpointSlice({ namespace: 'ns1', body: slice('lo', 'ns1', ['127.0.0.1']) }),
    );
    expect(loopback.body.message).toMatch(/may not be in the loopback range/);

    // Defaults filled in, unknown fields dropped with a warning, or refused under Strict. (The typed
    // client drops unknown fields itself: these go out raw.)
    const post = (name: string, query = '') =>
      fetch(`${server.url}/apis/discovery.k8s.io/v1/namespaces/ns1/endpointslices${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...slice(name, 'ns1', ['10.0.0.1']), bogus: 1 }),
      });
    const res = await post('ok');
    expect(res.status).toBe(201);
    expect(res.headers.get('warning')).toBe('299 - "unknown field \\"bogus\\""');
    const stored = server.get<V1EndpointSlice>('EndpointSlice', 'ns1', 'ok')!;
    expect(stored).not.toHaveProperty('bogus');
    expect(stored.ports).toEqual([{ name: 'http', port: 8012, protocol: 'TCP' }]);
    const strict = await post('strict', '?fieldValidation=Strict');
    expect(strict.status).toBe(400);
    expect(await strict.json()).toMatchObject({
      reason: 'BadRequest',
      message: 'strict decoding error: unknown field "bogus"',
    });

    // Updates are validated too, and addressType is immutable.
    const update = await apiError(
      discovery.replaceNamespacedEndpointSlice({
        namespace: 'ns1',
        name: 'ok',
        body: { ...stored, addressType: 'IPv6', endpoints: [{ addresses: ['fd00::1'] }] },
      }),
    );
    expect(update.body.message).toMatch(/addressType: Invalid value: "IPv6": field is immutable/);
    const s = await TestApiServer.start({ loopbackEndpoints: true });
    try {
      const lo = s.kubeConfig().makeApiClient(DiscoveryV1Api);
      await lo.createNamespacedEndpointSlice({ namespace: 'ns1', body: slice('lo', 'ns1', ['127.0.0.1']) });
    } finally {
      await s.close();
    }
  });

  it('enforces the RBAC it is given on every request, with the real 403', async () => {
    const user = 'system:serviceaccount:sys:scaler';
    const rbacObjects = [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'read-slices' },
        rules: [{ apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'scale', namespace: 'apps' },
        rules: [
          { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get'], resourceNames: ['d'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'read-slices' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'read-slices' },
        subjects: [{ kind: 'ServiceAccount', name: 'scaler', namespace: 'sys' }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'scale', namespace: 'apps' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'scale' },
        subjects: [{ kind: 'ServiceAccount', name: 'scaler', namespace: 'sys' }],
      },
    ];
    const s = await TestApiServer.start({ rbac: { objects: rbacObjects, user } });
    try {
      s.apply({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd', namespace: 'apps' },
        spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: {} },
      });
      const discovery = s.kubeConfig().makeApiClient(DiscoveryV1Api);
      const apps = s.kubeConfig().makeApiClient(AppsV1Api);
      expect((await discovery.listEndpointSliceForAllNamespaces()).items).toEqual([]);
      expect(
        (await apps.readNamespacedDeploymentScale({ namespace: 'apps', name: 'd' })).spec?.replicas,
      ).toBe(1);
      const write = await apiError(
        discovery.createNamespacedEndpointSlice({ namespace: 'ns1', body: slice('e', 'ns1', ['10.0.0.1']) }),
      );
      expect(write).toEqual({
        code: 403,
        body: expect.objectContaining({
          reason: 'Forbidden',
          message: `endpointslices.discovery.k8s.io is forbidden: User "${user}" cannot create resource "endpointslices" in API group "discovery.k8s.io" in the namespace "ns1"`,
        }),
      });
      // Refused at once: nothing was written.
      expect(s.list('EndpointSlice')).toEqual([]);
      const patch = await apiError(
        apps.patchNamespacedDeploymentScale({ namespace: 'apps', name: 'd', body: [] }),
      );
      expect(patch.body.message).toBe(
        `deployments.apps "d" is forbidden: User "${user}" cannot patch resource "deployments/scale" in API group "apps" in the namespace "apps"`,
      );
      // The Role holds in its namespace only, and for the names it lists.
      expect(
        (await apiError(apps.readNamespacedDeploymentScale({ namespace: 'other', name: 'd' }))).code,
      ).toBe(403);
      expect((await apiError(apps.readNamespacedDeployment({ namespace: 'apps', name: 'd' }))).code).toBe(
        403,
      );
      expect(s.requests.map((r) => r.status)).toEqual([200, 200, 403, 403, 403, 403]);
      s.rbac = undefined;
      await apps.readNamespacedDeployment({ namespace: 'apps', name: 'd' });
    } finally {
      await s.close();
    }
  });

  it('pages a list with limit and continue, each page from the first one’s snapshot', async () => {
    for (let i = 0; i < 5; i++) server.apply(slice(`s${i}`, i < 3 ? 'ns1' : 'ns2', ['10.0.0.1']));
    const discovery = server.kubeConfig().makeApiClient(DiscoveryV1Api);
    const first = await discovery.listEndpointSliceForAllNamespaces({ limit: 2 });
    expect(first.items.map((s) => s.metadata?.name)).toEqual(['s0', 's1']);
    expect(first.metadata).toMatchObject({ resourceVersion: '5', remainingItemCount: 3 });
    // Changes after the first page do not show in the next ones.
    server.delete('EndpointSlice', 'ns1', 's2');
    server.apply(slice('s5', 'ns2', ['10.0.0.1']));
    server.apply(slice('s3', 'ns2', ['10.0.0.9']));
    const second = await discovery.listEndpointSliceForAllNamespaces({
      limit: 2,
      _continue: first.metadata?._continue,
    });
    expect(second.items.map((s) => s.metadata?.name)).toEqual(['s2', 's3']);
    expect(second.items[1]?.endpoints?.[0]?.addresses).toEqual(['10.0.0.1']);
    expect(second.metadata?.resourceVersion).toBe('5');
    const third = await discovery.listEndpointSliceForAllNamespaces({
      limit: 2,
      _continue: second.metadata?._continue,
    });
    expect(third.items.map((s) => s.metadata?.name)).toEqual(['s4']);
    expect(third.metadata?._continue).toBeUndefined();
    // Selectors page too, without a count.
    const selected = await discovery.listNamespacedEndpointSlice({
      namespace: 'ns2',
      labelSelector: 'app',
      limit: 1,
    });
    expect(selected.metadata?.remainingItemCount).toBeUndefined();
    expect(selected.metadata?._continue).toBeDefined();
    // A token whose snapshot is gone is 410 Expired; a garbled one 400.
    server.compactHistory();
    const expired = await apiError(
      discovery.listEndpointSliceForAllNamespaces({ limit: 2, _continue: first.metadata?._continue }),
    );
    expect(expired).toMatchObject({ code: 410, body: { reason: 'Expired' } });
    expect((await apiError(discovery.listEndpointSliceForAllNamespaces({ _continue: 'nope' }))).code).toBe(
      400,
    );
  });

  it('feeds an informer that lists a page at a time every object', async () => {
    for (let i = 0; i < 7; i++) server.apply(slice(`s${i}`, 'ns1', ['10.0.0.1']));
    const api = server.kubeConfig().makeApiClient(DiscoveryV1Api);
    const informer = makeInformer<V1EndpointSlice>(server.kubeConfig(), SLICES, async () => {
      const items: V1EndpointSlice[] = [];
      let page: Awaited<ReturnType<typeof api.listEndpointSliceForAllNamespaces>> | undefined;
      do {
        page = await api.listEndpointSliceForAllNamespaces({
          limit: 3,
          _continue: page?.metadata?._continue,
        });
        items.push(...page.items);
      } while (page.metadata?._continue);
      return { ...page, items };
    });
    informers.push(informer as Informer<KubernetesObject>);
    await informer.start();
    expect(informer.list()).toHaveLength(7);
    expect(server.requests.filter((r) => r.verb === 'list')).toHaveLength(3);
  });

  it('injects failures into the next matching requests', async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    server.failNext('list', '/api/v1/namespaces/ns1/endpoints', 500, 2);
    server.failNext('POST', /\/services$/, 409);
    expect((await apiError(core.listNamespacedEndpoints({ namespace: 'ns1' }))).code).toBe(500);
    const second = await apiError(core.listNamespacedEndpoints({ namespace: 'ns1' }));
    expect(second.body).toMatchObject({ kind: 'Status', code: 500, reason: 'InternalError' });
    expect((await core.listNamespacedEndpoints({ namespace: 'ns1' })).items).toEqual([]);
    expect(
      (await apiError(core.createNamespacedService({ namespace: 'ns1', body: service('s') }))).code,
    ).toBe(409);
    await core.createNamespacedService({ namespace: 'ns1', body: service('s') });
    expect(server.requests.map((r) => `${r.verb} ${r.path}`)).toEqual([
      'list /api/v1/namespaces/ns1/endpoints',
      'list /api/v1/namespaces/ns1/endpoints',
      'list /api/v1/namespaces/ns1/endpoints',
      'create /api/v1/namespaces/ns1/services',
      'create /api/v1/namespaces/ns1/services',
    ]);
  });

  it('makes a failed watch an informer error', async () => {
    server.failNext('watch', SLICES, 503);
    const { seen } = await sliceInformer();
    expect(seen.errors).toBe(1);
    await waitFor(() => server.openWatches === 1, 'the restarted watch');
    server.apply(slice('s1', 'ns1', ['10.0.0.1']));
    await waitFor(() => seen.adds.length === 1, 'the add');
  });

  it('closes open watches on close', async () => {
    await sliceInformer();
    expect(server.openWatches).toBe(1);
    await server.close();
    expect(server.openWatches).toBe(0);
    server = await TestApiServer.start();
  });
});
