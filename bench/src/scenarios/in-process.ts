/**
 * The `in-process` scenario: the same hello app as three Pods, side by side in one run: bare (the plain
 * app, no contract), sidecar (our queue-proxy in front of the plain app) and in-process (the app
 * carrying the queue-proxy's contract itself, `@zerogate/in-process`), both at CC=0. Each row is the
 * whole Pod: its req/s and latency, the CPU all of its processes spent per request, and their memory
 * summed.
 *
 * Pods run one after another, never concurrently; each is started, measured at every connection count,
 * then stopped. Every process of a Pod runs on the proxy CPU and the load generator on its own, so each
 * Pod has one core, as a Pod with a one-CPU limit would: the sidecar's two processes share theirs.
 */
import { join } from 'node:path';
import { type LoadResult, runLoad } from '../load-generator.js';
import { pinned } from '../pinning.js';
import { freePorts } from '../ports.js';
import { BackgroundLoad, idleMemoryKiB, ProcessSampler } from '../process-sampler.js';
import { disturbanceNote } from '../quiet-run.js';
import { delta, mebibytes } from '../ratios.js';
import type { RunSettings, Scenario, ScenarioContext, ScenarioReport } from '../scenario.js';
import type { ManagedProcess } from '../supervisor.js';
import { fixed, type Table } from '../table.js';
import {
  cellBudgetSeconds,
  checkAlive,
  connectionsLabel,
  cpuOf,
  disturbedRuns,
  KUBE_PROBE_HEADERS,
  labelledTable,
  latencyCells,
  missingBuilds,
  QUEUE_PROXY_ENTRY,
  queueProxyArgv,
  queueProxyEnv,
  READY_TIMEOUT_MS,
  SETTLE_MS,
  sleep,
  UNPINNED_LAYOUT,
  waitForHttp,
  warmThenMeasure,
} from './common.js';

/** The plain hello app (bare and sidecar Pods). */
const HELLO_APP = 'examples/hello/server.mjs';
/** The hello app in in-process mode. */
const HELLO_IN_PROCESS_APP = 'examples/hello-in-process/server.mjs';
/** What the in-process example imports, built. */
const IN_PROCESS_ENTRY = 'packages/in-process/dist/index.js';

/** How a Pod carries the queue-proxy's contract, if at all. */
export type PodKind = 'bare' | 'sidecar' | 'in-process';

/** The three Pods, in the order they are measured and tabled. */
const PODS: readonly { readonly kind: PodKind; readonly label: string; readonly command: string }[] = [
  { kind: 'bare', label: 'bare', command: `node ${HELLO_APP}` },
  {
    kind: 'sidecar',
    label: 'sidecar cc0',
    command: `node ${HELLO_APP} + node ${QUEUE_PROXY_ENTRY}`,
  },
  { kind: 'in-process', label: 'in-process cc0', command: `node ${HELLO_IN_PROCESS_APP}` },
];

/** A Pod's memory, summed over its processes, KiB. */
export interface PodMemory {
  readonly rssKiB: number;
  readonly rssAnonKiB: number;
}

/** One Pod at one connection count. */
export interface PodCell {
  readonly connections: number;
  readonly load: Pick<LoadResult, 'requests' | 'rps' | 'errors' | 'non2xx'> & {
    readonly latencyMs: Pick<LoadResult['latencyMs'], 'p50' | 'p99'>;
  };
  /** CPU seconds of every process of the Pod during the measured run. */
  readonly cpuSeconds: number;
  /** Each process's highest resident memory during the run, summed. */
  readonly loaded: PodMemory;
  /** CPU used by processes outside the benchmark during the run, percent of one core. */
  readonly otherCpuPercent: number;
}

/** One Pod's measurements. */
export interface PodResult {
  readonly kind: PodKind;
  readonly label: string;
  /** Memory once started and settled, before any load. */
  readonly idle: PodMemory;
  readonly cells: readonly PodCell[];
}

/** A row of the table: one Pod at one connection count, with its p50 over bare's. */
export interface PodRow {
  readonly label: string;
  readonly kind: PodKind;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** p50 minus bare's p50 at the same connection count; undefined for bare itself. */
  readonly addedP50Ms: number | undefined;
  /** CPU of the whole Pod per request, microseconds. */
  readonly cpuMicrosPerRequest: number | undefined;
  readonly rssIdleMiB: number;
  readonly rssAnonIdleMiB: number;
  readonly rssLoadedMiB: number;
  readonly rssAnonLoadedMiB: number;
  readonly failures: number;
}

