/**
 * The `queue-proxy` scenario: throughput, latency, CPU and memory of the queue-proxy against the
 * app reached directly, the bare Node proxy floor, and any other queue-proxy build (`--compare`),
 * Knative's own among them (`--compare knative`), all in one run, at several keep-alive connection
 * counts.
 *
 * Targets run one after another, never concurrently; the app runs for the whole scenario, and each
 * proxy is started once, measured at every connection count, then stopped.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QUEUE_PROXY_NODE_FLAGS } from '@zerogate/queue-proxy/env';
import { KNATIVE_QUEUE_PORTS, PORTS_FREE_TIMEOUT_MS, waitForFreePorts } from '../knative-queue.js';
import { type LoadResult, runLoad } from '../load-generator.js';
import { freePort } from '../ports.js';
import { BackgroundLoad, idleMemoryKiB, ProcessSampler } from '../process-sampler.js';
import { disturbanceNote } from '../quiet-run.js';
import { delta, mebibytes, ratio } from '../ratios.js';
import type { OptionValues, RunSettings, Scenario, ScenarioContext, ScenarioReport } from '../scenario.js';
import type { ManagedProcess } from '../supervisor.js';
import { fixed, type Table, times } from '../table.js';
import {
  cellBudgetSeconds,
  checkAlive,
  connectionsLabel,
  disturbedRuns,
  figures,
  labelledTable,
  latencyCells,
  type ProcessFigures,
  QUEUE_PROXY_ENTRY,
  queueProxyArgv,
  queueProxyEnv,
  READY_TIMEOUT_MS,
  SETTLE_MS,
  sleep,
  startApp,
  startProxy as startProxyProcess,
  waitForHttp,
  waitForQueueProxy,
  warmThenMeasure,
} from './common.js';
import {
  COMPARE_OPTIONS,
  type Compare,
  compareSetupLine,
  compareUsage,
  type KnativeRatios,
  knativeNote,
  knativeRatios,
  knativeTables,
  parseCompareOptions,
} from './compare.js';
import {
  QUEUE_PROXY_TARGETS,
  type TargetVerdict,
  targetsNote,
  targetsTable,
  targetVerdicts,
} from './targets.js';

/** Container concurrency of the limited configuration (Knative's breaker then queues 10×CC). */
const LIMITED_CC = 10;

const HELLO_APP = fileURLToPath(new URL('../hello-app.js', import.meta.url));
const BARE_PROXY = fileURLToPath(new URL('../bare-proxy.js', import.meta.url));

type TargetKind = 'direct' | 'bare' | 'queue-proxy' | 'compare' | 'knative';

/** Something to measure. `argv` is absent for the direct target, which has no proxy. */
interface Target {
  readonly label: string;
  readonly kind: TargetKind;
  readonly cc?: number;
  /** The command as shown in output. */
  readonly command: string;
  readonly argv?: readonly string[];
  /** Tracing configured with every request sampled out (`--traced`): its cost against tracing off. */
  readonly traced?: boolean;
}

/**
 * Tracing on, Zipkin, every request sampled out (docs/tracing.md): the requests carry no context and the
 * ratio is 0, so each pays the header scan and the sampler, and nothing is exported (the endpoint, a
 * closed port, is never called).
 */
const SAMPLED_OUT_TRACING = {
  TRACING_CONFIG_BACKEND: 'zipkin',
  TRACING_CONFIG_ZIPKIN_ENDPOINT: 'http://127.0.0.1:9/api/v2/spans',
  TRACING_CONFIG_SAMPLE_RATE: '0',
};

/** The scenario's own options, checked. */
interface QueueProxyOptions {
  readonly queueProxy: {
    readonly command: string;
    readonly argv: readonly string[];
    readonly overridden: boolean;
  };
  readonly compares: readonly Compare[];
  /** Also measure our queue-proxy at CC=0 with tracing on and every request sampled out. */
  readonly traced: boolean;
}

