/**
 * The base's components run as built processes with the environment their manifests give them (only
 * the bind address, listener ports, certificate files, the activator's drain and the cluster address
 * changed for this machine), each against its own in-process API server, and exercised: kubelet probes, a revision scaled from zero
 * through the activator, a Pod admitted through the injector. Every API call each made is then checked
 * against the RBAC its service account gets from the manifests, which each API server enforces as it
 * is called, both ways: no call denied, no grant unused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  V1CustomResourceDefinition,
  V1Deployment,
  V1EndpointSlice,
  V1Pod,
  V1Service,
} from '@kubernetes/client-node';
import { emptyStat, encodeStat } from '@zerogate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, httpsRequest, send } from './support/http.js';
import {
  activatorSlice,
  knativeRevision,
  privateEndpoints,
  privateSlice,
  revisionDeployment,
} from './support/knative-objects.js';
import {
  type AccountRef,
  type ApiCall,
  allows,
  apiCallOf,
  describeCall,
  grantedPermissions,
  grantsOf,
  KUBECTL,
  type KubeObject,
  only,
  render,
  select,
} from './support/manifests.js';
import {
  BASE_COMPONENTS,
  type Component,
  injectorSecrets,
  listenerPorts,
  type OurContainer,
  ourContainer,
  ourContainers,
  portNumber,
  probesOf,
  readManifestConfig,
} from './support/manifests-components.js';
import { validateAgainst, validateObject } from './support/manifests-schema.js';
import { startComponent, type TestProcess } from './support/processes.js';
import { TestApiServer } from './support/test-apiserver.js';
import { jsonPatch } from './support/test-apiserver-patch.js';
import { selfSignedTls, type TestTls } from './support/tls.js';

const SYSTEM = 'zerogate-system';
const NAMESPACE = 'hello';
const REVISION = 'hello-00001';
const SECOND = 'hello-00002';
/** A revision running two idle Pods, whose deletion costs the autoscaler writes (a scale-down is near). */
const THIRD = 'hello-00003';
/** The Pods of {@link THIRD}: name and loopback address, where their stats endpoint answers on 9090. */
const THIRD_PODS = [
  ['hello-00003-deployment-a', '127.78.0.1'],
  ['hello-00003-deployment-b', '127.78.0.2'],
] as const;
const ROUTING = { 'knative-serving-revision': REVISION, 'knative-serving-namespace': NAMESPACE };

/**
 * The variables changed for this machine, per component: its bind address and listener ports (any free
 * one), and the activator's drain. Everything else is the manifest's.
 */
const LOCAL_OVERRIDES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  activator: {
    ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
    ACTIVATOR_HTTP_PORT: '0',
    ACTIVATOR_H2C_PORT: '0',
    ACTIVATOR_METRICS_PORT: '0',
    // No 45 s wait when the test ends.
    ACTIVATOR_DRAIN_SECONDS: '0',
  },
  autoscaler: { AUTOSCALER_BIND_ADDRESS: '127.0.0.1', AUTOSCALER_PORT: '0', AUTOSCALER_METRICS_PORT: '0' },
  injector: { INJECTOR_BIND_ADDRESS: '127.0.0.1', INJECTOR_PORT: '0' },
};

/** A component running from its manifest. */
interface Running {
  readonly manifest: OurContainer;
  readonly component: Component;
  readonly api: TestApiServer;
  readonly proc: TestProcess;
  /** Bound ports by listener, from the startup line. */
  readonly ports: Record<string, number>;
  /** The ports the manifest's configuration names, by listener. */
  readonly configured: Record<string, number>;
}

/** The RBAC calls of a component: every request its API server saw, in RBAC terms. */
function callsOf(api: TestApiServer): ApiCall[] {
  return api.requests.filter((r) => r.verb !== undefined).map((r) => apiCallOf(r.verb!, r.path));
}

/** Checks `calls` against what `sa` is granted in `objects`: denied calls, unused grants, needlessly cluster-wide grants. */
function rbacReport(objects: readonly KubeObject[], sa: AccountRef, calls: readonly ApiCall[]) {
  const grants = grantsOf(objects, sa);
  const denied = [...new Set(calls.filter((c) => !grants.some((g) => allows(g, c))).map(describeCall))];
  const unused: string[] = [];
  const namespaceable: string[] = [];
  for (const p of grantedPermissions(grants)) {
    const using = calls.filter(
      (c) =>
        c.group === p.group &&
        (c.subresource ? `${c.resource}/${c.subresource}` : c.resource) === p.resource &&
        c.verb === p.verb &&
        allows(p.grant, c),
    );
    const what = `${p.verb} ${p.group || 'core'}/${p.resource} (${p.grant.via})`;
    if (using.length === 0) unused.push(what);
    // Cluster-wide only because some call needs it: across namespaces, or in one not Zerogate's own.
    else if (p.grant.scope === 'cluster' && using.every((c) => c.namespace === sa.namespace))
      namespaceable.push(what);
  }
  return { denied, unused, namespaceable };
}

