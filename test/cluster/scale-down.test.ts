/**
 * Scale-down on the real control plane, with deploy/base installed as deploy/README.md tells it: the
 * autoscaler keeps the Pods' `controller.kubernetes.io/pod-deletion-cost` in step with their requests in
 * flight while a scale-down is near, and the real ReplicaSet controller, which deletes the Pods of
 * lowest cost first, removes the idle Pods and leaves the busy one to finish its requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, type TextResponse } from '../support/http.js';
import {
  type ClusterPod,
  podsOf as clusterPods,
  installStandalone,
  isReady,
  replicasOf,
  startCluster,
  type TestCluster,
  waitFor,
} from './support/cluster.js';

const SYSTEM = 'zerogate-system';
const NS = 'scale-down';
const REVISION = 'busy-00001';
/** The image table maps this to the project's Node.js. */
const NODE_IMAGE = 'node:24.21.0-bookworm-slim';
const COST = 'controller.kubernetes.io/pod-deletion-cost';

/** An app that answers `/?ms=N` after N ms. */
const APP = `require('node:http').createServer((q, s) => setTimeout(() => s.end('done'), Number(new URL(q.url, 'http://app').searchParams.get('ms') ?? 0))).listen(process.env.PORT)`;

let cluster: TestCluster;

type Pod = ClusterPod & { metadata: { creationTimestamp?: string; annotations?: Record<string, string> } };

const revisionPods = async () =>
  (await clusterPods(cluster, NS, `serving.knative.dev/revision=${REVISION}`)) as Pod[];

beforeAll(async () => {
  cluster = await startCluster({ crashBackoff: { initialMs: 1000, maxMs: 5000 } });
  await installStandalone(cluster);
  await cluster.kubectl(['create', 'namespace', NS]);
  for (const name of ['activator', 'autoscaler', 'injector']) {
    const up = await waitFor(async () => {
      const pods = await clusterPods(cluster, SYSTEM, `app.kubernetes.io/name=${name}`);
      return pods.length > 0 && pods.every(isReady);
    }, 90_000);
    if (!up) throw new Error(`${name} Pods not Ready`);
  }
}, 150_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('scale-down on a real control plane', () => {
  it('scaling 3 → 1 deletes the idle Pods and keeps the one with long requests in flight, which finish with 200', async () => {
    // Two requests per Pod (target 2 at 100 %): the two long requests fit on one Pod, so the autoscaler
    // goes from the initial 3 to 1 once the 20 s scale-down delay has passed.
    const labels = { 'serving.knative.dev/revision': REVISION, 'zerogate.dev/inject': 'enabled' };
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `${REVISION}-deployment`, namespace: NS },
      spec: {
        replicas: 3,
        selector: { matchLabels: { 'serving.knative.dev/revision': REVISION } },
        template: {
          metadata: {
            labels,
            annotations: {
              'autoscaling.knative.dev/initial-scale': '3',
              'autoscaling.knative.dev/min-scale': '1',
              'autoscaling.knative.dev/max-scale': '3',
              'autoscaling.knative.dev/target': '2',
              'autoscaling.knative.dev/target-utilization-percentage': '100',
              'autoscaling.knative.dev/scale-down-delay': '20s',
            },
          },
          spec: {
            containers: [
              {
                name: 'user-container',
                image: NODE_IMAGE,
                command: ['node', '-e', APP],
                ports: [{ name: 'http1', containerPort: 8080 }],
              },
            ],
          },
        },
      },
    };
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(deployment) });
    let pods: Pod[] = [];
    const threeReady = await waitFor(async () => {
      pods = (await revisionPods()).filter((p) => isReady(p) && !p.metadata.deletionTimestamp);
      return pods.length === 3;
    }, 120_000);
    expect(threeReady, 'three ready Pods').toBe(true);

    // The youngest Pod, which the ReplicaSet controller deletes first when costs are equal.
    const busy = [...pods].sort(
      (a, b) =>
        (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
        a.metadata.name.localeCompare(b.metadata.name),
    )[2]!;
    // Straight to its queue-proxy, past any choice of Pod.
    const long: Promise<TextResponse>[] = [1, 2].map(() =>
      send(`http://${busy.status.podIP}:8012/?ms=90000`, { signal: AbortSignal.timeout(150_000) }),
    );

    const one = await waitFor(async () => {
      const live = (await revisionPods()).filter((p) => !p.metadata.deletionTimestamp);
      return (await replicasOf(cluster, NS, `${REVISION}-deployment`)) === 1 && live.length === 1;
    }, 120_000);
    expect(one, 'scaled to one Pod').toBe(true);
    const [left] = (await revisionPods()).filter((p) => !p.metadata.deletionTimestamp);
    expect(left?.metadata.name).toBe(busy.metadata.name);
    expect(Number(left?.metadata.annotations?.[COST])).toBeGreaterThanOrEqual(1);
    const answers = await Promise.all(long);
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, 'done'],
      [200, 'done'],
    ]);
  }, 300_000);
});