function parseOptions(values: OptionValues, settings: RunSettings): QueueProxyOptions {
  const problems: string[] = [];
  const override = values['queue-proxy'];
  let queueProxy: QueueProxyOptions['queueProxy'];
  if (typeof override === 'string') {
    if (override.trim() === '') problems.push('--queue-proxy must be a command');
    queueProxy = { command: override, argv: ['sh', '-c', override], overridden: true };
  } else {
    const entry = join(settings.repoRoot, QUEUE_PROXY_ENTRY);
    if (!existsSync(entry)) {
      problems.push(
        `${QUEUE_PROXY_ENTRY} does not exist: build it (npm run build) or name another command with --queue-proxy`,
      );
    }
    queueProxy = {
      command: `node ${QUEUE_PROXY_NODE_FLAGS.join(' ')} ${QUEUE_PROXY_ENTRY}`,
      argv: queueProxyArgv(settings.repoRoot),
      overridden: false,
    };
  }
  const parsed = parseCompareOptions(values, settings, ['direct', 'bare-proxy', 'queue-proxy']);
  problems.push(...parsed.problems);
  const compares = parsed.compares;
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return { queueProxy, compares, traced: values['traced'] === true };
}

function targetsOf(options: QueueProxyOptions): Target[] {
  const targets: Target[] = [
    { label: 'direct', kind: 'direct', command: 'node bench/dist/hello-app.js' },
    {
      label: 'bare-proxy',
      kind: 'bare',
      command: 'node bench/dist/bare-proxy.js',
      argv: [process.execPath, BARE_PROXY],
    },
  ];
  for (const cc of [0, LIMITED_CC]) {
    const { command, argv } = options.queueProxy;
    targets.push({ label: `queue-proxy cc${cc}`, kind: 'queue-proxy', cc, command, argv });
    if (cc === 0 && options.traced)
      targets.push({ label: 'queue-proxy cc0 traced', kind: 'queue-proxy', cc, command, argv, traced: true });
  }
  for (const compare of options.compares) {
    for (const cc of [0, LIMITED_CC]) {
      targets.push({
        label: `${compare.name} cc${cc}`,
        kind: compare.knative === undefined ? 'compare' : 'knative',
        cc,
        command: compare.command,
        argv: compare.argv,
      });
    }
  }
  return targets;
}

/** One target at one connection count. */
interface Cell {
  readonly connections: number;
  readonly load: LoadResult;
  /** Absent for the direct target. */
  readonly proxy?: ProcessFigures;
  /** The app's own usage, for reference. */
  readonly app: ProcessFigures;
  /** CPU used by processes outside the benchmark during the run, percent of one core. */
  readonly otherCpuPercent: number;
}

/** One target's measurements. */
interface TargetResult {
  readonly target: Target;
  readonly rssIdleKiB?: number;
  readonly rssAnonIdleKiB?: number;
  readonly cells: Cell[];
}

/** Starts the proxy of a target, pinned, and waits until it answers. */
async function startProxy(
  context: ScenarioContext,
  target: Target,
  argv: readonly string[],
  userPort: number,
): Promise<{ proc: ManagedProcess; url: string }> {
  const proxy = await startProxyProcess(context, userPort, {
    name: target.label,
    argv,
    env: (ports): Record<string, string> => {
      if (target.kind === 'bare')
        return {
          QUEUE_SERVING_PORT: String(ports.serving),
          USER_PORT: String(userPort),
          QUEUE_BIND_ADDRESS: '127.0.0.1',
        };
      const env = queueProxyEnv(target.cc ?? 0, userPort, ports);
      return target.traced ? { ...env, ...SAMPLED_OUT_TRACING } : env;
    },
  });
  if (target.kind === 'bare') {
    await waitForHttp(proxy.proc, proxy.url);
  } else {
    await waitForQueueProxy(proxy);
  }
  return { proc: proxy.proc, url: proxy.url };
}

/** Measures one target at one connection count: the measured run, with the processes sampled around it. */
async function measureCell(
  context: ScenarioContext,
  url: string,
  connections: number,
  proc: ManagedProcess | undefined,
  app: ManagedProcess,
): Promise<Cell> {
  const proxySampler = proc === undefined ? undefined : new ProcessSampler(proc.pid);
  const appSampler = new ProcessSampler(app.pid);
  const background = new BackgroundLoad();
  proxySampler?.start();
  appSampler.start();
  background.start();
  const load = await runLoad({ url, connections, durationSeconds: context.settings.durationSeconds });
  const proxyUsage = proxySampler?.stop();
  const appUsage = appSampler.stop();
  const otherCpuPercent = background.stop(appUsage.cpuSeconds + (proxyUsage?.cpuSeconds ?? 0));
  checkAlive([proc, app]);
  return {
    connections,
    load,
    app: figures(appUsage, load.requests),
    otherCpuPercent,
    ...(proxyUsage === undefined ? {} : { proxy: figures(proxyUsage, load.requests) }),
  };
}

