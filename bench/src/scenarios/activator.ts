/**
 * The `activator` scenario: what the activator costs in front of a Pod, and how quickly it forwards a
 * request it held while the revision was at zero.
 *
 * 1. Throughput, latency, CPU and memory at several keep-alive connection counts, for the app behind
 *    our queue-proxy (CC=0) reached directly and through the activator, the two paths measured
 *    alternately at each connection count against the same processes.
 * 2. Held-to-forwarded delay: a request arrives while the revision has no Pod and is held; a Pod
 *    (app + queue-proxy) starts; from the moment its queue-proxy answers the kubelet's readiness probe
 *    to the moment the held request's response arrives, over several trials with one activator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { httpGet } from '../http-get.js';
import { type LoadResult, runLoad } from '../load-generator.js';
import { freePort } from '../ports.js';
import { clockTicksPerSecond, readReapedChildTicks } from '../proc-stats.js';
import { BackgroundLoad, ProcessSampler } from '../process-sampler.js';
import { DISTURBED_RETRIES, disturbanceNote, quietestRun } from '../quiet-run.js';
import { delta, mebibytes, percentile, ratio } from '../ratios.js';
import type { OptionValues, RunSettings, Scenario, ScenarioContext, ScenarioReport } from '../scenario.js';
import type { ManagedProcess } from '../supervisor.js';
import { fixed, NONE, signed, type Table, times } from '../table.js';
import {
  ACTIVATOR_ENTRY,
  cellBudgetSeconds,
  checkAlive,
  connectionsLabel,
  disturbedRuns,
  type IdleRss,
  idleRssLine,
  labelledTable,
  latencyCells,
  missingBuilds,
  NAMESPACE,
  type PodProcesses,
  type ProcessFigures,
  plural,
  QUEUE_PROXY_ENTRY,
  queueProxyEnv,
  READY_TIMEOUT_MS,
  REVISION,
  REVISION_HEADERS,
  type RunningActivator,
  type SampledRun,
  SETTLE_MS,
  type StartedProxy,
  sampledRun,
  sleep,
  startActivator,
  startActivatorInFront,
  startApp,
  startProxy,
  UNPINNED_LAYOUT,
  waitForHttp,
  waitForQueueProxy,
  warmThenMeasure,
  writeEndpointsFile,
} from './common.js';

/**
 * How often a held trial's Pod is probed while it starts. The delay is measured from the probe that
 * first answers 200, so the interval does not bias it; it only spaces the probes.
 */
const POD_PROBE_INTERVAL_MS = 10;

/** A held request must be answered within this long after it was sent. */
const HELD_TIMEOUT_MS = 15_000;

/** The activator must reflect a change (a request held, an endpoint gone) within this long. */
const STATE_TIMEOUT_MS = 3_000;
const STATE_INTERVAL_MS = 10;

/** Trials of the held-to-forwarded measurement unless `--trials` says otherwise. */
const DEFAULT_TRIALS = 20;
const MAX_TRIALS = 1_000;

/** The figures the activator should meet; the output says whether it did. */
export const TARGETS = {
  /** Activator CPU per request over the queue-proxy's, in the same measured run. */
  cpuRatio: 1.3,
  /** p50 the activator adds at one connection, milliseconds. */
  addedP50Ms: 0.15,
  /** p99 of Pod ready → held request's response, milliseconds. */
  heldP99Ms: 250,
} as const;

const HELLO_APP = fileURLToPath(new URL('../hello-app.js', import.meta.url));

/**
 * Reads the benchmark revision's sample of a per-revision gauge (`kn_revision_request_queued`,
 * `kn_revision_pods_usable`) from a Prometheus text exposition; undefined when it is absent.
 */
