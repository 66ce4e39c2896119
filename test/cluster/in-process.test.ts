/**
 * In-process mode on the real control plane: the standalone install as deploy/README.md tells it, then
 * `kubectl apply -k deploy/examples/hello-in-process`. The apiserver calls the injector, which adds no
 * sidecar to the annotated Pod and wires its revision to the app itself; the app (examples/hello-in-process,
 * @zerogate/in-process, run from the activator image) turns Ready on the kubelet's probe of its own port,
 * serves its Stat on 9090 for the autoscaler, is scaled from zero by a request the activator holds, and
 * goes back to zero when idle, draining itself through its preStop hook.
 */
import { describe, expect, it } from 'vitest';
import { send } from '../support/http.js';
import {
  type ClusterPod,
  podsOf as clusterPods,
  componentsReady,
  containerLog,
  isReady,
  replicasOf,
  useStandaloneCluster,
  waitFor,
} from './support/cluster.js';

const SYSTEM = 'zerogate-system';
const NS = 'hello-in-process';
const REVISION = 'hello-in-process-00001';
const DEPLOYMENT = `${REVISION}-deployment`;
const SELECTOR = `serving.knative.dev/revision=${REVISION}`;
/** Where the activator finds the revision (deploy/README.md, Run a workload). */
const REVISION_HEADERS = { 'knative-serving-revision': REVISION, 'knative-serving-namespace': NS };

const cluster = useStandaloneCluster();
const podsOf = (namespace: string, selector: string) => clusterPods(cluster(), namespace, selector);
/** The revision's Pods not terminating: those in its endpoints. */
const livePods = async () => (await podsOf(NS, SELECTOR)).filter((p) => !p.metadata.deletionTimestamp);

/** The parts of a container of the Pod's spec the tests read beyond {@link ClusterPod}'s. */
interface AppContainer {
  name: string;
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { port: number | string; httpHeaders?: { name: string; value: string }[] } };
  lifecycle?: { preStop?: { httpGet?: { path: string; port: number | string } } };
}