/** The user name Kubernetes gives a service account. */
const userOf = (namespace: string, name: string) => `system:serviceaccount:${namespace}:${name}`;

/** A revision's Deployment with no Pods. */
const atZero = (revision: string) => revisionDeployment(revision, 0, NAMESPACE);

/** A Pod's queue-proxy as the activator sees it: answers its probe with `queue`, anything else with a greeting. */
async function startFakePod(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const body =
      req.headers['k-network-probe'] === 'queue'
        ? 'queue'
        : `hello from ${req.headers['k-original-host'] ?? ''}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A queue-proxy's stats endpoint (`:9090/metrics`) for Pod `name` on `host`, reporting no load. */
async function startStatsEndpoint(host: string, name: string): Promise<Server> {
  const body = encodeStat(emptyStat(name));
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/protobuf' });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(9090, host, resolve);
  });
  return server;
}

/** Sends a request the way the kubelet sends the probe, to the port the probe names. */
async function probe(r: Running, kind: string): Promise<number> {
  const [, spec] = probesOf(r.manifest.container).find(([k]) => k === kind)!;
  const get = spec.httpGet!;
  const port = portNumber(get.port, r.manifest.container);
  const listener = Object.entries(r.configured).find(([, p]) => p === port)?.[0];
  if (!listener) throw new Error(`${r.component.name} ${kind}: port ${String(get.port)} is no listener`);
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.32' };
  for (const h of get.httpHeaders ?? []) headers[h.name] = h.value;
  const path = get.path ?? '/';
  if ((get.scheme ?? 'HTTP') === 'HTTPS')
    return (await httpsRequest(r.ports[listener]!, { path, headers })).status;
  return (await send(`http://127.0.0.1:${r.ports[listener]}${path}`, { headers })).status;
}