/** Measures one target at every connection count. */
async function measureTarget(
  context: ScenarioContext,
  target: Target,
  app: { proc: ManagedProcess; port: number },
): Promise<TargetResult> {
  const { settings, supervisor, progress } = context;
  let proc: ManagedProcess | undefined;
  let url = `http://127.0.0.1:${app.port}/`;
  if (target.argv !== undefined) {
    if (target.kind === 'knative') await waitForFreePorts(KNATIVE_QUEUE_PORTS, PORTS_FREE_TIMEOUT_MS);
    progress(`${target.label}: starting ${target.command}`);
    ({ proc, url } = await startProxy(context, target, target.argv, app.port));
  }
  try {
    let idle: { rssKiB: number; rssAnonKiB: number } | undefined;
    if (proc !== undefined) {
      await sleep(SETTLE_MS);
      idle = idleMemoryKiB(proc.pid);
    }
    const cells: Cell[] = [];
    for (const connections of settings.connections) {
      cells.push(
        await warmThenMeasure(
          context,
          `${target.label}: ${connectionsLabel(connections)}`,
          (seconds) => runLoad({ url, connections, durationSeconds: seconds }),
          () => measureCell(context, url, connections, proc, app.proc),
        ),
      );
    }
    return {
      target,
      cells,
      ...(idle === undefined ? {} : { rssIdleKiB: idle.rssKiB, rssAnonIdleKiB: idle.rssAnonKiB }),
    };
  } finally {
    if (proc !== undefined) await supervisor.stop(proc);
  }
}

/** A cell with its comparisons against the direct and bare-proxy targets at the same connection count. */
export interface DerivedRow {
  readonly label: string;
  readonly kind: TargetKind;
  /** Container concurrency of a queue-proxy row. */
  readonly cc: number | undefined;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly addedP50Ms: number | undefined;
  readonly addedP99Ms: number | undefined;
  readonly cpuSecondsPer10k: number | undefined;
  readonly coreUtilisation: number | undefined;
  readonly rssIdleMiB: number | undefined;
  readonly rssLoadedMiB: number | undefined;
  /** The anonymous part of the resident memory: idle, and highest during the run. */
  readonly rssAnonIdleMiB: number | undefined;
  readonly rssAnonLoadedMiB: number | undefined;
  /** The proportional set size, highest during the run. */
  readonly pssLoadedMiB: number | undefined;
  readonly throughputVsBare: number | undefined;
  readonly cpuVsBare: number | undefined;
  readonly failures: number;
}

function derive(results: readonly TargetResult[], connections: number): DerivedRow[] {
  const cellOf = (kind: TargetKind) =>
    results.find((r) => r.target.kind === kind)?.cells.find((c) => c.connections === connections);
  const direct = cellOf('direct');
  const bare = cellOf('bare');
  const rows: DerivedRow[] = [];
  for (const result of results) {
    const cell = result.cells.find((c) => c.connections === connections);
    if (cell === undefined) continue;
    const isDirect = result.target.kind === 'direct';
    const { load, proxy } = cell;
    rows.push({
      label: result.target.label,
      kind: result.target.kind,
      cc: result.target.cc,
      rps: load.rps,
      p50Ms: load.latencyMs.p50,
      p99Ms: load.latencyMs.p99,
      addedP50Ms: isDirect ? undefined : delta(load.latencyMs.p50, direct?.load.latencyMs.p50),
      addedP99Ms: isDirect ? undefined : delta(load.latencyMs.p99, direct?.load.latencyMs.p99),
      cpuSecondsPer10k: proxy?.cpuSecondsPer10k,
      coreUtilisation: proxy?.coreUtilisation,
      rssIdleMiB: result.rssIdleKiB === undefined ? undefined : mebibytes(result.rssIdleKiB),
      rssLoadedMiB: proxy === undefined ? undefined : mebibytes(proxy.rssLoadedKiB),
      rssAnonIdleMiB: result.rssAnonIdleKiB === undefined ? undefined : mebibytes(result.rssAnonIdleKiB),
      rssAnonLoadedMiB: proxy === undefined ? undefined : mebibytes(proxy.rssAnonLoadedKiB),
      pssLoadedMiB: proxy?.pssLoadedKiB === undefined ? undefined : mebibytes(proxy.pssLoadedKiB),
      throughputVsBare: ratio(load.rps, bare?.load.rps),
      cpuVsBare: isDirect ? undefined : ratio(proxy?.cpuSecondsPer10k, bare?.proxy?.cpuSecondsPer10k),
      failures: load.errors + load.non2xx,
    });
  }
  return rows;
}