describe('an in-process revision on a real control plane', () => {
  it('runs the standalone install: the activator, the autoscaler and the injector turn Ready', async () => {
    expect(await componentsReady(cluster())).toEqual({ activator: true, autoscaler: true, injector: true });
  }, 120_000);

  it('admits the example Pod with no sidecar, the contract in its app container, and wires the revision to the app', async () => {
    await cluster().kubectl(['apply', '-k', 'deploy/examples/hello-in-process']);
    let pod: ClusterPod | undefined;
    expect(
      await waitFor(async () => {
        [pod] = await podsOf(NS, SELECTOR);
        return pod !== undefined;
      }, 60_000),
      'a Pod of the revision was created',
    ).toBe(true);
    // The app alone: no queue-proxy, as a native sidecar or otherwise.
    expect(pod!.spec.initContainers ?? []).toEqual([]);
    expect(pod!.spec.containers.map((c) => c.name)).toEqual(['user-container']);
    const app = pod!.spec.containers[0] as unknown as AppContainer;
    const env = Object.fromEntries(
      (app.env ?? []).map((e) => [e.name, e.value ?? `field ${e.valueFrom?.fieldRef?.fieldPath}`]),
    );
    expect(env).toMatchObject({
      PORT: '8080',
      HOST: '0.0.0.0',
      K_REVISION: REVISION,
      SERVING_REVISION: REVISION,
      SERVING_POD: 'field metadata.name',
      CONTAINER_CONCURRENCY: '10',
      REVISION_TIMEOUT_SECONDS: '300',
      QUEUE_STATS_PORT: '9090',
      QUEUE_ADMIN_PORT: '8022',
    });
    expect(env).not.toHaveProperty('USER_PORT');
    expect(app.readinessProbe?.httpGet).toMatchObject({
      port: 8080,
      httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }],
    });
    expect(app.lifecycle?.preStop?.httpGet).toMatchObject({ path: '/wait-for-drain', port: 8022 });

    // The Revision, and Services aimed at the app's own ports.
    await cluster().kubectl(['get', 'revisions.serving.knative.dev', REVISION, '-n', NS]);
    const priv = await cluster().getJson<{
      spec: { ports: { name: string; targetPort: number | string }[] };
    }>(['service', `${REVISION}-private`, '-n', NS]);
    expect(priv.spec.ports.map((p) => [p.name, p.targetPort])).toEqual([
      ['http', 8080],
      ['http-autometric', 9090],
      ['http-usermetric', 9091],
    ]);
    await cluster().kubectl(['get', 'service', REVISION, '-n', NS]);
  }, 90_000);

  it('refuses a Pod in in-process mode without the stats port, naming what is missing', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'no-stats-port',
        namespace: NS,
        labels: { 'zerogate.dev/inject': 'enabled', 'serving.knative.dev/revision': 'no-stats-00001' },
        annotations: { 'zerogate.dev/queue-proxy': 'in-process' },
      },
      spec: {
        containers: [
          {
            name: 'app',
            image: 'ghcr.io/zerogate/activator:0.1.0',
            command: ['node', 'examples/hello-in-process/server.mjs'],
            ports: [{ containerPort: 8080 }],
          },
        ],
      },
    };
    await expect(cluster().kubectl(['create', '-f', '-'], { input: JSON.stringify(pod) })).rejects.toThrow(
      /annotation zerogate\.dev\/queue-proxy is in-process, but container app declares no containerPort 9090/,
    );
    await expect(cluster().kubectl(['get', 'pod', 'no-stats-port', '-n', NS])).rejects.toThrow(/NotFound/);
  }, 60_000);

  it('goes to zero when idle, then a request sent to the activator is held, the app scaled from zero answers it, and the revision goes back to zero', async () => {
    // The first Pod (initial scale 1) turns Ready on the kubelet's probe of the app's own port.
    expect(await waitFor(async () => (await livePods()).some(isReady), 90_000), 'the first Pod Ready').toBe(
      true,
    );
    const atZero = async () =>
      (await replicasOf(cluster(), NS, DEPLOYMENT)) === 0 && (await livePods()).length === 0;
    // No Pod at all: the last one drained itself (its preStop waits for 30 s without a request) and exited.
    const gone = async () =>
      (await replicasOf(cluster(), NS, DEPLOYMENT)) === 0 && (await podsOf(NS, SELECTOR)).length === 0;
    // Idle: the stable window (6 s) and the grace (1 s) pass, then the Pod drains and goes.
    expect(await waitFor(gone, 150_000), `${REVISION} at zero, its Pod gone`).toBe(true);

    const [activator] = await podsOf(SYSTEM, 'app.kubernetes.io/name=activator');
    const started = Date.now();
    const res = await send(`http://${activator!.status.podIP}:8012/`, { headers: REVISION_HEADERS });
    const heldMs = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.body).toContain(`Hello from Zerogate! (revision ${REVISION}, path /)`);
    expect(await replicasOf(cluster(), NS, DEPLOYMENT)).toBeGreaterThanOrEqual(1);

    // No Pod existed when the request was sent: the one that answered was started for it. It is the app
    // alone, and serves the autoscaler its Stat on 9090 (the kubelet may not have marked it Ready yet: the
    // activator probes it and forwards on its own).
    const [pod] = (await livePods()).filter((p) => p.status.podIP);
    expect(pod, 'a running Pod after the scale from zero').toBeDefined();
    const created = Date.parse((pod!.metadata as { creationTimestamp?: string }).creationTimestamp ?? '');
    // The apiserver's timestamps are whole seconds.
    expect(created, 'the Pod was created after the request was sent').toBeGreaterThanOrEqual(
      Math.floor(started / 1000) * 1000,
    );
    expect(pod!.spec.initContainers ?? []).toEqual([]);
    const stats = await send(`http://${pod!.status.podIP}:9090/metrics`, {
      headers: { accept: 'application/protobuf' },
    });
    expect(stats.status).toBe(200);
    // The app's own log: its listening line, as the example apps write it.
    expect(containerLog(cluster(), NS, pod!.metadata.name, 'user-container')).toContain('"msg":"listening"');

    // Idle again: back to zero, and the Pod gone once it drained itself through its preStop hook.
    const answered = Date.now();
    expect(await waitFor(atZero, 120_000), `${REVISION} back at zero Pods`).toBe(true);
    const zeroMs = Date.now() - answered;
    expect(await waitFor(gone, 150_000), `${REVISION} Pod gone after its drain`).toBe(true);
    console.log(
      `held at zero and answered in ${(heldMs / 1000).toFixed(1)} s; back to zero ${(zeroMs / 1000).toFixed(1)} s ` +
        `after, the Pod gone ${((Date.now() - answered) / 1000).toFixed(1)} s after`,
    );
  }, 480_000);
});
