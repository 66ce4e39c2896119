/**
 * The `activator-cluster` scenario: what the activator adds on a real control plane, ours beside
 * Knative's. Knative's activator cannot run without Kubernetes (it watches Revisions, Endpoints and
 * Services), so each data plane gets a one-node cluster of its own (packages/cluster) with Knative
 * Serving's release installed as an operator installs it: unmodified, and with our component over it.
 * In each, one Pod of one revision (min and max scale 1, CC=0) answers; load goes once straight to the
 * Pod's queue-proxy and once through the activator's Pod with Knative's revision headers, so the
 * difference is the activator's hop, and the activator's CPU is read from its container's processes.
 *
 * Runs in a network namespace of its own (the command line enters one), where Pods have addresses a
 * real apiserver accepts; every request goes to addresses of that namespace only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DATA_PLANES,
  type DataPlane,
  installKnativeRelease,
  KNATIVE_NAMESPACE,
  type KnativeIngressStandIn,
  type OneNodeCluster,
  startOneNodeCluster,
  waitFor,
} from '@zerogate/cluster';
import { request } from 'undici';
import { type LoadResult, runLoad } from '../load-generator.js';
import { BackgroundLoad, ProcessSampler } from '../process-sampler.js';
import { delta, mebibytes, ratio } from '../ratios.js';
import type { OptionValues, RunSettings, Scenario, ScenarioContext, ScenarioReport } from '../scenario.js';
import { fixed, type Table, times } from '../table.js';
import { connectionsLabel, figures, labelledTable, latencyCells, type ProcessFigures } from './common.js';

const NAMESPACE = 'bench';
const SERVICE = 'hello';
/** Seconds an install may take to have Knative's components and the revision's Pod ready. */
const INSTALL_BUDGET_S = 300;

/** The revision measured: one Pod always (so load never scales it), any number of requests at once. */
const KNATIVE_SERVICE = {
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: { name: SERVICE, namespace: NAMESPACE },
  spec: {
    template: {
      metadata: {
        annotations: { 'autoscaling.knative.dev/min-scale': '1', 'autoscaling.knative.dev/max-scale': '1' },
      },
      spec: {
        containerConcurrency: 0,
        containers: [
          {
            image: 'node:24.21.0-bookworm-slim',
            command: [
              'node',
              '-e',
              "require('node:http').createServer((q, s) => s.end('hello\\n')).listen(process.env.PORT, '127.0.0.1')",
            ],
          },
        ],
      },
    },
  },
};

/** A measured path: straight to the Pod, or through the activator. */
type Path = 'direct' | 'activator';

/** One measured load run and what each process used. */
interface Cell {
  readonly plane: DataPlane;
  readonly path: Path;
  readonly load: LoadResult;
  readonly activator: ProcessFigures;
  readonly queueProxy: ProcessFigures;
  /** CPU used by everything else on the machine (the control plane among it), percent of one core. */
  readonly otherCpuPercent: number;
}

/** The addresses and processes of one installed data plane. */
interface Installed {
  readonly cluster: OneNodeCluster;
  readonly ingress: KnativeIngressStandIn;
  readonly podIp: string;
  readonly activatorIp: string;
  readonly queueProxyPid: number;
  readonly activatorPid: number;
}

interface PodView {
  metadata: { name: string };
  status: { podIP?: string; conditions?: { type: string; status: string }[] };
}

const isReady = (pod: PodView) =>
  pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function readyPod(cluster: OneNodeCluster, namespace: string, selector: string): Promise<PodView> {
  let found: PodView | undefined;
  const ok = await waitFor(async () => {
    const list = await cluster.getJson<{ items: PodView[] }>(['pods', '-n', namespace, '-l', selector]);
    found = list.items.find(isReady);
    return found !== undefined;
  }, INSTALL_BUDGET_S * 1000);
  if (!ok || !found) throw new Error(`no Ready Pod in ${namespace} with ${selector}`);
  return found;
}

/** Knative's revision headers, which the activator routes by. */
const revisionHeaders = (revision: string) => ({
  'knative-serving-revision': revision,
  'knative-serving-namespace': NAMESPACE,
});