const HEADERS = [
  'target',
  'req/s',
  'p50 ms',
  'p99 ms',
  '+p50 ms',
  'CPU s/10k',
  'core %',
  'RSS idle MiB',
  'RSS load MiB',
  'RssAnon load MiB',
  'PSS load MiB',
  'req/s ×bare',
  'CPU ×bare',
  'errors',
];

function tableOf(connections: number, rows: readonly DerivedRow[]): Table {
  return labelledTable(
    connectionsLabel(connections),
    HEADERS,
    rows.map((row) => [
      row.label,
      ...latencyCells(row.rps, row, row.addedP50Ms),
      fixed(row.cpuSecondsPer10k, 3),
      fixed(row.coreUtilisation, 0),
      fixed(row.rssIdleMiB, 1),
      fixed(row.rssLoadedMiB, 1),
      fixed(row.rssAnonLoadedMiB, 1),
      fixed(row.pssLoadedMiB, 1),
      times(row.throughputVsBare),
      times(row.cpuVsBare),
      row.failures === 0 ? '0' : String(row.failures),
    ]),
  );
}

/** Our queue-proxy against Knative's at one connection count and container concurrency. */
export interface KnativeComparison extends KnativeRatios {
  readonly connections: number;
  readonly cc: number;
  readonly ours: DerivedRow;
  readonly knative: DerivedRow;
}

/** A row's figures as {@link knativeRatios} compares them. */
function proxyFigures(row: DerivedRow) {
  return {
    rate: row.rps,
    cpuSecondsPer10k: row.cpuSecondsPer10k,
    rssLoadedMiB: row.rssLoadedMiB,
    rssAnonLoadedMiB: row.rssAnonLoadedMiB,
    pssLoadedMiB: row.pssLoadedMiB,
    rssIdleMiB: row.rssIdleMiB,
  };
}

/**
 * Pairs each of our queue-proxy rows at one connection count with Knative's row at the same
 * container concurrency and divides ours by Knative's. Rows without a partner are left out.
 */
export function compareWithKnative(connections: number, rows: readonly DerivedRow[]): KnativeComparison[] {
  const out: KnativeComparison[] = [];
  for (const ours of rows) {
    if (ours.kind !== 'queue-proxy' || ours.cc === undefined) continue;
    const knative = rows.find((row) => row.kind === 'knative' && row.cc === ours.cc);
    if (knative === undefined) continue;
    out.push({
      connections,
      cc: ours.cc,
      ours,
      knative,
      ...knativeRatios(proxyFigures(ours), proxyFigures(knative)),
    });
  }
  return out;
}

function knativeTablesOf(comparisons: readonly KnativeComparison[]): Table[] {
  return knativeTables(
    ['connections', 'CC'],
    'req',
    comparisons.map((c) => ({
      lead: [String(c.connections), String(c.cc)],
      ours: proxyFigures(c.ours),
      knative: proxyFigures(c.knative),
      ratios: c,
    })),
  );
}

/** The verdict on each of the `queue-proxy` scenario's targets, from its Knative comparisons. */
export function queueProxyVerdicts(comparisons: readonly KnativeComparison[]): TargetVerdict[] {
  return targetVerdicts(
    QUEUE_PROXY_TARGETS,
    comparisons.map((c) => ({ count: c.connections, cc: c.cc, ratios: c })),
  );
}

/** Notes printed under the tables; the README explains each column at length. */
const NOTES = [
  "Latency is autocannon's per-response hrtime kept in a nanosecond histogram; autocannon's own histogram " +
    'rounds to whole milliseconds (its figures are in the JSON as `autocannon.p50Ms`/`p99Ms`).',
  '+p50 ms: p50 minus the direct p50 at the same connection count. CPU and memory cover the proxy’s whole ' +
    'process tree; core %: its CPU time over the window as a share of one core.',
  '×bare: ratio to bare-proxy at the same connection count (req/s: higher is better; CPU per request: ' +
    'lower is better). errors: connection errors, timeouts and non-2xx responses.',
];