export function revisionGauge(exposition: string, metric: string): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    if (!line.includes(`kn_revision_name="${REVISION}"`)) continue;
    if (!line.includes(`k8s_namespace_name="${NAMESPACE}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}

/** Parses `--trials`. */
export function parseTrials(value: OptionValues[string]): number {
  if (value === undefined) return DEFAULT_TRIALS;
  const trials = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(trials) || trials < 1 || trials > MAX_TRIALS) {
    throw new Error(
      `--trials must be a whole number between 1 and ${MAX_TRIALS}, got ${JSON.stringify(value)}`,
    );
  }
  return trials;
}

/** The scenario's own options, checked. */
interface ActivatorOptions {
  readonly trials: number;
}

function parseOptions(values: OptionValues, settings: RunSettings): ActivatorOptions {
  const problems = missingBuilds(settings, [ACTIVATOR_ENTRY, QUEUE_PROXY_ENTRY]);
  let trials = DEFAULT_TRIALS;
  try {
    trials = parseTrials(values['trials']);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return { trials };
}

/** The two ways to the app: straight to its queue-proxy, or through the activator first. */
type Path = 'direct' | 'activator';

const PATH_LABELS: Readonly<Record<Path, string>> = {
  direct: 'queue-proxy',
  activator: 'activator → queue-proxy',
};

/** One path at one connection count. Every process is sampled on both paths. */
interface Cell extends SampledRun<LoadResult> {
  readonly path: Path;
  readonly connections: number;
}

/**
 * Starts a queue-proxy at CC=0 in front of the app on the proxy CPU. Its drain is cut to nothing
 * (`QUEUE_DRAIN_QUIET_SECONDS=0`) so stopping a held trial's Pod does not wait out the quiet period.
 */
function startQueueProxy(context: ScenarioContext, name: string, appPort: number): Promise<StartedProxy> {
  return startProxy(context, appPort, {
    name,
    env: (ports) => ({ ...queueProxyEnv(0, appPort, ports), QUEUE_DRAIN_QUIET_SECONDS: '0' }),
  });
}

/** Polls the activator's metrics until `metric` has `expected` for the benchmark revision. */
async function waitForGauge(activator: RunningActivator, metric: string, expected: number): Promise<void> {
  const deadline = performance.now() + STATE_TIMEOUT_MS;
  let last: number | undefined;
  while (performance.now() < deadline) {
    checkAlive([activator.proc]);
    const answer = await httpGet(activator.metricsUrl, { timeoutMs: STATE_TIMEOUT_MS });
    last = revisionGauge(answer.body, metric);
    if (last === expected) return;
    await sleep(STATE_INTERVAL_MS);
  }
  throw new Error(
    `the activator's ${metric} stayed at ${last ?? 'absent'}, not ${expected}, for ${STATE_TIMEOUT_MS / 1000} s` +
      `\n--- stdout ---\n${activator.proc.stdout() || '(empty)'}`,
  );
}

/** Measures one path at one connection count, with every process sampled around the run. */
async function measureCell(
  context: ScenarioContext,
  procs: PodProcesses,
  path: Path,
  url: string,
  connections: number,
): Promise<Cell> {
  const run = await sampledRun(
    procs,
    () =>
      runLoad({
        url,
        connections,
        durationSeconds: context.settings.durationSeconds,
        headers: REVISION_HEADERS,
      }),
    (load) => load.requests,
  );
  return { path, connections, ...run };
}

/** What the throughput measurement found. */
interface ThroughputResult {
  readonly cells: Cell[];
  readonly rssIdleKiB: IdleRss;
}

/** Part 1: both paths at every connection count, alternating, against one app, queue-proxy and activator. */
async function measureThroughput(context: ScenarioContext, endpointsFile: string): Promise<ThroughputResult> {
  const { settings, supervisor, progress } = context;
  const started: ManagedProcess[] = [];
  try {
    const appPort = await freePort();
    progress(`starting the app on 127.0.0.1:${appPort}`);
    const app = startApp(context, 'hello-app', HELLO_APP, appPort);
    started.push(app);
    await waitForHttp(app, `http://127.0.0.1:${appPort}/`);
    progress('starting the queue-proxy (CC=0)');
    const qp = await startQueueProxy(context, 'queue-proxy', appPort);
    started.push(qp.proc);
    const directUrl = qp.url;
    await waitForQueueProxy(qp);
    const { activator, rssIdleKiB } = await startActivatorInFront(context, endpointsFile, qp, started, (a) =>
      waitForHttp(a.proc, a.url, REVISION_HEADERS),
    );

    const procs: PodProcesses = { app, queueProxy: qp.proc, activator: activator.proc };
    const urls: Readonly<Record<Path, string>> = { direct: directUrl, activator: activator.url };
    const cells: Cell[] = [];
    for (const connections of settings.connections) {
      for (const path of ['direct', 'activator'] as const) {
        cells.push(
          await warmThenMeasure(
            context,
            `${PATH_LABELS[path]}: ${connectionsLabel(connections)}`,
            (seconds) =>
              runLoad({ url: urls[path], connections, durationSeconds: seconds, headers: REVISION_HEADERS }),
            () => measureCell(context, procs, path, urls[path], connections),
          ),
        );
      }
    }
    return { cells, rssIdleKiB };
  } finally {
    for (const proc of started.reverse()) await supervisor.stop(proc);
  }
}