/** Starts a cluster, installs Knative with `plane`'s data plane and the measured revision; resolves once it answers through the activator. */
async function install(plane: DataPlane, work: string, progress: (m: string) => void): Promise<Installed> {
  progress(`${plane}: starting a control plane and a node`);
  const cluster = await startOneNodeCluster();
  try {
    progress(
      `${plane}: installing Knative Serving's release${plane === 'ours' ? ' with our component' : ''}`,
    );
    const ingress = await installKnativeRelease(cluster, plane, work);
    const activator = await readyPod(cluster, KNATIVE_NAMESPACE, 'app=activator');
    await cluster.kubectl(['create', 'namespace', NAMESPACE]);
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(KNATIVE_SERVICE) });
    progress(`${plane}: waiting for the revision's Pod`);
    const pod = await readyPod(cluster, NAMESPACE, `serving.knative.dev/service=${SERVICE}`);
    const revision = `${SERVICE}-00001`;
    const activatorIp = activator.status.podIP!;
    const forwards = await waitFor(async () => {
      const res = await request(`http://${activatorIp}:8012/`, { headers: revisionHeaders(revision) }).catch(
        () => undefined,
      );
      await res?.body.dump();
      return res?.statusCode === 200;
    }, 120_000);
    if (!forwards) throw new Error(`${plane}: the activator does not forward to ${revision}`);
    const queueProxyPid = cluster.node.containerPid(`${NAMESPACE}/${pod.metadata.name}`, 'queue-proxy');
    const activatorPid = cluster.node.containerPid(
      `${KNATIVE_NAMESPACE}/${activator.metadata.name}`,
      'activator',
    );
    if (queueProxyPid === undefined || activatorPid === undefined) {
      throw new Error(`${plane}: the node runs no queue-proxy or activator process`);
    }
    return { cluster, ingress, podIp: pod.status.podIP!, activatorIp, queueProxyPid, activatorPid };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** Runs one load with the activator's and the queue-proxy's processes sampled around it. */
async function measure(
  installed: Installed,
  plane: DataPlane,
  path: Path,
  connections: number,
  settings: RunSettings,
): Promise<Cell> {
  const revision = `${SERVICE}-00001`;
  const options =
    path === 'direct'
      ? { url: `http://${installed.podIp}:8012/` }
      : { url: `http://${installed.activatorIp}:8012/`, headers: revisionHeaders(revision) };
  if (settings.warmupSeconds > 0) {
    await runLoad({ ...options, connections, durationSeconds: settings.warmupSeconds });
  }
  const activator = new ProcessSampler(installed.activatorPid);
  const queueProxy = new ProcessSampler(installed.queueProxyPid);
  const background = new BackgroundLoad();
  activator.start();
  queueProxy.start();
  background.start();
  const load = await runLoad({ ...options, connections, durationSeconds: settings.durationSeconds });
  const usage = { activator: activator.stop(), queueProxy: queueProxy.stop() };
  const otherCpuPercent = background.stop(usage.activator.cpuSeconds + usage.queueProxy.cpuSeconds);
  return {
    plane,
    path,
    load,
    activator: figures(usage.activator, load.requests),
    queueProxy: figures(usage.queueProxy, load.requests),
    otherCpuPercent,
  };
}

const PLANE_LABEL: Record<DataPlane, string> = { ours: 'ours', knative: 'Knative' };

/** µs of CPU per request from CPU seconds per 10k requests. */
const microsPerRequest = (per10k: number | undefined) => (per10k === undefined ? undefined : per10k * 100);

