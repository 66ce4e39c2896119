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
 *
 * 3. Memory: a fresh activator with the revision at zero, idle and then holding 10,000 requests.
 * 4. Holding: the held-request cap shared fairly while another revision floods it, and 500 held
 *    requests woken into a Pod of an app that slows down with load, with slow start on and off.
 *
 * Each part lives in a module of its own (`activator-throughput.ts`, `activator-held.ts`,
 * `activator-memory.ts`, `activator-holding.ts`); this one parses the options, runs them, and puts the report together with the
 * targets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTIVATOR_NODE_FLAGS } from '@zerogate/activator/node-flags';
import { DISTURBED_RETRIES, disturbanceNote } from '../quiet-run.js';
import { mebibytes, percentile } from '../ratios.js';
import type { OptionValues, RunSettings, Scenario, ScenarioContext, ScenarioReport } from '../scenario.js';
import { fixed, NONE, signed, type Table, times } from '../table.js';
import {
  HELD_TIMEOUT_MS,
  type HeldSet,
  type HeldTrial,
  heldTable,
  measureHeld,
  POD_PROBE_INTERVAL_MS,
  STATE_TIMEOUT_MS,
  spread,
} from './activator-held.js';
import {
  ANSWER_TIMEOUT_MS,
  CROWD,
  FLOOD_REQUESTS,
  fairnessTable,
  HELD_TOTAL_CAP,
  HOLD_TIMEOUT_MS as HOLDING_TIMEOUT_MS,
  type HoldingResult,
  holdingTargetRows,
  measureHolding,
  pacedWakeTable,
  SEQUENTIAL_REQUESTS,
  SMALL_REQUESTS,
  summarize,
  WAKE_REQUESTS,
} from './activator-holding.js';
import {
  HELD_REQUESTS,
  HOLD_TIMEOUT_MS,
  type MemoryResult,
  measureMemory,
  memoryTable,
} from './activator-memory.js';
import {
  type Cell,
  connectionTable,
  derive,
  measureThroughput,
  PATH_LABELS,
  type ThroughputResult,
} from './activator-throughput.js';
import {
  ACTIVATOR_ENTRY,
  cellBudgetSeconds,
  connectionsLabel,
  disturbedRuns,
  idleRssLine,
  missingBuilds,
  NAMESPACE,
  QUEUE_PROXY_ENTRY,
  READY_TIMEOUT_MS,
  REVISION,
  SETTLE_MS,
  UNPINNED_LAYOUT,
} from './common.js';

/** Trials of the held-to-forwarded measurement unless `--trials` says otherwise. */
const DEFAULT_TRIALS = 20;
const MAX_TRIALS = 1_000;

/** The figures the activator should meet; the output says whether it did. */
export const TARGETS = {
  /** Activator CPU per request over the queue-proxy's, in the same measured run. */
  cpuRatio: 1.2,
  /** p50 the activator adds at one connection, milliseconds. */
  addedP50Ms: 0.15,
  /** p99 of Pod ready → held request's response, milliseconds. */
  heldP99Ms: 250,
  /** Resident memory of an idle activator (revision at zero, file endpoint source), MiB: at most this. */
  idleRssMiB: 60,
  /** Resident memory of an activator holding 10,000 requests at zero, MiB: under this. */
  heldRssMiB: 150,
} as const;

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

/**
 * `met` when `value` is at most `limit` (under it when `strict`), `MISSED` otherwise, a dash when there
 * is no value.
 */
function verdict(value: number | undefined, limit: number, strict = false): string {
  if (value === undefined || !Number.isFinite(value)) return NONE;
  return (strict ? value < limit : value <= limit) ? 'met' : 'MISSED';
}

/** The memory rows of the targets table: idle RSS and RSS holding the held requests, with their verdicts. */
export function memoryTargetRows(memory: MemoryResult): string[][] {
  const rows: string[][] = [];
  const idleRss = mebibytes(memory.idle.rssKiB);
  rows.push([
    'activator RSS idle, revision at zero',
    `${fixed(idleRss, 1)} MiB`,
    `≤ ${TARGETS.idleRssMiB} MiB`,
    verdict(idleRss, TARGETS.idleRssMiB),
  ]);
  const heldRss = mebibytes(memory.held.rssKiB);
  rows.push([
    `activator RSS holding ${memory.heldRequests.toLocaleString('en')} requests at zero`,
    `${fixed(heldRss, 1)} MiB`,
    `< ${TARGETS.heldRssMiB} MiB`,
    verdict(heldRss, TARGETS.heldRssMiB, true),
  ]);
  return rows;
}