/** One held trial's timings, milliseconds. */
interface HeldTrial {
  readonly trial: number;
  /** Starting the Pod's two processes → its queue-proxy answering the readiness probe with 200. */
  readonly podStartMs: number;
  /** T_ready → the held request's response head: the measure. */
  readonly readyToResponseMs: number;
  /** The endpoints file renamed into place → the response head. */
  readonly endpointsToResponseMs: number;
}

/**
 * One held trial: a request held at zero, a Pod started, its endpoint written (not ready, so the
 * activator probes it itself) the moment its queue-proxy passes the kubelet's probe, the response
 * timed; then back to zero, the endpoint removed first and the Pod stopped after, as Kubernetes
 * takes a terminating Pod out of the endpoints.
 */
async function heldTrial(
  context: ScenarioContext,
  activator: RunningActivator,
  endpointsFile: string,
  trial: number,
): Promise<HeldTrial> {
  const { supervisor } = context;
  const response = httpGet(activator.url, { headers: REVISION_HEADERS, timeoutMs: HELD_TIMEOUT_MS });
  // Awaited below; this only keeps an early failure elsewhere from leaving it unhandled.
  response.catch(() => undefined);
  await waitForGauge(activator, 'kn_revision_request_queued', 1);

  const appPort = await freePort();
  const podStarted = performance.now();
  const app = startApp(context, `trial ${trial} app`, HELLO_APP, appPort);
  let qp: StartedProxy | undefined;
  try {
    qp = await startQueueProxy(context, `trial ${trial} queue-proxy`, appPort);
    await waitForQueueProxy(qp, POD_PROBE_INTERVAL_MS);
    const readyAt = performance.now();
    writeEndpointsFile(endpointsFile, [{ address: `127.0.0.1:${qp.port}`, ready: false }]);
    const writtenAt = performance.now();
    const answer = await response;
    if (answer.status !== 200 || answer.body !== 'hello') {
      throw new Error(
        `the held request got ${answer.status} ${JSON.stringify(answer.body.slice(0, 200))}, not 200 "hello"` +
          `\n--- activator stdout ---\n${activator.proc.stdout() || '(empty)'}`,
      );
    }
    writeEndpointsFile(endpointsFile, []);
    await waitForGauge(activator, 'kn_revision_pods_usable', 0);
    return {
      trial,
      podStartMs: readyAt - podStarted,
      readyToResponseMs: answer.headAt - readyAt,
      endpointsToResponseMs: answer.headAt - writtenAt,
    };
  } finally {
    await Promise.all([supervisor.stop(app), ...(qp === undefined ? [] : [supervisor.stop(qp.proc)])]);
  }
}

/** Every held trial of one attempt, and how busy the machine was meanwhile. */
interface HeldSet {
  readonly trials: HeldTrial[];
  /** CPU used by processes outside the benchmark during the trials, percent of one core. */
  readonly otherCpuPercent: number;
}

/**
 * Runs every held trial in a row. Other load is measured over the whole set, not per trial: a trial
 * lasts a few hundred milliseconds, a few clock ticks, too short for `/proc` to tell a busy machine
 * from rounding. Each trial's Pod is started and reaped within the window, so its whole CPU time,
 * exit included, is in this process's reaped-children counters.
 */
