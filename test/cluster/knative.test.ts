/**
 * The drop-in on Knative Serving's own control plane: Knative's CRDs, config maps, roles and Deployments
 * from its module (built by `npm run knative:build`), installed as an operator would with our Kustomize
 * Component (deploy/overlays/knative) over them, under the real control plane and the node agent.
 * Knative's controller makes the revisions (with our queue-proxy), its webhook admits them, its
 * autoscaler scales them; our activator holds requests at zero and forwards them.
 */
import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DATA_PLANES,
  type DataPlane,
  installKnativeRelease,
  KNATIVE_NAMESPACE,
  type KnativeIngressStandIn,
  renderRelease,
} from '../../packages/cluster/src/index.js';
import { send } from '../support/http.js';
import {
  podsOf as clusterPods,
  containerLog,
  isReady,
  replicasOf,
  startCluster,
  type TestCluster,
  waitFor,
} from './support/cluster.js';

const KNATIVE = KNATIVE_NAMESPACE;

let cluster: TestCluster;
let work: string;
/** The networking layer's stand-in: no Knative ingress runs here. */
let ingress: KnativeIngressStandIn | undefined;

/** What a client and an operator see of each step, recorded per install and compared at the end. */
const outcomes: Record<DataPlane, Record<string, unknown>> = { ours: {}, knative: {} };

const ready = isReady;
const podsOf = (namespace: string, selector: string) => clusterPods(cluster, namespace, selector);

/** The ServerlessService's mode (Proxy: the activator in the path; Serve: the Pods); undefined before it exists. */
async function sksMode(revision: string): Promise<string | undefined> {
  const sks = await cluster
    .getJson<{ spec?: { mode?: string } }>([
      'serverlessservices.networking.internal.knative.dev',
      revision,
      '-n',
      'hello',
    ])
    .catch(() => undefined);
  return sks?.spec?.mode;
}