function targetsTable(
  cells: readonly Cell[],
  connectionCounts: readonly number[],
  trials: readonly HeldTrial[],
  memory: MemoryResult,
  holding: HoldingResult,
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
  rows.push(...memoryTargetRows(memory));
  rows.push(...holdingTargetRows(holding));
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
  `Fair holding: A's ${FLOOD_REQUESTS.toLocaleString('en')} requests and B's ${SMALL_REQUESTS} at zero each on a connection of their own (A's from a worker thread); B's Pod ready is when its queue-proxy first answers the kubelet probe; B's ${SEQUENTIAL_REQUESTS} sequential requests go on one keep-alive connection, timed sent → body end, alone and from the start of a second flood of A. ` +
    'Paced wake: a fresh Pod per setting, one activator for both; each answer timed from the Pod ready to its head. Percentiles by nearest rank.',
  `Memory: a fresh activator, revision at zero (no endpoints), read 2.5 s after it listens (idle) and again once its metrics show ${HELD_REQUESTS.toLocaleString('en')} requests held, one per connection; VmRSS and RssAnon from /proc/<pid>/status, PSS from smaps_rollup (the node binary's pages are shared with every other Node process here, so PSS is below RSS; in a Pod of its own the two are close).`,
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
  let memory: MemoryResult;
  let holding: HoldingResult;
  try {
    throughput = await measureThroughput(context, endpointsFile);
    held = await measureHeld(context, endpointsFile, options.trials);
    memory = await measureMemory(context, endpointsFile);
    holding = await measureHolding(context, endpointsFile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const { trials } = held;
  const tables = [
    targetsTable(throughput.cells, settings.connections, trials, memory, holding),
    ...settings.connections.map((connections) =>
      connectionTable(connections, derive(throughput.cells, connections)),
    ),
    heldTable(trials),
    memoryTable(memory),
    fairnessTable(holding.fairness),
    pacedWakeTable(holding.pacedWake),
  ];
  const disturbed = [
    ...disturbedRuns(throughput.cells, (cell) => `${PATH_LABELS[cell.path]} at ${cell.connections}`),
    ...disturbedRuns([held], () => 'the held trials'),
    ...disturbedRuns([holding.fairness], () => 'fair holding'),
    ...disturbedRuns([holding.pacedWake], () => 'paced wake'),
  ];
  const { fairness, pacedWake } = holding;
  const notes = [...NOTES, disturbanceNote(disturbed)];
  const idle = throughput.rssIdleKiB;
  const setup: [string, string][] = [
    ['App', 'node bench/dist/hello-app.js (node:http, answers 200 hello)'],
    ['queue-proxy', `node ${QUEUE_PROXY_ENTRY}, CONTAINER_CONCURRENCY=0`],
    [
      'Activator',
      `node ${ACTIVATOR_NODE_FLAGS.join(' ')} ${ACTIVATOR_ENTRY}, file endpoint source, revision ${NAMESPACE}/${REVISION} at CC=0, ` +
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
    [
      'Fair holding',
      `a fresh activator with ACTIVATOR_MAX_HELD_TOTAL=${HELD_TOTAL_CAP} and ACTIVATOR_MAX_HELD_REQUESTS=${FLOOD_REQUESTS}, ` +
        `revisions A and B at CC=0; ${SEQUENTIAL_REQUESTS} of B's sequential requests during the flood, ` +
        `${fairness.duringFloodArrival} of them answered while A's ${FLOOD_REQUESTS.toLocaleString('en')} were still arriving ` +
        `(the flood took ${fixed(fairness.floodArrivalMs, 0)} ms from its first connection to its last refusal); ` +
        `the first flood took ${fixed(fairness.flooded.arrivalMs, 0)} ms to be held and refused, the activator using ` +
        `${fixed(fairness.flooded.cpuSeconds, 2)} CPU s meanwhile ` +
        `(${fixed((fairness.flooded.cpuSeconds * 1e3) / fairness.flooded.sent, 2)} ms per request); ` +
        `connections dropped meanwhile for a full listen queue (TcpExt ListenOverflows): ` +
        `${fairness.flooded.listenOverflows ?? NONE}`,
    ],
    [
      'Paced wake',
      `a fresh activator, two revisions at CC=0 (slow start default, and zerogate.dev/slow-start: 0s), ` +
        `${WAKE_REQUESTS} requests held for each in turn; the Pod's app is bench/dist/hello-app.js with ` +
        `HELLO_CROWDED_MS=${CROWD.ms} HELLO_CROWDED_EXP=${CROWD.exp}`,
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
    memory,
    holding: {
      fairness: {
        ...fairness,
        aloneSummary: summarize(fairness.alone),
        duringFloodSummary: summarize(fairness.duringFlood),
      },
      pacedWake,
    },
  };
  return { setup, tables, notes, data };
}

/** The `activator` scenario. */
export const activatorScenario: Scenario = {
  name: 'activator',
  description:
    'the activator in front of a queue-proxy against the queue-proxy direct; held-request delay; memory idle and holding 10,000 requests; fair holding under a flood; paced wake',
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
    // Holding, per attempt: the fair-holding row (an activator, a Pod, four waits for a flood or a
    // hold, B's answers) and the paced-wake row (an activator, two Pods, two holds and two wakes).
    const holdingSeconds =
      3 * startSeconds +
      4 * (HOLDING_TIMEOUT_MS / 1000) +
      ANSWER_TIMEOUT_MS / 1000 +
      30 +
      (startSeconds + 2 * (startSeconds + HOLDING_TIMEOUT_MS / 1000 + ANSWER_TIMEOUT_MS / 1000) + 10);
    const perTrial =
      attempts * (2 * (STATE_TIMEOUT_MS / 1000) + 2 * startSeconds + HELD_TIMEOUT_MS / 1000 + 3);
    return {
      budgetSeconds:
        30 +
        4 * startSeconds +
        SETTLE_MS / 1000 +
        2 * settings.connections.length * perCell +
        options.trials * perTrial +
        // Memory: a start-up, two settled readings, the held requests, stopping.
        startSeconds +
        2 * 3 +
        HOLD_TIMEOUT_MS / 1000 +
        5 +
        attempts * holdingSeconds,
      run: (context) => run(context, options),
    };
  },
};