async function heldSet(
  context: ScenarioContext,
  activator: RunningActivator,
  endpointsFile: string,
  count: number,
): Promise<HeldSet> {
  const sampler = new ProcessSampler(activator.proc.pid);
  const background = new BackgroundLoad();
  const reapedBefore = readReapedChildTicks();
  sampler.start();
  background.start();
  const trials: HeldTrial[] = [];
  for (let trial = 1; trial <= count; trial++) {
    const result = await heldTrial(context, activator, endpointsFile, trial);
    context.progress(
      `held trial ${trial}/${count}: Pod ready after ${result.podStartMs.toFixed(0)} ms, ` +
        `response ${result.readyToResponseMs.toFixed(1)} ms after ready`,
    );
    trials.push(result);
  }
  const pods = (readReapedChildTicks() - reapedBefore) / clockTicksPerSecond();
  const otherCpuPercent = background.stop(sampler.stop().cpuSeconds + pods);
  return { trials, otherCpuPercent };
}

/** Part 2: the held trials, one activator for all of them. */
async function measureHeld(context: ScenarioContext, endpointsFile: string, count: number): Promise<HeldSet> {
  const { supervisor, progress } = context;
  writeEndpointsFile(endpointsFile, []);
  progress('starting the activator with the revision at zero (no endpoints)');
  const activator = await startActivator(context, endpointsFile);
  try {
    return await quietestRun(() => heldSet(context, activator, endpointsFile, count), progress);
  } finally {
    await supervisor.stop(activator.proc);
  }
}

/** One row of a connection-count table. */
interface ActivatorRow {
  readonly label: string;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** p50 minus the direct path's p50 at the same connection count. */
  readonly addedP50Ms: number | undefined;
  /** Absent on the direct path, where the activator is idle. */
  readonly activator: ProcessFigures | undefined;
  readonly queueProxy: ProcessFigures;
  /** Activator CPU per request over the queue-proxy's, in the same run. */
  readonly cpuRatio: number | undefined;
  readonly failures: number;
}

function derive(cells: readonly Cell[], connections: number): ActivatorRow[] {
  const at = (path: Path) => cells.find((c) => c.path === path && c.connections === connections);
  const direct = at('direct');
  const rows: ActivatorRow[] = [];
  for (const cell of [direct, at('activator')]) {
    if (cell === undefined) continue;
    const through = cell.path === 'activator';
    rows.push({
      label: PATH_LABELS[cell.path],
      rps: cell.load.rps,
      p50Ms: cell.load.latencyMs.p50,
      p99Ms: cell.load.latencyMs.p99,
      addedP50Ms: through ? delta(cell.load.latencyMs.p50, direct?.load.latencyMs.p50) : undefined,
      activator: through ? cell.activator : undefined,
      queueProxy: cell.queueProxy,
      cpuRatio: through
        ? ratio(cell.activator.cpuSecondsPer10k, cell.queueProxy.cpuSecondsPer10k)
        : undefined,
      failures: cell.load.errors + cell.load.non2xx,
    });
  }
  return rows;
}

const HEADERS = [
  'path',
  'req/s',
  'p50 ms',
  'p99 ms',
  '+p50 ms',
  'act CPU s/10k',
  'qp CPU s/10k',
  'act CPU ×qp',
  'act core %',
  'qp core %',
  'act RSS MiB',
  'qp RSS MiB',
  'errors',
];

function connectionTable(connections: number, rows: readonly ActivatorRow[]): Table {
  return labelledTable(
    connectionsLabel(connections),
    HEADERS,
    rows.map((row) => [
      row.label,
      ...latencyCells(row.rps, row, row.addedP50Ms),
      fixed(row.activator?.cpuSecondsPer10k, 3),
      fixed(row.queueProxy.cpuSecondsPer10k, 3),
      times(row.cpuRatio),
      fixed(row.activator?.coreUtilisation, 0),
      fixed(row.queueProxy.coreUtilisation, 0),
      row.activator === undefined ? NONE : fixed(mebibytes(row.activator.rssLoadedKiB), 1),
      fixed(mebibytes(row.queueProxy.rssLoadedKiB), 1),
      String(row.failures),
    ]),
  );
}

/** Median, p99, min and max of some timings, milliseconds. */
interface Spread {
  readonly median: number | undefined;
  readonly p99: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
}

