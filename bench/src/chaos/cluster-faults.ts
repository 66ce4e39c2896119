/**
 * Faults on a real control plane: a one-node cluster (packages/cluster) with Knative Serving's release
 * and our data plane over it (deploy/overlays/knative), two activator replicas, and two revisions under
 * steady load through the networking layer's stand-in: one served by its Pods (Serve), one always
 * through the activator (Proxy). Each fault is one an operator causes every day: a revision Pod deleted,
 * an activator replica deleted (both drain before they stop), and the apiserver restarted (it is not in
 * the request path). None may cost a request.
 *
 * Runs in the network namespace the suite enters when it runs this scenario (Pods need addresses a real
 * apiserver accepts); every request goes to addresses of that namespace only.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  installKnativeRelease,
  KNATIVE_BIN,
  KNATIVE_NAMESPACE,
  type KnativeIngressStandIn,
  KUBE_BIN,
  type OneNodeCluster,
  startOneNodeCluster,
  waitFor,
} from '@zerogate/cluster';
import { inNetns } from '../netns.js';
import { sleep } from '../scenarios/common.js';
import type { ChaosContext, ChaosResult, ChaosScenario } from './chaos-scenario.js';
import { type ChaosRow, faultRow } from './chaos-table.js';
import { accountFault } from './outcomes.js';
import { SteadyLoad, waitForSuccesses } from './steady-load.js';

const NAMESPACE = 'chaos';
/** Clients of each fault's steady load. */
const CLIENTS = 10;
/** How long a deletion may take to be noticed and settle: the drain, the endpoints update, a new Pod. */
const RECOVERY_TARGET_MS = 10_000;

/** A Knative Service of the node hello app: Serve mode with two Pods, or always through the activator. */
function knativeService(name: string, mode: 'Serve' | 'Proxy'): object {
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      template: {
        metadata: {
          annotations: {
            'autoscaling.knative.dev/min-scale': '2',
            'autoscaling.knative.dev/max-scale': '2',
            // 0: the activator leaves the path once Pods are ready; -1: it never does.
            'autoscaling.knative.dev/target-burst-capacity': mode === 'Serve' ? '0' : '-1',
          },
        },
        spec: {
          containers: [
            {
              image: 'node:24.21.0-bookworm-slim',
              command: [
                'node',
                '-e',
                "require('node:http').createServer((q, s) => s.end('ok\\n')).listen(process.env.PORT, '127.0.0.1')",
              ],
            },
          ],
        },
      },
    },
  };
}

interface PodView {
  metadata: { name: string };
  status: { conditions?: { type: string; status: string }[] };
}

async function readyPods(cluster: OneNodeCluster, namespace: string, selector: string): Promise<string[]> {
  const list = await cluster.getJson<{ items: PodView[] }>(['pods', '-n', namespace, '-l', selector]);
  return list.items
    .filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((p) => p.metadata.name);
}

async function waitReady(cluster: OneNodeCluster, namespace: string, selector: string, count: number) {
  const ok = await waitFor(
    async () => (await readyPods(cluster, namespace, selector)).length >= count,
    300_000,
  );
  if (!ok) throw new Error(`fewer than ${count} Ready Pods in ${namespace} with ${selector}`);
}

/** The host of a Knative Service's Route (its URL's), once it is Ready. */
async function routeHost(cluster: OneNodeCluster, name: string): Promise<string> {
  let host: string | undefined;
  const ok = await waitFor(async () => {
    const route = await cluster
      .getJson<{ status?: { url?: string; conditions?: { type: string; status: string }[] } }>([
        'routes.serving.knative.dev',
        name,
        '-n',
        NAMESPACE,
      ])
      .catch(() => undefined);
    const ready = route?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    host = ready && route?.status?.url ? new URL(route.status.url).host : undefined;
    return host !== undefined;
  }, 300_000);
  if (!ok || !host) throw new Error(`the Route ${NAMESPACE}/${name} did not turn Ready`);
  return host;
}