/** The Route's conditions as type → status and reason. */
async function routeConditions(): Promise<Record<string, string>> {
  const route = await cluster.getJson<{
    status?: { conditions?: { type: string; status: string; reason?: string }[] };
  }>(['routes.serving.knative.dev', 'hello', '-n', 'hello']);
  return Object.fromEntries(
    (route.status?.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason ?? ''}`.trim()]),
  );
}

/** Starts a cluster and installs Knative's release (with our component for `ours`). */
async function install(which: DataPlane): Promise<void> {
  work = mkdtempSync(join(tmpdir(), 'zerogate-knative-'));
  cluster = await startCluster({ crashBackoff: { initialMs: 1000, maxMs: 5000 } });
  // Short autoscaling windows, so that revisions go to zero in seconds.
  ingress = await installKnativeRelease(cluster, which, work, {
    autoscaler: { 'stable-window': '6s', 'scale-to-zero-grace-period': '1s' },
  });
}

async function uninstall(): Promise<void> {
  await ingress?.stop();
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
}

describe.each(
  Object.keys(DATA_PLANES) as DataPlane[],
)('Knative Serving’s control plane, data plane: %s', (which) => {
  beforeAll(() => install(which), 180_000);
  afterAll(() => uninstall(), 60_000);
  const images = DATA_PLANES[which];

  it('runs Knative’s controller, webhook and autoscaler, and the install’s activator in Knative’s activator Deployment', async () => {
    for (const app of ['controller', 'webhook', 'autoscaler', 'activator']) {
      const up = await waitFor(async () => {
        const pods = (await podsOf(KNATIVE, `app=${app}`)).filter((p) => p.status.phase === 'Running');
        return pods.length > 0 && pods.every(ready);
      }, 120_000);
      expect(up, `${app} Ready`).toBe(true);
    }
    const [activator] = (await podsOf(KNATIVE, 'app=activator')).filter(ready);
    expect(activator!.spec.containers.map((c) => c.image)).toEqual([images.activator]);
    if (which === 'ours') {
      // What deploy/README.md ("Verify") tells an operator to look for: our activator's lines, and its
      // one warning that Knative's role refuses EndpointSlices, so it watches Endpoints.
      const log = containerLog(cluster, KNATIVE, activator!.metadata.name, 'activator');
      expect(log).toContain('"component":"activator"');
      expect(log).toContain('"fallback":"core/v1 endpoints"');
      // …and the metrics it names, on the activator's 9090: Knative 1.17's Deployment sets
      // METRICS_DOMAIN, so they take that era's names (docs/activator.md §7).
      const metrics = await send(`http://${activator!.status.podIP}:9090/metrics`);
      for (const name of [
        'activator_request_concurrency',
        'activator_request_count',
        'activator_request_latencies',
      ]) {
        expect(metrics.body, name).toContain(name);
      }
      expect(metrics.body).not.toContain('kn_revision_pods_usable');
      // Knative's activator Role lets it read Knative's ConfigMaps; their level applies at start, an
      // operator's edit while it runs (docs/activator.md §2.1).
      const levelsSet = () =>
        containerLog(cluster, KNATIVE, activator!.metadata.name, 'activator')
          .split('\n')
          .filter((l) => l.includes('"msg":"log level set"'))
          .map((l) => (JSON.parse(l) as { logLevel: string }).logLevel);
      expect(levelsSet()).toEqual(['info']);
      expect(log).not.toContain('in ConfigMap; keeping the one in use');
      const setLevel = (level: string) =>
        cluster.kubectl([
          '-n',
          KNATIVE,
          'patch',
          'configmap',
          'config-logging',
          '--type',
          'merge',
          '-p',
          JSON.stringify({ data: { 'loglevel.activator': level } }),
        ]);
      await setLevel('debug');
      expect(await waitFor(async () => levelsSet().length === 2, 20_000), 'config-logging followed').toBe(
        true,
      );
      await setLevel('info');
      expect(await waitFor(async () => levelsSet().length === 3, 20_000)).toBe(true);
      expect(levelsSet()).toEqual(['info', 'debug', 'info']);
    }
  }, 150_000);

  it('makes a Knative Service’s revision with the install’s queue-proxy, admitted by Knative’s webhook, Ready', async () => {
    await cluster.kubectl(['apply', '-k', 'deploy/examples/hello/knative/1-hello-00001']);
    const revisionReady = await waitFor(async () => {
      const r = await cluster
        .getJson<{ status?: { conditions?: { type: string; status: string }[] } }>([
          'revision.serving.knative.dev',
          'hello-00001',
          '-n',
          'hello',
        ])
        .catch(() => undefined);
      return r?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    }, 120_000);
    expect(revisionReady, 'hello-00001 Ready').toBe(true);
    const deployment = await cluster.getJson<{
      spec: { template: { spec: { containers: { image: string }[] } } };
    }>(['deployment', 'hello-00001-deployment', '-n', 'hello']);
    expect(deployment.spec.template.spec.containers.map((c) => c.image)).toContain(images.queue);
    outcomes[which]['hello-00001 Ready'] = revisionReady;
  }, 150_000);

  it('at zero, the activator holds a request, pokes Knative’s autoscaler, which scales the revision, and forwards it', async () => {
    const atZero = await waitFor(
      async () => (await replicasOf(cluster, 'hello', 'hello-00001-deployment')) === 0,
      120_000,
    );
    expect(atZero, 'hello-00001 scaled to zero by Knative’s autoscaler').toBe(true);
    outcomes[which]['SKS mode at zero'] = await sksMode('hello-00001');
    const [activator] = (await podsOf(KNATIVE, 'app=activator')).filter(ready);
    const res = await send(`http://${activator!.status.podIP}:8012/`, {
      headers: { 'knative-serving-revision': 'hello-00001', 'knative-serving-namespace': 'hello' },
    });
    expect(res.status).toBe(200);
    outcomes[which]['request at zero'] = [res.status, res.body];
    expect(res.body).toContain('revision hello-00001');
    const replicas = (await replicasOf(cluster, 'hello', 'hello-00001-deployment')) ?? 0;
    expect(replicas).toBeGreaterThanOrEqual(1);
    outcomes[which]['scaled from zero'] = replicas >= 1;
  }, 150_000);

  it('a second revision taking 10 %: the Route is Ready with both in its traffic, and its URL reaches both', async () => {
    await cluster.kubectl(['apply', '-k', 'deploy/examples/hello/knative/2-hello-00002']);
    const bothReady = await waitFor(async () => {
      const list = await cluster.getJson<{
        items: { status?: { conditions?: { type: string; status: string }[] } }[];
      }>(['revisions.serving.knative.dev', '-n', 'hello']);
      return (
        list.items.length === 2 &&
        list.items.every((r) => r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      );
    }, 120_000);
    expect(bothReady).toBe(true);
    const routed = await waitFor(async () => (await routeConditions())['Ready'] === 'True', 60_000);
    expect(routed, 'Route Ready').toBe(true);
    outcomes[which]['Route conditions'] = await routeConditions();
    const route = await cluster.getJson<{
      status: { url?: string; traffic?: { revisionName: string; percent: number }[] };
    }>(['routes.serving.knative.dev', 'hello', '-n', 'hello']);
    outcomes[which]['Route traffic'] = route.status.traffic?.map((t) => [t.revisionName, t.percent]);
    expect(outcomes[which]['Route traffic']).toEqual([
      ['hello-00001', 90],
      ['hello-00002', 10],
    ]);
    // Through the Route's URL, as a client in the cluster calls it: both revisions answer (bounded).
    const seen = new Set<string>();
    for (let i = 0; i < 300 && seen.size < 2; i++) {
      const res = await send(`${route.status.url}/`);
      expect(res.status).toBe(200);
      seen.add(/revision (hello-0000\d)/.exec(res.body)?.[1] ?? res.body);
    }
    expect([...seen].sort()).toEqual(['hello-00001', 'hello-00002']);
    const [activator] = (await podsOf(KNATIVE, 'app=activator')).filter(ready);
    for (const revision of ['hello-00001', 'hello-00002']) {
      const res = await send(`http://${activator!.status.podIP}:8012/`, {
        headers: { 'knative-serving-revision': revision, 'knative-serving-namespace': 'hello' },
      });
      expect(res.status, revision).toBe(200);
      outcomes[which][`${revision} after the split`] = [res.status, res.body];
      expect(res.body).toContain(`revision ${revision}`);
    }
  }, 180_000);

  it('under load at CC=1, Knative’s autoscaler scrapes the queue-proxy, scales out, moves the SKS to Serve, and back to zero in Proxy', async () => {
    // A slow app at one request per Pod, with no burst capacity kept: more Pods under load, and the
    // activator out of the path while any Pod is ready.
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Service',
        metadata: { name: 'busy', namespace: 'hello' },
        spec: {
          template: {
            metadata: {
              annotations: {
                'autoscaling.knative.dev/max-scale': '3',
                'autoscaling.knative.dev/target-burst-capacity': '0',
              },
            },
            spec: {
              containerConcurrency: 1,
              containers: [
                {
                  image: 'node:24.21.0-bookworm-slim',
                  command: [
                    'node',
                    '-e',
                    "require('node:http').createServer((q, s) => setTimeout(() => s.end('busy'), 100)).listen(process.env.PORT, '127.0.0.1')",
                  ],
                },
              ],
            },
          },
        },
      }),
    });
    const busyRevision = async () =>
      (
        await cluster.getJson<{ items: { metadata: { name: string } }[] }>([
          'revisions.serving.knative.dev',
          '-n',
          'hello',
          '-l',
          'serving.knative.dev/service=busy',
        ])
      ).items[0]?.metadata.name;
    let revision: string | undefined;
    const named = await waitFor(async () => {
      revision = await busyRevision();
      return revision !== undefined;
    }, 60_000);
    expect(named).toBe(true);
    // Ready, and its public Service made (its name resolves), before any load.
    const revisionReady = await waitFor(async () => {
      const r = await cluster.getJson<{ status?: { conditions?: { type: string; status: string }[] } }>([
        'revisions.serving.knative.dev',
        revision!,
        '-n',
        'hello',
      ]);
      return r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    }, 120_000);
    expect(revisionReady, `${revision} Ready`).toBe(true);
    const host = `${revision}.hello.svc.cluster.local`;
    expect(
      await waitFor(
        () =>
          lookup(host).then(
            () => true,
            () => false,
          ),
        30_000,
      ),
      `${host} resolves`,
    ).toBe(true);
    const headers = { 'knative-serving-revision': revision!, 'knative-serving-namespace': 'hello' };
    // Load through the revision's public Service by name, as a client in the cluster sends it; bounded.
    let stop = false;
    const statuses = new Map<number, number>();
    const modes = new Set<string | undefined>();
    const loops = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const res = await send(`http://${host}/`, { headers }).catch(() => ({
          status: 0,
        }));
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    });
    const scaledOut = await waitFor(async () => {
      modes.add(await sksMode(revision!));
      const d = await cluster.getJson<{ status?: { readyReplicas?: number } }>([
        'deployment',
        `${revision}-deployment`,
        '-n',
        'hello',
      ]);
      return (d.status?.readyReplicas ?? 0) >= 2 && modes.has('Serve');
    }, 90_000);
    stop = true;
    await Promise.all(loops);
    expect(scaledOut, `2+ ready Pods and Serve (modes seen: ${[...modes].join(', ')})`).toBe(true);
    expect([...statuses.keys()], 'statuses under load').toEqual([200]);
    const backToZero = await waitFor(async () => {
      const replicas = await replicasOf(cluster, 'hello', `${revision}-deployment`);
      return replicas === 0 && (await sksMode(revision!)) === 'Proxy';
    }, 120_000);
    expect(backToZero, 'back to zero, in Proxy').toBe(true);
    outcomes[which]['under load at CC=1'] = { scaledOut, statuses: [...statuses.keys()], backToZero };
  }, 300_000);

  if (which === 'ours') {
    it('rolls back as deploy/README.md says, by applying Knative’s release without the component', async () => {
      const release = await renderRelease(cluster, join(work, 'knative'), 'knative');
      await cluster.kubectl(['apply', '-f', '-'], { input: release });
      const knativeImages = DATA_PLANES.knative;
      const rolledBack = await waitFor(async () => {
        const pods = (await podsOf(KNATIVE, 'app=activator')).filter((p) => p.status.phase === 'Running');
        const deployment = await cluster.getJson<{
          spec: { template: { spec: { containers: { image: string }[] } } };
        }>(['deployment', 'hello-00001-deployment', '-n', 'hello']);
        return (
          pods.length > 0 &&
          pods.every((p) => ready(p) && p.spec.containers[0]?.image === knativeImages.activator) &&
          deployment.spec.template.spec.containers.some((c) => c.image === knativeImages.queue)
        );
      }, 180_000);
      expect(rolledBack, 'Knative’s activator and queue-proxy back').toBe(true);
      expect(
        await waitFor(
          async () => (await replicasOf(cluster, 'hello', 'hello-00001-deployment')) === 0,
          120_000,
        ),
      ).toBe(true);
      const [activator] = (await podsOf(KNATIVE, 'app=activator')).filter(ready);
      const res = await send(`http://${activator!.status.podIP}:8012/`, {
        headers: { 'knative-serving-revision': 'hello-00001', 'knative-serving-namespace': 'hello' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toContain('revision hello-00001');
    }, 400_000);
  }
});

describe('Knative Serving with our data plane, beside its own', () => {
  it('shows a client and an operator the same outcome at every step', () => {
    expect(Object.keys(outcomes.ours).length).toBeGreaterThanOrEqual(7);
    expect(outcomes.ours).toEqual(outcomes.knative);
  });
});