function spread(values: readonly number[]): Spread {
  return {
    median: percentile(values, 50),
    p99: percentile(values, 99),
    min: percentile(values, 0),
    max: percentile(values, 100),
  };
}

function heldTable(trials: readonly HeldTrial[]): Table {
  const headers = ['interval', 'median ms', 'p99 ms', 'min ms', 'max ms'];
  const row = (label: string, values: readonly number[]) => {
    const s = spread(values);
    return [label, fixed(s.median, 1), fixed(s.p99, 1), fixed(s.min, 1), fixed(s.max, 1)];
  };
  return labelledTable(`Held at zero → forwarded (${plural(trials.length, 'trial')})`, headers, [
    row(
      'Pod ready → response',
      trials.map((t) => t.readyToResponseMs),
    ),
    row(
      'endpoint written → response',
      trials.map((t) => t.endpointsToResponseMs),
    ),
    row(
      'Pod start → ready',
      trials.map((t) => t.podStartMs),
    ),
  ]);
}

/** `met` when `value` is at most `limit`, `MISSED` above it, a dash when there is no value. */
function verdict(value: number | undefined, limit: number): string {
  if (value === undefined || !Number.isFinite(value)) return NONE;
  return value <= limit ? 'met' : 'MISSED';
}

function targetsTable(
  cells: readonly Cell[],
  connectionCounts: readonly number[],
  trials: readonly HeldTrial[],
): Table {
  const headers = ['measure', 'value', 'target', 'verdict'];
  const rows: string[][] = [];
  for (const connections of connectionCounts) {
    const through = derive(cells, connections).find((r) => r.activator !== undefined);
    rows.push([
      `activator CPU per request ×qp, ${connectionsLabel(connections)}`,
      times(through?.cpuRatio),
      `≤ ${TARGETS.cpuRatio.toFixed(2)}×`,
      verdict(through?.cpuRatio, TARGETS.cpuRatio),
    ]);
  }
  const added = derive(cells, 1).find((r) => r.activator !== undefined)?.addedP50Ms;
  rows.push([
    'p50 the activator adds, 1 connection',
    added === undefined ? `${NONE} (1 not in --connections)` : `${signed(added, 3)} ms`,
    `≤ ${TARGETS.addedP50Ms.toFixed(3)} ms`,
    verdict(added, TARGETS.addedP50Ms),
  ]);
  const heldP99 = percentile(
    trials.map((t) => t.readyToResponseMs),
    99,
  );
  rows.push([
    'held request, Pod ready → response, p99',
    `${fixed(heldP99, 1)} ms`,
    `≤ ${TARGETS.heldP99Ms} ms`,
    verdict(heldP99, TARGETS.heldP99Ms),
  ]);
  return { title: 'Targets', headers, align: ['left', 'right', 'right', 'left'], rows };
}

/** Notes printed under the tables; the README explains each column at length. */
const NOTES = [
  "Latency is autocannon's per-response hrtime kept in a nanosecond histogram (as in the queue-proxy scenario).",
  '+p50 ms: p50 through the activator minus p50 straight to the queue-proxy at the same connection count. ' +
    'act = activator, qp = queue-proxy; CPU and RSS (peak during the run) are per process tree, each proxy measured apart.',
  'act CPU ×qp: the activator’s CPU per request over the queue-proxy’s behind it, in the same measured run ' +
    '(target ≤ 1.30×). core %: a process’s CPU time over the run as a share of one core.',
  'Held trials: a request is held at zero, a Pod (app + queue-proxy) starts; Pod ready is when its queue-proxy ' +
    'first answers the kubelet probe with 200, after which its endpoint is written as not ready and the activator ' +
    'probes it itself. Percentiles by nearest rank (with 20 trials p99 is the slowest).',
];

/**
 * The CPU layout, for the header. Both proxies get the proxy CPU and the load generator and app keep
 * theirs, so the two paths differ only by the activator; the price is that through the activator two
 * proxies share one core.
 */
