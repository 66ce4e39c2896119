/**
 * The standalone install end to end on the real control plane, as deploy/README.md tells an operator:
 * `kubectl apply -k deploy/base`, the injector's certificate made with the README's own openssl commands,
 * the hello example's revisions. The activator, autoscaler and injector run as Pods of their
 * Deployments under the node agent, on their ServiceAccounts' tokens; the apiserver calls the injector
 * over HTTPS through its Service; the real controllers and the scale subresource do the rest.
 */
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { send } from '../support/http.js';
import {
  type ClusterPod,
  podsOf as clusterPods,
  componentsReady,
  isReady,
  replicasOf,
  useStandaloneCluster,
  waitFor,
} from './support/cluster.js';

const SYSTEM = 'zerogate-system';

const cluster = useStandaloneCluster();

type Pod = ClusterPod;
const ready = isReady;
const podsOf = (namespace: string, selector: string) => clusterPods(cluster(), namespace, selector);

/** The Deployments of the standalone hello example (its HTTPRoute needs Gateway API, which is not here). */
async function helloRevisions(): Promise<string> {
  const rendered = await cluster().kubectl(['kustomize', 'deploy/examples/hello/standalone']);
  const objects = parseAllDocuments(rendered).map((d) => d.toJS() as { kind: string });
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: objects.filter((o) => o.kind !== 'HTTPRoute'),
  });
}

describe('the standalone install on a real control plane', () => {
  it('runs the activator, the autoscaler and the injector as Pods that turn Ready', async () => {
    expect(await componentsReady(cluster())).toEqual({ activator: true, autoscaler: true, injector: true });
  }, 120_000);

  it('injects the queue-proxy as a native sidecar through the apiserver’s call to the webhook', async () => {
    await cluster().kubectl(['apply', '-k', 'deploy/examples/hello/app']);
    await cluster().kubectl(['apply', '-f', '-'], { input: await helloRevisions() });
    let pod: Pod | undefined;
    expect(
      await waitFor(async () => {
        [pod] = await podsOf('hello', 'serving.knative.dev/revision=hello-00001');
        return pod !== undefined;
      }, 30_000),
    ).toBe(true);
    expect(pod!.spec.initContainers?.map((c) => [c.name, c.restartPolicy])).toEqual([
      ['queue-proxy', 'Always'],
    ]);
    // The injector wired the revision: its Revision and its Services exist.
    await cluster().kubectl(['get', 'revisions.serving.knative.dev', 'hello-00001', '-n', 'hello']);
    await cluster().kubectl(['get', 'service', 'hello-00001', 'hello-00001-private', '-n', 'hello']);
  }, 60_000);

  it('scales the idle revision to zero, then a request sent to the activator is held, scaled from zero and answered', async () => {
    const atZero = await waitFor(async () => {
      const replicas = await replicasOf(cluster(), 'hello', 'hello-00001-deployment');
      // Pods still draining (the queue-proxy's quiet period) are terminating: out of every endpoint.
      const live = (await podsOf('hello', 'serving.knative.dev/revision=hello-00001')).filter(
        (p) => !p.metadata.deletionTimestamp,
      );
      return replicas === 0 && live.length === 0;
    }, 90_000);
    expect(atZero, 'hello-00001 at zero Pods').toBe(true);
    const [activator] = await podsOf(SYSTEM, 'app.kubernetes.io/name=activator');
    const res = await send(`http://${activator!.status.podIP}:8012/`, {
      headers: { 'knative-serving-revision': 'hello-00001', 'knative-serving-namespace': 'hello' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toContain('hello');
    expect(await replicasOf(cluster(), 'hello', 'hello-00001-deployment')).toBeGreaterThanOrEqual(1);
  }, 150_000);

  it('answers for both revisions of the 90/10 example', async () => {
    const [activator] = await podsOf(SYSTEM, 'app.kubernetes.io/name=activator');
    for (const revision of ['hello-00001', 'hello-00002']) {
      const res = await send(`http://${activator!.status.podIP}:8012/`, {
        headers: { 'knative-serving-revision': revision, 'knative-serving-namespace': 'hello' },
      });
      expect(res.status, revision).toBe(200);
    }
  }, 150_000);

  it('puts the Pods behind the public Service under load (Serve) and the activators back once at zero (Proxy)', async () => {
    // With no burst capacity to keep, the activator leaves the path as soon as a Pod is ready.
    await cluster().kubectl([
      'annotate',
      '--overwrite',
      'revisions.serving.knative.dev',
      'hello-00002',
      '-n',
      'hello',
      'autoscaling.knative.dev/target-burst-capacity=0',
    ]);
    const publicAddresses = async () => {
      const slice = await cluster().getJson<{ endpoints?: { addresses: string[] }[] }>([
        'endpointslice',
        'hello-00002-ipv4',
        '-n',
        'hello',
      ]);
      return (slice.endpoints ?? []).flatMap((e) => e.addresses).sort();
    };
    const ipsOf = (pods: Pod[]) => pods.map((p) => p.status.podIP!).sort();
    const activators = ipsOf(await podsOf(SYSTEM, 'app.kubernetes.io/name=activator'));
    const revisionPods = async () =>
      ipsOf((await podsOf('hello', 'serving.knative.dev/revision=hello-00002')).filter(ready));
    expect(await waitFor(async () => (await publicAddresses()).join() === activators.join(), 120_000)).toBe(
      true,
    );

    // Load through the public Service by its name, as a client in the cluster sends it; bounded in time.
    let stop = false;
    const statuses = new Map<number, number>();
    const loops = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const res = await send('http://hello-00002.hello.svc.cluster.local/').catch(() => ({ status: 0 }));
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    });
    const served = await waitFor(async () => {
      const [addresses, pods] = [await publicAddresses(), await revisionPods()];
      return pods.length > 0 && addresses.join() === pods.join();
    }, 60_000);
    stop = true;
    await Promise.all(loops);
    expect(served, 'the public EndpointSlice lists the ready Pods').toBe(true);
    expect([...statuses.keys()], 'statuses under load').toEqual([200]);

    // Idle: back to zero Pods, the activators back in the public EndpointSlice.
    const proxied = await waitFor(async () => {
      const replicas = await replicasOf(cluster(), 'hello', 'hello-00002-deployment');
      return replicas === 0 && (await publicAddresses()).join() === activators.join();
    }, 120_000);
    expect(proxied, 'at zero behind the activators').toBe(true);
  }, 300_000);
});