/** One fault, under steady load to `host` through the stand-in; its row. */
async function underLoad(
  context: ChaosContext,
  scenario: string,
  component: string,
  host: string,
  inject: () => Promise<void>,
): Promise<ChaosRow> {
  const { before, after } = context.quick ? { before: 1, after: 6 } : { before: 2, after: 12 };
  const load = new SteadyLoad({
    origin: 'http://10.240.0.2',
    headers: { host },
    clients: CLIENTS,
    timeoutMs: 20_000,
  });
  await waitForSuccesses(load, CLIENTS, 30_000);
  await sleep(before * 1000);
  context.progress(`cluster-faults: ${scenario}`);
  const faultAt = performance.now();
  await inject();
  await sleep(Math.max(0, after * 1000 - (performance.now() - faultAt)));
  const records = await load.stop();
  return faultRow(scenario, component, accountFault(records, faultAt, 'all'), RECOVERY_TARGET_MS);
}

/** Deletes one Ready Pod of `selector` as an operator (or a node drain) would, not waiting for it to go. */
async function deleteOne(cluster: OneNodeCluster, namespace: string, selector: string): Promise<void> {
  const [name] = await readyPods(cluster, namespace, selector);
  if (!name) throw new Error(`no Ready Pod in ${namespace} with ${selector} to delete`);
  await cluster.kubectl(['delete', 'pod', name, '-n', namespace, '--wait=false']);
}

async function run(context: ChaosContext): Promise<ChaosResult> {
  if (!clusterBuilt())
    throw new Error('needs the cluster binaries: npm run cluster:build && npm run knative:build');
  if (!inNetns()) throw new Error('runs in a network namespace: npm run chaos enters one');
  const work = mkdtempSync(join(tmpdir(), 'zerogate-chaos-cluster-'));
  context.progress(
    'cluster-faults: starting a control plane and a node, installing Knative with our data plane',
  );
  const cluster = await startOneNodeCluster();
  let ingress: KnativeIngressStandIn | undefined;
  try {
    ingress = await installKnativeRelease(cluster, 'ours', work);
    // Two activator replicas, as a production install runs at least (Knative's HPA allows 1 to 20).
    await cluster.kubectl([
      'patch',
      'hpa',
      'activator',
      '-n',
      KNATIVE_NAMESPACE,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { minReplicas: 2 } }),
    ]);
    await waitReady(cluster, KNATIVE_NAMESPACE, 'app=activator', 2);
    await cluster.kubectl(['create', 'namespace', NAMESPACE]);
    for (const [name, mode] of [
      ['served', 'Serve'],
      ['proxied', 'Proxy'],
    ] as const) {
      await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(knativeService(name, mode)) });
    }
    const served = await routeHost(cluster, 'served');
    const proxied = await routeHost(cluster, 'proxied');
    const servedPods = 'serving.knative.dev/service=served';
    await waitReady(cluster, NAMESPACE, servedPods, 2);
    await waitReady(cluster, NAMESPACE, 'serving.knative.dev/service=proxied', 2);
    const rows = [
      await underLoad(context, 'cluster: a revision Pod deleted (Serve)', 'revision Pod', served, () =>
        deleteOne(cluster, NAMESPACE, servedPods),
      ),
      await underLoad(context, 'cluster: an activator replica deleted (Proxy)', 'activator', proxied, () =>
        deleteOne(cluster, KNATIVE_NAMESPACE, 'app=activator'),
      ),
      await underLoad(context, 'cluster: the apiserver restarted', 'kube-apiserver', proxied, () =>
        cluster.plane.restartApiserver(),
      ),
    ];
    return {
      rows,
      details: [
        `load: ${CLIENTS} clients through the networking stand-in (no retries) to each revision's Route; two activator replicas; ` +
          'the deleted Pods drain (SIGTERM, then the grace period) while their endpoints are withdrawn',
      ],
    };
  } finally {
    await ingress?.stop();
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Whether the binaries this scenario runs are built (`npm run cluster:build`, `npm run knative:build`). */
export function clusterBuilt(): boolean {
  return existsSync(join(KUBE_BIN, 'kube-apiserver')) && existsSync(join(KNATIVE_BIN, 'controller'));
}

/** The scenario. */
export const clusterFaults: ChaosScenario = {
  name: 'cluster-faults',
  description:
    'on a real control plane with Knative’s: a revision Pod deleted, an activator replica deleted, the apiserver restarted, each under load',
  lossDefinition:
    'every failed request: a deleted Pod drains before it stops and the apiserver is not in the request path, so nothing may fail',
  budgetSeconds: 600,
  run,
};