describe.skipIf(!KUBECTL)('the base, run as its manifests say', () => {
  let dir: string;
  let tls: TestTls;
  let pod: { server: Server; port: number };
  const statsEndpoints: Server[] = [];
  const running = new Map<string, Running>();
  const objects = () => render('deploy/base');
  const run = (name: string) => running.get(name)!;

  async function start(
    name: Component['name'],
    api: TestApiServer,
    extra: Record<string, string> = {},
  ): Promise<Running> {
    const manifest = ourContainer('deploy/base', name);
    // The API server enforces the component's role as a cluster would: a call it does not allow fails.
    api.rbac = { objects: objects(), user: userOf(SYSTEM, manifest.template.spec.serviceAccountName!) };
    const configured = listenerPorts(
      manifest.component,
      (await readManifestConfig(manifest, injectorSecrets(tls)))!.config,
    );
    const { proc, ports } = await startComponent<Record<string, number>>(
      manifest.component.script,
      {
        ...manifest.env,
        ...LOCAL_OVERRIDES[name],
        ...extra,
        KUBECONFIG: api.writeKubeConfig(join(dir, `${name}.kubeconfig.json`)),
      },
      15_000,
    );
    const r: Running = { manifest, component: manifest.component, api, proc, ports, configured };
    running.set(name, r);
    return r;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zerogate-deploy-'));
    tls = selfSignedTls(`injector.${SYSTEM}.svc`);
    pod = await startFakePod();
    const [activatorApi, autoscalerApi, injectorApi] = await Promise.all([
      TestApiServer.start(),
      // The activator runs on this machine's loopback, which public slices then point at.
      TestApiServer.start({ loopbackEndpoints: true }),
      TestApiServer.start(),
    ]);
    const settings = { containerConcurrency: 1, timeoutSeconds: 30 };
    const revision = knativeRevision(REVISION, settings, { namespace: NAMESPACE });
    activatorApi.apply(revision);
    autoscalerApi.apply(revision);
    // The revision at zero, as the injector and the autoscaler leave it.
    autoscalerApi.apply(atZero(REVISION));
    // Public slices the autoscaler wrote before: it rewrites one and deletes the other.
    for (const [family, address] of [
      ['IPv4', '10.9.9.9'],
      ['IPv6', 'fd00::9'],
    ] as const) {
      autoscalerApi.apply<V1EndpointSlice>({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${REVISION}-${family.toLowerCase()}`,
          namespace: NAMESPACE,
          labels: {
            'kubernetes.io/service-name': REVISION,
            'networking.internal.knative.dev/serviceType': 'Public',
            'serving.knative.dev/revision': REVISION,
            'endpointslice.kubernetes.io/managed-by': 'autoscaler.zerogate.dev',
          },
        },
        addressType: family,
        ports: [{ name: 'http', port: 8012, protocol: 'TCP' }],
        endpoints: [{ addresses: [address], conditions: { ready: true } }],
      });
    }
    // A second revision at zero, never wired: the autoscaler creates its public slice.
    autoscalerApi.apply(knativeRevision(SECOND, settings, { namespace: NAMESPACE }));
    autoscalerApi.apply(atZero(SECOND));
    // The activators, where the base runs them.
    autoscalerApi.apply(activatorSlice(['127.0.0.1'], SYSTEM));
    // A revision with two idle Pods: more than its load needs, so it annotates them with their cost.
    autoscalerApi.apply(knativeRevision(THIRD, settings, { namespace: NAMESPACE }));
    autoscalerApi.apply(revisionDeployment(THIRD, 2, NAMESPACE));
    autoscalerApi.apply(
      privateSlice(
        THIRD,
        THIRD_PODS.map(([, ip]) => ip),
        [],
        { namespace: NAMESPACE },
      ),
    );
    for (const [name, ip] of THIRD_PODS) {
      autoscalerApi.apply<V1Pod>({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: NAMESPACE },
        spec: { containers: [{ name: 'user-container', image: 'app' }] },
      });
      statsEndpoints.push(await startStatsEndpoint(ip, name));
    }
    // What the injector looks up: the Pods' Deployments, the activator's Service, and a Revision that
    // exists already (the injector then reads it to compare settings).
    for (const d of select<V1Deployment>(render('deploy/examples/hello/standalone'), 'Deployment'))
      injectorApi.apply(d);
    injectorApi.apply(only<V1Service>(objects(), 'Service', 'activator-service', SYSTEM));
    injectorApi.apply(
      knativeRevision(
        SECOND,
        {
          containerConcurrency: 10,
          timeoutSeconds: 300,
          responseStartTimeoutSeconds: 0,
          idleTimeoutSeconds: 0,
        },
        { namespace: NAMESPACE },
      ),
    );

    const autoscaler = await start('autoscaler', autoscalerApi);
    await start('activator', activatorApi, { AUTOSCALER_URL: `ws://127.0.0.1:${autoscaler.ports['stats']}` });
    await start('injector', injectorApi, {
      INJECTOR_TLS_CERT_FILE: tls.certFile,
      INJECTOR_TLS_KEY_FILE: tls.keyFile,
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...running.values()].map((r) => r.proc.kill()));
    await Promise.all([...running.values()].map((r) => r.api.close()));
    await new Promise((resolve) => pod?.server.close(resolve));
    await Promise.all(statsEndpoints.splice(0).map((s) => new Promise((r) => s.close(r))));
    tls?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(
    BASE_COMPONENTS.map((c) => c.name),
  )('%s answers its kubelet probes on the ports and paths the manifest gives', async (name) => {
    const r = run(name);
    const kinds = probesOf(r.manifest.container).map(([k]) => k);
    expect(kinds.length).toBeGreaterThan(0);
    for (const kind of kinds) {
      // The activator fails its probes until it reached the autoscaler: give it a moment.
      let status = 0;
      const ok = await eventually(async () => {
        status = await probe(r, kind);
        return status >= 200 && status < 400;
      }, 10_000);
      expect(ok, `${name} ${kind}: ${status}`).toBe(true);
    }
  }, 30_000);

  it('scales a revision from zero: the activator holds the request, the autoscaler scales, the request lands', async () => {
    const activator = run('activator');
    const autoscalerApi = run('autoscaler').api;
    const pending = send(`http://127.0.0.1:${activator.ports['http']}/`, { headers: ROUTING });
    const replicas = () =>
      autoscalerApi.get<V1Deployment>('Deployment', NAMESPACE, `${REVISION}-deployment`)?.spec?.replicas ?? 0;
    expect(await eventually(() => replicas() >= 1, 10_000)).toBe(true);
    // The Pod comes up: its private slice, as Kubernetes writes it, reaches both.
    const slice = privateSlice(REVISION, ['127.0.0.1'], [], { namespace: NAMESPACE, port: pod.port });
    activator.api.apply(slice);
    autoscalerApi.apply(slice);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^hello from/);
    // The autoscaler took over the public slices: the first revision's rewritten (IPv4) or deleted
    // (IPv6, stale), the second revision's created. Both point at the activators it found in its own
    // namespace (SYSTEM_NAMESPACE): the first stays in Proxy mode (containerConcurrency 1 leaves no
    // burst capacity), the second is at zero.
    const owned = (revision: string) =>
      autoscalerApi
        .list<V1EndpointSlice>('EndpointSlice', NAMESPACE)
        .filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === revision)
        .map((s) => ({
          name: s.metadata?.name,
          ports: (s.ports ?? []).map((p) => `${p.name}:${p.port}`),
          addresses: (s.endpoints ?? []).flatMap((e) => e.addresses),
        }));
    const atActivator = (revision: string) => [
      { name: `${revision}-ipv4`, ports: ['http:8012'], addresses: ['127.0.0.1'] },
    ];
    const wanted = JSON.stringify([atActivator(REVISION), atActivator(SECOND)]);
    const actual = () => JSON.stringify([owned(REVISION), owned(SECOND)]);
    expect(await eventually(() => actual() === wanted, 10_000), actual()).toBe(true);
  }, 30_000);

  /** Sends the injector the AdmissionReview the API server would for a Pod of the example's `revision`. */
  async function admit(revision: string) {
    const injector = run('injector');
    const example = only<V1Deployment>(
      render('deploy/examples/hello/standalone'),
      'Deployment',
      `${revision}-deployment`,
    );
    const hash = '5d8f7c9b4';
    const podObject: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${revision}-deployment-${hash}-`,
        namespace: NAMESPACE,
        labels: { ...example.spec!.template.metadata!.labels, 'pod-template-hash': hash },
        annotations: example.spec!.template.metadata!.annotations ?? {},
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: `${revision}-deployment-${hash}`,
            uid: 'rs-uid',
            controller: true,
          },
        ],
      },
      spec: example.spec!.template.spec!,
    };
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `b2c6a1f0-0000-4000-8000-${revision.slice(-5).padStart(12, '0')}`,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: NAMESPACE,
        operation: 'CREATE',
        object: podObject,
        dryRun: false,
      },
    };
    const hook = only<{
      webhooks: { clientConfig: { service: { path: string } }; timeoutSeconds: number }[];
    }>(objects(), 'MutatingWebhookConfiguration', 'zerogate-injector').webhooks[0]!;
    // Verified as the API server verifies it: against the CA bundle, for the Service's DNS name.
    const res = await httpsRequest(injector.ports['https']!, {
      method: 'POST',
      path: `${hook.clientConfig.service.path}?timeout=${hook.timeoutSeconds}s`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(review),
      ca: tls.cert,
      servername: `injector.${SYSTEM}.svc`,
    });
    expect(res.status).toBe(200);
    const response = (
      JSON.parse(res.body) as { response: { allowed: boolean; patch?: string; warnings?: string[] } }
    ).response;
    const patched = response.patch
      ? (jsonPatch(podObject, JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'))) as V1Pod)
      : podObject;
    return { response, patched };
  }

  it('admits the example’s Pods through the injector: valid Pods with our queue-proxy, and what the base’s schemas accept', async () => {
    const injector = run('injector');
    for (const revision of [REVISION, SECOND]) {
      const { response, patched } = await admit(revision);
      expect(response.allowed, revision).toBe(true);
      expect(response.warnings ?? [], revision).toEqual([]);
      expect(
        validateObject({ ...patched, metadata: { ...patched.metadata, name: 'p' } } as KubeObject),
      ).toEqual([]);
      const containers = [...(patched.spec!.initContainers ?? []), ...patched.spec!.containers];
      expect(containers.find((c) => c.name === 'queue-proxy')?.image).toBe(
        injector.manifest.env['INJECTOR_QUEUE_PROXY_IMAGE'],
      );
    }
    const crd = only<V1CustomResourceDefinition>(
      objects(),
      'CustomResourceDefinition',
      'revisions.serving.knative.dev',
    );
    const created = injector.api.get('Revision', NAMESPACE, REVISION);
    expect(created).toBeDefined();
    expect(validateAgainst(created, crd.spec.versions[0]!.schema!.openAPIV3Schema!)).toEqual([]);
    const services = injector.api.list<V1Service>('Service', NAMESPACE);
    expect(services.map((s) => s.metadata?.name).sort()).toEqual([
      REVISION,
      `${REVISION}-private`,
      SECOND,
      `${SECOND}-private`,
    ]);
    for (const s of services) expect(validateObject(s as KubeObject)).toEqual([]);
  });

  it.each(
    BASE_COMPONENTS.map((c) => c.name),
  )('%s: every API call it made is allowed by its role, and its role grants nothing it did not use', async (name) => {
    const r = run(name);
    const sa = { namespace: SYSTEM, name: r.manifest.template.spec.serviceAccountName! };
    if (name === 'autoscaler') {
      // The deletion costs of the third revision's Pods are written after a decision and a scrape.
      const patched = () => callsOf(r.api).some((c) => c.resource === 'pods' && c.verb === 'patch');
      expect(await eventually(patched, 10_000), 'the autoscaler patched a Pod').toBe(true);
    }
    const calls = callsOf(r.api);
    expect(calls.length).toBeGreaterThan(0);
    const report = rbacReport(objects(), sa, calls);
    expect(report.denied, 'calls the manifests do not allow').toEqual([]);
    expect(r.api.requests.filter((q) => q.status === 403).map((q) => `${q.verb} ${q.path}`)).toEqual([]);
    expect(report.unused, 'grants no call used').toEqual([]);
    expect(report.namespaceable, 'cluster-wide grants used only in its own namespace').toEqual([]);
  });
});

describe.skipIf(!KUBECTL)('our activator in Knative, under Knative’s activator role', () => {
  let api: TestApiServer;
  let autoscaler: FakeAutoscaler;
  let pod: { server: Server; port: number };
  let dir: string;
  let proc: TestProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zerogate-knative-'));
    [api, autoscaler, pod] = await Promise.all([
      TestApiServer.start(),
      FakeAutoscaler.start(),
      startFakePod(),
    ]);
  });
  afterAll(async () => {
    await proc?.kill();
    await api?.close();
    await autoscaler?.close();
    await new Promise((resolve) => pod?.server.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is refused EndpointSlices and Pods, falls back to the Endpoints Knative writes with one warning each, and forwards', async () => {
    const objects = render('deploy/testdata/knative-serving');
    const [manifest] = ourContainers('deploy/testdata/knative-serving');
    const sa = { namespace: 'knative-serving', name: manifest!.template.spec.serviceAccountName! };
    const grants = grantsOf(objects, sa);
    // The API server enforces Knative's activator role, as a Knative cluster does.
    api.rbac = { objects, user: userOf(sa.namespace, sa.name) };
    api.apply(
      knativeRevision(REVISION, { containerConcurrency: 1, timeoutSeconds: 10 }, { namespace: NAMESPACE }),
    );
    api.apply(privateEndpoints(REVISION, [pod.port], NAMESPACE));
    const activator = await startComponent<{ http: number }>(
      manifest!.component.script,
      {
        ...manifest!.env,
        ...LOCAL_OVERRIDES['activator'],
        AUTOSCALER_URL: autoscaler.url,
        KUBECONFIG: api.writeKubeConfig(join(dir, 'activator.kubeconfig.json')),
      },
      15_000,
    );
    proc = activator.proc;
    const res = await send(`http://127.0.0.1:${activator.ports.http}/`, { headers: ROUTING });
    expect(res.status).toBe(200);

    // Refused once per EndpointSlice informer and once for Pods (docs/activator.md §10.1), never
    // retried; everything else within Knative's role.
    const denied = callsOf(api).filter((c) => !grants.some((g) => allows(g, c)));
    expect(denied.map(describeCall).sort()).toEqual([
      'list core/pods (all namespaces)',
      'list discovery.k8s.io/endpointslices (all namespaces)',
      'list discovery.k8s.io/endpointslices (all namespaces)',
    ]);
    expect(
      api.requests
        .filter((r) => r.status === 403)
        .map((r) => `${r.verb} ${r.path}`)
        .sort(),
    ).toEqual([
      'list /api/v1/pods',
      'list /apis/discovery.k8s.io/v1/endpointslices',
      'list /apis/discovery.k8s.io/v1/endpointslices',
    ]);
    expect(callsOf(api).map((c) => `${c.verb} ${c.resource}`)).toContain('watch endpoints');
    const warnings = proc.logs().filter((l) => l['level'] === 'warn' || l['level'] === 'error');
    expect(warnings.map((l) => l['msg']).sort()).toEqual([
      expect.stringMatching(/^listing EndpointSlices is forbidden .*core\/v1 Endpoints/),
      expect.stringMatching(/^listing Pods is forbidden .*told by their Revision only/),
    ]);
  });
});