function layoutLine(settings: RunSettings): string {
  if (!settings.pin.enabled) return UNPINNED_LAYOUT;
  const { load, app, proxy } = settings.pin.roles;
  return (
    `activator and queue-proxy both on CPU ${proxy}, load generator on CPU ${load} and app on CPU ${app} ` +
    'as in the queue-proxy scenario, so the two paths differ only by the activator; through it the two ' +
    `proxies share CPU ${proxy}, which bounds that path's req/s at 10 and 100 connections, while CPU per ` +
    'request stays each process’s own'
  );
}

async function run(context: ScenarioContext, options: ActivatorOptions): Promise<ScenarioReport> {
  const { settings } = context;
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-bench-activator-'));
  const endpointsFile = join(dir, 'endpoints.json');
  let throughput: ThroughputResult;
  let held: HeldSet;
  try {
    throughput = await measureThroughput(context, endpointsFile);
    held = await measureHeld(context, endpointsFile, options.trials);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const { trials } = held;
  const tables = [
    targetsTable(throughput.cells, settings.connections, trials),
    ...settings.connections.map((connections) =>
      connectionTable(connections, derive(throughput.cells, connections)),
    ),
    heldTable(trials),
  ];
  const disturbed = [
    ...disturbedRuns(throughput.cells, (cell) => `${PATH_LABELS[cell.path]} at ${cell.connections}`),
    ...disturbedRuns([held], () => 'the held trials'),
  ];
  const notes = [...NOTES, disturbanceNote(disturbed)];
  const idle = throughput.rssIdleKiB;
  const setup: [string, string][] = [
    ['App', 'node bench/dist/hello-app.js (node:http, answers 200 hello)'],
    ['queue-proxy', `node ${QUEUE_PROXY_ENTRY}, CONTAINER_CONCURRENCY=0`],
    [
      'Activator',
      `node ${ACTIVATOR_ENTRY}, file endpoint source, revision ${NAMESPACE}/${REVISION} at CC=0, ` +
        'no autoscaler listening',
    ],
    ['Layout', layoutLine(settings)],
    [
      'Load',
      'autocannon in the harness process, keep-alive, pipelining 1, GET / with ' +
        'Knative-Serving-Revision and Knative-Serving-Namespace headers on both paths',
    ],
    idleRssLine(idle),
    [
      'Held trials',
      `${options.trials}, one activator throughout; each Pod is a new app + queue-proxy ` +
        `(QUEUE_DRAIN_QUIET_SECONDS=0), probed every ${POD_PROBE_INTERVAL_MS} ms until ready`,
    ],
  ];
  const data = {
    targets: TARGETS,
    rssIdleKiB: idle,
    cells: throughput.cells,
    derived: Object.fromEntries(settings.connections.map((c) => [String(c), derive(throughput.cells, c)])),
    held: {
      trials,
      otherCpuPercent: held.otherCpuPercent,
      readyToResponseMs: spread(trials.map((t) => t.readyToResponseMs)),
      endpointsToResponseMs: spread(trials.map((t) => t.endpointsToResponseMs)),
      podStartMs: spread(trials.map((t) => t.podStartMs)),
    },
  };
  return { setup, tables, notes, data };
}

/** The `activator` scenario. */
export const activatorScenario: Scenario = {
  name: 'activator',
  description: 'the activator in front of a queue-proxy against the queue-proxy direct; held-request delay',
  options: {
    trials: { type: 'string' },
  },
  usage: [`--trials <n>           held-request trials (default ${DEFAULT_TRIALS})`],
  prepare(values, settings) {
    const options = parseOptions(values, settings);
    const startSeconds = READY_TIMEOUT_MS / 1000 + 2;
    const attempts = 1 + DISTURBED_RETRIES;
    const perCell = cellBudgetSeconds(settings);
    // Per trial: two state waits, two start-ups, the held request, and stopping two processes.
    const perTrial =
      attempts * (2 * (STATE_TIMEOUT_MS / 1000) + 2 * startSeconds + HELD_TIMEOUT_MS / 1000 + 3);
    return {
      budgetSeconds:
        30 +
        4 * startSeconds +
        SETTLE_MS / 1000 +
        2 * settings.connections.length * perCell +
        options.trials * perTrial,
      run: (context) => run(context, options),
    };
  },
};