/** The rows at one connection count, in the Pods' order; a Pod not measured there is left out. */
export function podRows(results: readonly PodResult[], connections: number): PodRow[] {
  const at = (result: PodResult | undefined) => result?.cells.find((c) => c.connections === connections);
  const bare = at(results.find((r) => r.kind === 'bare'));
  const rows: PodRow[] = [];
  for (const result of results) {
    const cell = at(result);
    if (cell === undefined) continue;
    const { load } = cell;
    rows.push({
      label: result.label,
      kind: result.kind,
      rps: load.rps,
      p50Ms: load.latencyMs.p50,
      p99Ms: load.latencyMs.p99,
      addedP50Ms: result.kind === 'bare' ? undefined : delta(load.latencyMs.p50, bare?.load.latencyMs.p50),
      cpuMicrosPerRequest: load.requests > 0 ? (cell.cpuSeconds / load.requests) * 1e6 : undefined,
      rssIdleMiB: mebibytes(result.idle.rssKiB),
      rssAnonIdleMiB: mebibytes(result.idle.rssAnonKiB),
      rssLoadedMiB: mebibytes(cell.loaded.rssKiB),
      rssAnonLoadedMiB: mebibytes(cell.loaded.rssAnonKiB),
      failures: load.errors + load.non2xx,
    });
  }
  return rows;
}

const HEADERS = [
  'Pod',
  'req/s',
  'p50 ms',
  'p99 ms',
  '+p50 ms',
  'CPU µs/req',
  'RSS idle MiB',
  'RssAnon idle MiB',
  'RSS load MiB',
  'RssAnon load MiB',
  'errors',
];

/** The table of one connection count. */
export function podTable(connections: number, rows: readonly PodRow[]): Table {
  return labelledTable(
    connectionsLabel(connections),
    HEADERS,
    rows.map((row) => [
      row.label,
      ...latencyCells(row.rps, row, row.addedP50Ms),
      fixed(row.cpuMicrosPerRequest, 1),
      fixed(row.rssIdleMiB, 1),
      fixed(row.rssAnonIdleMiB, 1),
      fixed(row.rssLoadedMiB, 1),
      fixed(row.rssAnonLoadedMiB, 1),
      String(row.failures),
    ]),
  );
}

/** Notes printed under the tables. */
const NOTES = [
  '+p50 ms: p50 minus bare’s at the same connection count. CPU µs/req: CPU time (user + system) of every ' +
    'process of the Pod (app and queue-proxy for the sidecar) per response.',
  'Memory is summed over the Pod’s processes: idle after start-up, and each process’s highest sample during ' +
    'the run (every 100 ms). RssAnon is the anonymous part (heap, stacks, JIT code).',
  'errors: connection errors, timeouts and non-2xx responses.',
];

/** The CPU layout, for the header. */
function layoutLine(settings: RunSettings): string {
  if (!settings.pin.enabled) return UNPINNED_LAYOUT;
  const { load, proxy } = settings.pin.roles;
  return (
    `every process of the Pod on CPU ${proxy}, the load generator on CPU ${load}: each Pod has one core, ` +
    'which the sidecar’s app and queue-proxy share'
  );
}

/** A started Pod: its processes and where the load goes. */
interface RunningPod {
  readonly procs: readonly ManagedProcess[];
  readonly url: string;
}