async function run(context: ScenarioContext, options: QueueProxyOptions): Promise<ScenarioReport> {
  const { settings, supervisor, progress } = context;
  const targets = targetsOf(options);
  const appPort = await freePort();
  progress(`starting the app on 127.0.0.1:${appPort}`);
  const appProc = startApp(context, 'hello-app', HELLO_APP, appPort);
  await waitForHttp(appProc, `http://127.0.0.1:${appPort}/`);
  const results: TargetResult[] = [];
  try {
    for (const target of targets)
      results.push(await measureTarget(context, target, { proc: appProc, port: appPort }));
  } finally {
    await supervisor.stop(appProc);
  }

  const tables = settings.connections.map((connections) =>
    tableOf(connections, derive(results, connections)),
  );
  const comparisons = settings.connections.flatMap((connections) =>
    compareWithKnative(connections, derive(results, connections)),
  );
  const verdicts = comparisons.length > 0 ? queueProxyVerdicts(comparisons) : [];
  if (comparisons.length > 0) tables.push(...knativeTablesOf(comparisons), targetsTable(verdicts));
  const disturbed = results.flatMap(({ target, cells }) =>
    disturbedRuns(cells, (cell) => `${target.label} at ${cell.connections}`),
  );
  const notes = [
    ...NOTES,
    ...settings.connections.flatMap((connections) => tracingNote(derive(results, connections), connections)),
    ...(comparisons.length > 0
      ? [knativeNote('connection count and CC', 'request'), targetsNote(verdicts)]
      : []),
    disturbanceNote(disturbed),
  ];
  const setup: [string, string][] = [
    ['App', 'node bench/dist/hello-app.js (node:http, answers 200 hello)'],
    ['Bare proxy', 'node bench/dist/bare-proxy.js (node:http + undici Pool, pipelining 1)'],
    [
      'queue-proxy',
      `${options.queueProxy.command}${options.queueProxy.overridden ? ' (via --queue-proxy)' : ''}`,
    ],
    ...options.compares.map(compareSetupLine),
    ['Load', 'autocannon in the harness process, keep-alive, pipelining 1, GET /'],
  ];
  const data = {
    targets: results.map(({ target, rssIdleKiB, rssAnonIdleKiB, cells }) => ({
      label: target.label,
      kind: target.kind,
      cc: target.cc ?? null,
      command: target.command,
      rssIdleKiB: rssIdleKiB ?? null,
      rssAnonIdleKiB: rssAnonIdleKiB ?? null,
      cells,
    })),
    derived: Object.fromEntries(settings.connections.map((c) => [String(c), derive(results, c)])),
    knative: comparisons.map(({ ours, knative, ...ratios }) => ({
      ...ratios,
      ours: ours.label,
      knative: knative.label,
    })),
    targetVerdicts: verdicts,
  };
  return { setup, tables, notes, data };
}

/** The CPU per request of tracing on with every request sampled out against tracing off, when measured. */
function tracingNote(rows: readonly DerivedRow[], connections: number): string[] {
  const off = rows.find((r) => r.label === 'queue-proxy cc0');
  const on = rows.find((r) => r.label === 'queue-proxy cc0 traced');
  const change = ratio(on?.cpuSecondsPer10k, off?.cpuSecondsPer10k);
  if (change === undefined) return [];
  return [
    `Tracing on, every request sampled out, at ${connections} connections: CPU per request ${fixed(
      (change - 1) * 100,
      1,
    )} % against tracing off (queue-proxy cc0 traced against queue-proxy cc0).`,
  ];
}

/** The `queue-proxy` scenario. */
export const queueProxyScenario: Scenario = {
  name: 'queue-proxy',
  description: 'queue-proxy (CC=0, CC=10) against the app direct, the bare Node proxy and --compare builds',
  options: {
    'queue-proxy': { type: 'string' },
    traced: { type: 'boolean' },
    ...COMPARE_OPTIONS,
  },
  usage: [
    '--traced               also measure our queue-proxy at CC=0 with tracing on and every request sampled out',
    `--queue-proxy <cmd>    run this command (through sh -c) as our queue-proxy (default: node ${QUEUE_PROXY_ENTRY})`,
    ...compareUsage('at CC=0 and CC=10'),
  ],
  prepare(values, settings) {
    const options = parseOptions(values, settings);
    const targets = targetsOf(options);
    const perCell = cellBudgetSeconds(settings);
    const perProxy = READY_TIMEOUT_MS / 1000 + SETTLE_MS / 1000 + PORTS_FREE_TIMEOUT_MS / 1000 + 3;
    return {
      budgetSeconds: 30 + targets.length * (perProxy + settings.connections.length * perCell),
      run: (context) => run(context, options),
    };
  },
};