/** The tables: per connection count, each plane's two paths; then ours over Knative's. */
export function activatorClusterTables(cells: readonly Cell[], connections: readonly number[]): Table[] {
  const find = (plane: DataPlane, path: Path, n: number) =>
    cells.find((c) => c.plane === plane && c.path === path && c.load.connections === n);
  const tables: Table[] = connections.map((n) =>
    labelledTable(
      connectionsLabel(n),
      ['path', 'req/s', 'p50 ms', 'p99 ms', '+p50 ms', 'act µs/req', 'qp µs/req', 'act RSS MiB', 'errors'],
      (['ours', 'knative'] as const).flatMap((plane) =>
        (['direct', 'activator'] as const).flatMap((path) => {
          const cell = find(plane, path, n);
          if (!cell) return [];
          const direct = find(plane, 'direct', n);
          const added =
            path === 'activator' ? delta(cell.load.latencyMs.p50, direct?.load.latencyMs.p50) : undefined;
          return [
            [
              `${PLANE_LABEL[plane]}: ${path === 'direct' ? 'queue-proxy' : 'activator → queue-proxy'}`,
              ...latencyCells(
                cell.load.rps,
                { p50Ms: cell.load.latencyMs.p50, p99Ms: cell.load.latencyMs.p99 },
                added,
              ),
              path === 'activator' ? fixed(microsPerRequest(cell.activator.cpuSecondsPer10k), 1) : '',
              fixed(microsPerRequest(cell.queueProxy.cpuSecondsPer10k), 1),
              path === 'activator' ? fixed(mebibytes(cell.activator.rssLoadedKiB), 1) : '',
              String(cell.load.errors + cell.load.timeouts + cell.load.non2xx),
            ],
          ];
        }),
      ),
    ),
  );
  tables.push(
    labelledTable(
      'Our activator over Knative’s',
      [
        'connections',
        'added p50 ours ms',
        'added p50 Knative ms',
        'act CPU/req ×Knative',
        'act RSS ×Knative',
      ],
      connections.map((n) => {
        const added = (plane: DataPlane) =>
          delta(
            find(plane, 'activator', n)?.load.latencyMs.p50,
            find(plane, 'direct', n)?.load.latencyMs.p50,
          );
        const ours = find('ours', 'activator', n);
        const theirs = find('knative', 'activator', n);
        return [
          String(n),
          fixed(added('ours'), 3),
          fixed(added('knative'), 3),
          times(ratio(ours?.activator.cpuSecondsPer10k, theirs?.activator.cpuSecondsPer10k)),
          times(ratio(ours?.activator.rssLoadedKiB, theirs?.activator.rssLoadedKiB)),
        ];
      }),
    ),
  );
  return tables;
}

async function run(context: ScenarioContext): Promise<ScenarioReport> {
  const { settings, progress } = context;
  const cells: Cell[] = [];
  for (const plane of Object.keys(DATA_PLANES) as DataPlane[]) {
    const work = mkdtempSync(join(tmpdir(), 'zerogate-bench-cluster-'));
    const installed = await install(plane, work, progress);
    try {
      for (const n of settings.connections) {
        for (const path of ['direct', 'activator'] as const) {
          progress(`${plane}: ${path} at ${connectionsLabel(n)}`);
          cells.push(await measure(installed, plane, path, n, settings));
        }
      }
    } finally {
      await installed.ingress.stop();
      await installed.cluster.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }
  const busiest = Math.max(...cells.map((c) => c.otherCpuPercent));
  return {
    setup: [
      [
        'Control plane',
        'kube-apiserver, etcd, controller-manager and scheduler built from the Go module proxy, one per data plane',
      ],
      [
        'Knative',
        'Knative Serving’s release (controller, webhook, autoscaler) from its Go module; data plane: Knative’s own, then ours over it (deploy/overlays/knative)',
      ],
      ['Revision', `${NAMESPACE}/${SERVICE}-00001: one Pod (min and max scale 1), CC=0, a Node hello app`],
      ['Layout', 'unpinned; every process of the cluster shares the machine with the load generator'],
    ],
    tables: activatorClusterTables(cells, settings.connections),
    notes: [
      'direct: to the Pod’s queue-proxy (:8012); activator: to the activator’s Pod (:8012) with Knative-Serving-Revision and -Namespace, which forwards to the same Pod. +p50: the activator path’s p50 minus the direct p50 of the same data plane.',
      'act, qp µs/req: CPU per request of the activator’s and the queue-proxy’s container processes, read from /proc around the measured run.',
      `The control plane, Knative’s controller and autoscaler and the node agent run beside the load: other processes used up to ${busiest.toFixed(0)}% of a core during a run, so compare the rows as ratios within this run.`,
    ],
    data: { cells },
  };
}

/** The scenario. */
export const activatorClusterScenario: Scenario = {
  name: 'activator-cluster',
  description: 'the activator’s added latency and CPU on a real control plane, ours beside Knative’s',
  options: {},
  usage: ['(needs npm run cluster:build and npm run knative:build; runs in a network namespace, as root)'],
  unpinned: true,
  netns: true,
  prepare(_values: OptionValues, settings: RunSettings) {
    const perCell = settings.warmupSeconds + settings.durationSeconds + 15;
    return {
      budgetSeconds: 2 * (INSTALL_BUDGET_S + 2 * settings.connections.length * perCell),
      run,
    };
  },
};