/** Starts one Pod on the proxy CPU and waits until it is ready as the kubelet would see it. */
async function startPod(context: ScenarioContext, kind: PodKind): Promise<RunningPod> {
  const { settings, supervisor } = context;
  const cpu = cpuOf(settings, 'proxy');
  const nodeArgv = (script: string) => [process.execPath, join(settings.repoRoot, script)];
  const start = (name: string, argv: string[], env: Record<string, string>) =>
    supervisor.start({
      name,
      argv: pinned(settings.pin, cpu, argv),
      env,
      cwd: settings.repoRoot,
    });
  // One call, so no two of the Pod's ports are the same.
  const [appPort, serving, tls, admin, stats, metrics] = (await freePorts(6)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const appUrl = `http://127.0.0.1:${appPort}/`;
  const appEnv = { PORT: String(appPort), HOST: '127.0.0.1' };
  if (kind === 'bare') {
    const app = start('hello', nodeArgv(HELLO_APP), appEnv);
    await waitForHttp(app, appUrl);
    return { procs: [app], url: appUrl };
  }
  // The variables a revision at CC=0 gives its queue-proxy; the in-process mode reads its share of them.
  const contract = queueProxyEnv(0, appPort, { serving, tls, admin, stats, metrics });
  if (kind === 'in-process') {
    const app = start('hello-in-process', nodeArgv(HELLO_IN_PROCESS_APP), {
      ...contract,
      ...appEnv,
      // No drain on stop: the measurement is over.
      QUEUE_DRAIN_QUIET_SECONDS: '0',
    });
    await waitForHttp(app, appUrl, KUBE_PROBE_HEADERS);
    return { procs: [app], url: appUrl };
  }
  const app = start('hello', nodeArgv(HELLO_APP), appEnv);
  await waitForHttp(app, appUrl);
  const queueProxy = start('queue-proxy', queueProxyArgv(settings.repoRoot), contract);
  const url = `http://127.0.0.1:${serving}/`;
  await waitForHttp(queueProxy, url, KUBE_PROBE_HEADERS);
  return { procs: [app, queueProxy], url };
}

/** The memory of every process of a Pod, summed. */
function podMemory(procs: readonly ManagedProcess[]): PodMemory {
  const readings = procs.map((p) => idleMemoryKiB(p.pid));
  return {
    rssKiB: readings.reduce((sum, r) => sum + r.rssKiB, 0),
    rssAnonKiB: readings.reduce((sum, r) => sum + r.rssAnonKiB, 0),
  };
}

/** One measured run with every process of the Pod sampled around it. */
async function measureCell(context: ScenarioContext, pod: RunningPod, connections: number): Promise<PodCell> {
  const samplers = pod.procs.map((p) => new ProcessSampler(p.pid));
  const background = new BackgroundLoad();
  for (const sampler of samplers) sampler.start();
  background.start();
  const load = await runLoad({
    url: pod.url,
    connections,
    durationSeconds: context.settings.durationSeconds,
  });
  const usage = samplers.map((sampler) => sampler.stop());
  const cpuSeconds = usage.reduce((sum, u) => sum + u.cpuSeconds, 0);
  const otherCpuPercent = background.stop(cpuSeconds);
  checkAlive(pod.procs);
  return {
    connections,
    load,
    cpuSeconds,
    loaded: {
      rssKiB: usage.reduce((sum, u) => sum + u.maxRssKiB, 0),
      rssAnonKiB: usage.reduce((sum, u) => sum + u.maxRssAnonKiB, 0),
    },
    otherCpuPercent,
  };
}

/** Starts one Pod, measures it at every connection count, and stops it. */
async function measurePod(context: ScenarioContext, spec: (typeof PODS)[number]): Promise<PodResult> {
  const { settings, supervisor, progress } = context;
  progress(`${spec.label}: starting ${spec.command}`);
  const pod = await startPod(context, spec.kind);
  try {
    await sleep(SETTLE_MS);
    const idle = podMemory(pod.procs);
    const cells: PodCell[] = [];
    for (const connections of settings.connections) {
      cells.push(
        await warmThenMeasure(
          context,
          `${spec.label}: ${connectionsLabel(connections)}`,
          (seconds) => runLoad({ url: pod.url, connections, durationSeconds: seconds }),
          () => measureCell(context, pod, connections),
        ),
      );
    }
    return { kind: spec.kind, label: spec.label, idle, cells };
  } finally {
    // The queue-proxy first, as a Pod stops.
    for (const proc of [...pod.procs].reverse()) await supervisor.stop(proc);
  }
}

async function run(context: ScenarioContext): Promise<ScenarioReport> {
  const { settings } = context;
  const results: PodResult[] = [];
  for (const spec of PODS) results.push(await measurePod(context, spec));
  const tables = settings.connections.map((connections) =>
    podTable(connections, podRows(results, connections)),
  );
  const disturbed = results.flatMap(({ label, cells }) =>
    disturbedRuns(cells, (cell) => `${label} at ${cell.connections}`),
  );
  const setup: [string, string][] = [
    ['bare', `node ${HELLO_APP} (node:http, answers 200 hello; nothing of the contract)`],
    ['sidecar', `node ${HELLO_APP} behind node ${QUEUE_PROXY_ENTRY}, CONTAINER_CONCURRENCY=0`],
    [
      'in-process',
      `node ${HELLO_IN_PROCESS_APP} (@zerogate/in-process), CONTAINER_CONCURRENCY=0, stats on its own port`,
    ],
    [
      'Environment',
      'the variables Knative gives a queue-proxy (no request metrics, no request log), to both the queue-proxy and the in-process app',
    ],
    ['Layout', layoutLine(settings)],
    ['Load', 'autocannon in the harness process, keep-alive, pipelining 1, GET /'],
  ];
  const data = {
    pods: results,
    rows: Object.fromEntries(settings.connections.map((c) => [String(c), podRows(results, c)])),
  };
  return { setup, tables, notes: [...NOTES, disturbanceNote(disturbed)], data };
}

/** The `in-process` scenario. */
export const inProcessScenario: Scenario = {
  name: 'in-process',
  description: 'the hello app as a Pod three ways: bare, with the queue-proxy sidecar, in-process (CC=0)',
  options: {},
  usage: [],
  prepare(_values, settings) {
    const problems = missingBuilds(settings, [QUEUE_PROXY_ENTRY, IN_PROCESS_ENTRY]);
    if (problems.length > 0) throw new Error(problems.join('\n'));
    const perPod = 2 * (READY_TIMEOUT_MS / 1000) + SETTLE_MS / 1000 + 3;
    return {
      budgetSeconds: 30 + PODS.length * (perPod + settings.connections.length * cellBudgetSeconds(settings)),
      run,
    };
  },
};
