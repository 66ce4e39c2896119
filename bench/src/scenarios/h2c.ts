/**
 * The `h2c` scenario: unary gRPC calls per second, latency, CPU and memory for a gRPC app reached
 * directly, through our queue-proxy, through the activator in front of that queue-proxy, and through
 * any other queue-proxy build (`--compare`), Knative's own among them (`--compare knative`), side by
 * side in one run, at several counts of calls in flight.
 *
 * gRPC is HTTP/2 end to end: the client speaks prior-knowledge h2c, each proxy keeps the protocol
 * hop by hop (Knative's auto h1/h2c transport), and the response status travels in trailers, so this
 * is the path every gRPC revision takes. One app, one queue-proxy (CC=0), one activator and each
 * compared queue-proxy (CC=0, the same environment) run for the whole scenario; the paths are
 * measured alternately at each count against them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { echoClient, echoOnce, type GrpcLoadResult, metadataOf, runGrpcLoad } from '../grpc-load.js';
import { KNATIVE_QUEUE_PORTS, PORTS_FREE_TIMEOUT_MS, waitForFreePorts } from '../knative-queue.js';
import { freePort } from '../ports.js';
import type { MemoryReading } from '../proc-stats.js';
import { idleMemoryKiB } from '../process-sampler.js';
import { disturbanceNote } from '../quiet-run.js';
import { delta, mebibytes, ratio } from '../ratios.js';
import type { OptionValues, RunSettings, Scenario, ScenarioContext, ScenarioReport } from '../scenario.js';
import type { ManagedProcess } from '../supervisor.js';
import { fixed, NONE, type Table, times } from '../table.js';
import {
  ACTIVATOR_ENTRY,
  cellBudgetSeconds,
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
  type QueueProxyPorts,
  queueProxyEnv,
  READY_INTERVAL_MS,
  READY_TIMEOUT_MS,
  REVISION,
  REVISION_HEADERS,
  type SampledRun,
  SETTLE_MS,
  sampledRun,
  sleep,
  startActivatorInFront,
  startApp,
  startProxy,
  UNPINNED_LAYOUT,
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
  type ProxyFigures,
  parseCompareOptions,
} from './compare.js';
import { H2C_TARGETS, type TargetVerdict, targetsNote, targetsTable, targetVerdicts } from './targets.js';

const GRPC_APP = fileURLToPath(new URL('../grpc-app.js', import.meta.url));

/**
 * Knative's revision routing headers as gRPC metadata (lower-case, as HTTP/2 requires), sent on
 * every path so the three carry the same request.
 */
const REVISION_METADATA: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(REVISION_HEADERS).map(([key, value]) => [key.toLowerCase(), value]),
);

/** A gRPC readiness check waits this long for each answer. */
const READY_CALL_TIMEOUT_MS = 1_000;

/** What a way to the app goes through. */
type RouteKind = 'direct' | 'queue-proxy' | 'activator' | 'compare' | 'knative';

/** A way to the app: direct, through our proxies, or through a compared queue-proxy. */
interface Route {
  /** The key of its cells in the JSON. */
  readonly key: string;
  readonly label: string;
  readonly kind: RouteKind;
  /** The index of its compared queue-proxy in the options' compares. */
  readonly compared?: number;
}

const OWN_ROUTES: readonly Route[] = [
  { key: 'direct', label: 'direct', kind: 'direct' },
  { key: 'queue-proxy', label: 'queue-proxy', kind: 'queue-proxy' },
  { key: 'activator', label: 'activator → queue-proxy', kind: 'activator' },
];

/** Every route of a run: ours, then one through each compared queue-proxy, labelled by its name. */
function routesOf(compares: readonly Compare[]): Route[] {
  return [
    ...OWN_ROUTES,
    ...compares.map((compare, i) => ({
      key: `compare:${compare.name}`,
      label: compare.name,
      kind: compare.knative === undefined ? ('compare' as const) : ('knative' as const),
      compared: i,
    })),
  ];
}

/** The scenario's options, checked. */
interface H2cOptions {
  readonly compares: readonly Compare[];
}

/** Checks the built entry points and the `--compare` options, reporting every problem at once. */
function parseOptions(values: OptionValues, settings: RunSettings): H2cOptions {
  const problems = missingBuilds(settings, [QUEUE_PROXY_ENTRY, ACTIVATOR_ENTRY]);
  const parsed = parseCompareOptions(
    values,
    settings,
    OWN_ROUTES.map((route) => route.label),
  );
  problems.push(...parsed.problems);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return { compares: parsed.compares };
}

/**
 * Calls Echo at `address` until one call succeeds: the gRPC counterpart of an HTTP readiness poll.
 * Each attempt opens a channel of its own, so grpc-js's reconnect back-off never delays the next.
 */
async function waitUntilGrpcReady(
  proc: ManagedProcess,
  address: string,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const md = metadataOf(metadata);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline && proc.exitStatus === undefined) {
    const client = echoClient(address);
    const err = await echoOnce(client, md, READY_CALL_TIMEOUT_MS);
    client.close();
    if (err === undefined) return;
    last = err.message;
    await sleep(READY_INTERVAL_MS);
  }
  const why =
    proc.exitStatus !== undefined
      ? `exited (${proc.exitStatus}) before a gRPC call through it succeeded`
      : `answered no gRPC call within ${READY_TIMEOUT_MS / 1000} s (last: ${last})`;
  throw new Error(
    `${proc.name} ${why} at ${address}\n--- stderr ---\n${proc.stderr() || '(empty)'}\n--- stdout ---\n${proc.stdout() || '(empty)'}`,
  );
}

/** One route at one count of calls in flight. Every process is sampled on every route. */
interface Cell extends SampledRun<GrpcLoadResult> {
  /** The route's key. */
  readonly path: string;
  readonly inFlight: number;
}

/** Measures one path at one count, with every process sampled around the run. */
async function measureCell(
  context: ScenarioContext,
  procs: PodProcesses,
  path: string,
  address: string,
  inFlight: number,
): Promise<Cell> {
  const run = await sampledRun(
    procs,
    () =>
      runGrpcLoad({
        address,
        inFlight,
        durationSeconds: context.settings.durationSeconds,
        metadata: REVISION_METADATA,
      }),
    (load) => load.calls,
  );
  return { path, inFlight, ...run };
}

/** What the run found. */
interface H2cResult {
  readonly cells: Cell[];
  readonly rssIdleKiB: IdleRss;
  /** Each compared queue-proxy's memory once started and settled, in the order of the compares. */
  readonly comparedIdleKiB: readonly MemoryReading[];
}

/**
 * Starts app, queue-proxy, activator and every compared queue-proxy, then measures the routes at
 * every count, alternating.
 */
async function measure(
  context: ScenarioContext,
  options: H2cOptions,
  endpointsFile: string,
): Promise<H2cResult> {
  const { settings, supervisor, progress } = context;
  const started: ManagedProcess[] = [];
  try {
    const appPort = await freePort();
    progress(`starting the gRPC app on 127.0.0.1:${appPort}`);
    const app = startApp(context, 'grpc-app', GRPC_APP, appPort);
    started.push(app);
    await waitUntilGrpcReady(app, `127.0.0.1:${appPort}`);

    progress('starting the queue-proxy (CC=0, gRPC readiness probe)');
    const env = (ports: QueueProxyPorts) =>
      queueProxyEnv(0, appPort, ports, { grpc: { port: appPort, service: '' } });
    const qp = await startProxy(context, appPort, { name: 'queue-proxy', env });
    started.push(qp.proc);
    await waitForQueueProxy(qp);
    await waitUntilGrpcReady(qp.proc, `127.0.0.1:${qp.port}`, REVISION_METADATA);

    const { activator, rssIdleKiB } = await startActivatorInFront(context, endpointsFile, qp, started, (a) =>
      waitUntilGrpcReady(a.proc, `127.0.0.1:${a.port}`, REVISION_METADATA),
    );

    const addresses: Record<string, string> = {
      direct: `127.0.0.1:${appPort}`,
      'queue-proxy': `127.0.0.1:${qp.port}`,
      activator: `127.0.0.1:${activator.port}`,
    };
    const routes = routesOf(options.compares);
    const compared: ManagedProcess[] = [];
    for (const route of routes) {
      const compare = route.compared === undefined ? undefined : options.compares[route.compared];
      if (compare === undefined) continue;
      // Knative's queue-proxy binds fixed admin and stats ports whatever its environment.
      if (compare.knative !== undefined) await waitForFreePorts(KNATIVE_QUEUE_PORTS, PORTS_FREE_TIMEOUT_MS);
      progress(`starting ${compare.name}: ${compare.command} (CC=0, gRPC readiness probe)`);
      const proxy = await startProxy(context, appPort, { name: compare.name, argv: compare.argv, env });
      started.push(proxy.proc);
      compared.push(proxy.proc);
      await waitForQueueProxy(proxy);
      await waitUntilGrpcReady(proxy.proc, `127.0.0.1:${proxy.port}`, REVISION_METADATA);
      addresses[route.key] = `127.0.0.1:${proxy.port}`;
    }
    if (compared.length > 0) await sleep(SETTLE_MS);
    const comparedIdleKiB = compared.map((proc) => idleMemoryKiB(proc.pid));

    const procs: PodProcesses = { app, queueProxy: qp.proc, activator: activator.proc, compared };
    const cells: Cell[] = [];
    for (const inFlight of settings.connections) {
      for (const route of routes) {
        const address = addresses[route.key] as string;
        cells.push(
          await warmThenMeasure(
            context,
            `${route.label}: ${inFlightLabel(inFlight)}`,
            (seconds) =>
              runGrpcLoad({ address, inFlight, durationSeconds: seconds, metadata: REVISION_METADATA }),
            () => measureCell(context, procs, route.key, address, inFlight),
          ),
        );
      }
    }
    return { cells, rssIdleKiB, comparedIdleKiB };
  } finally {
    for (const proc of started.reverse()) await supervisor.stop(proc);
  }
}

function inFlightLabel(inFlight: number): string {
  return `${plural(inFlight, 'call')} in flight`;
}

/** One row of a table: a route at one count, with its comparisons. */
export interface H2cRow {
  readonly label: string;
  readonly kind: RouteKind;
  readonly callsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** p50 minus the direct path's p50 at the same count. */
  readonly addedP50Ms: number | undefined;
  /** calls/s over the direct path's. */
  readonly throughputVsDirect: number | undefined;
  /** calls/s over the queue-proxy path's; on the activator path only. */
  readonly throughputVsQueueProxy: number | undefined;
  /**
   * The queue-proxy on the route: ours, or on a compared route the compared one. Absent on the
   * direct path, where it is idle.
   */
  readonly queueProxy: ProcessFigures | undefined;
  /** That queue-proxy's resident memory once started, before any load, MiB. */
  readonly queueProxyIdleMiB: number | undefined;
  /** Present on the activator path only. */
  readonly activator: ProcessFigures | undefined;
  /** Activator CPU per call over the queue-proxy's behind it, in the same run. */
  readonly cpuRatio: number | undefined;
  readonly failures: number;
}

/** The idle resident memory of a route's queue-proxy, KiB: ours on our own path, or the compared one's. */
function idleKiBOf(route: Route, result: H2cResult): number | undefined {
  if (route.compared !== undefined) return result.comparedIdleKiB[route.compared]?.rssKiB;
  return route.kind === 'queue-proxy' ? result.rssIdleKiB.queueProxy : undefined;
}

function derive(routes: readonly Route[], result: H2cResult, inFlight: number): H2cRow[] {
  const at = (key: string) => result.cells.find((c) => c.path === key && c.inFlight === inFlight);
  const direct = at('direct');
  const viaQueueProxy = at('queue-proxy');
  const rows: H2cRow[] = [];
  for (const route of routes) {
    const cell = at(route.key);
    if (cell === undefined) continue;
    const { load } = cell;
    const throughActivator = route.kind === 'activator';
    const idleKiB = idleKiBOf(route, result);
    let queueProxy: ProcessFigures | undefined;
    if (route.compared !== undefined) queueProxy = cell.compared?.[route.compared];
    else if (route.kind !== 'direct') queueProxy = cell.queueProxy;
    rows.push({
      label: route.label,
      kind: route.kind,
      callsPerSecond: load.callsPerSecond,
      p50Ms: load.latencyMs.p50,
      p99Ms: load.latencyMs.p99,
      addedP50Ms: route.kind === 'direct' ? undefined : delta(load.latencyMs.p50, direct?.load.latencyMs.p50),
      throughputVsDirect: ratio(load.callsPerSecond, direct?.load.callsPerSecond),
      throughputVsQueueProxy: throughActivator
        ? ratio(load.callsPerSecond, viaQueueProxy?.load.callsPerSecond)
        : undefined,
      queueProxy,
      queueProxyIdleMiB: idleKiB === undefined ? undefined : mebibytes(idleKiB),
      activator: throughActivator ? cell.activator : undefined,
      cpuRatio: throughActivator
        ? ratio(cell.activator.cpuSecondsPer10k, cell.queueProxy.cpuSecondsPer10k)
        : undefined,
      failures: load.errors,
    });
  }
  return rows;
}

/** Our queue-proxy against Knative's at one count of calls in flight. */
export interface H2cKnativeComparison extends KnativeRatios {
  readonly inFlight: number;
  readonly ours: ProxyFigures;
  readonly knative: ProxyFigures;
  /** The labels of the two rows. */
  readonly oursLabel: string;
  readonly knativeLabel: string;
}

/** A row's queue-proxy figures as {@link knativeRatios} compares them. */
function proxyFigures(row: H2cRow): ProxyFigures {
  const qp = row.queueProxy;
  return {
    rate: row.callsPerSecond,
    cpuSecondsPer10k: qp?.cpuSecondsPer10k,
    rssLoadedMiB: qp === undefined ? undefined : mebibytes(qp.rssLoadedKiB),
    rssAnonLoadedMiB: qp === undefined ? undefined : mebibytes(qp.rssAnonLoadedKiB),
    pssLoadedMiB: qp?.pssLoadedKiB === undefined ? undefined : mebibytes(qp.pssLoadedKiB),
    rssIdleMiB: row.queueProxyIdleMiB,
  };
}

/**
 * Divides our queue-proxy path's figures at one count by those of each Knative queue-proxy path at
 * the same count (both at CC=0 in front of the same app); none without both.
 */
export function compareWithKnative(inFlight: number, rows: readonly H2cRow[]): H2cKnativeComparison[] {
  const ours = rows.find((row) => row.kind === 'queue-proxy');
  if (ours === undefined) return [];
  return rows
    .filter((row) => row.kind === 'knative')
    .map((knative) => {
      const figures = { ours: proxyFigures(ours), knative: proxyFigures(knative) };
      return {
        inFlight,
        ...figures,
        oursLabel: ours.label,
        knativeLabel: knative.label,
        ...knativeRatios(figures.ours, figures.knative),
      };
    });
}

function knativeTablesOf(comparisons: readonly H2cKnativeComparison[]): Table[] {
  const several = new Set(comparisons.map((c) => c.knativeLabel)).size > 1;
  return knativeTables(
    several ? ['calls in flight', 'Knative'] : ['calls in flight'],
    'call',
    comparisons.map((c) => ({
      lead: several ? [String(c.inFlight), c.knativeLabel] : [String(c.inFlight)],
      ours: c.ours,
      knative: c.knative,
      ratios: c,
    })),
  );
}

/**
 * The verdict on each of the `h2c` scenario's targets, from its Knative comparisons. With several
 * Knative queue-proxies compared, the first one's path is judged.
 */
export function h2cVerdicts(comparisons: readonly H2cKnativeComparison[]): TargetVerdict[] {
  const first = comparisons[0]?.knativeLabel;
  return targetVerdicts(
    H2C_TARGETS,
    comparisons.filter((c) => c.knativeLabel === first).map((c) => ({ count: c.inFlight, ratios: c })),
  );
}

const HEADERS = [
  'path',
  'calls/s',
  'p50 ms',
  'p99 ms',
  '+p50 ms',
  'calls/s ×direct',
  'calls/s ×qp',
  'qp CPU s/10k',
  'act CPU s/10k',
  'act CPU ×qp',
  'qp core %',
  'act core %',
  'qp RSS MiB',
  'act RSS MiB',
  'qp PSS MiB',
  'act PSS MiB',
  'errors',
];

function tableOf(inFlight: number, rows: readonly H2cRow[]): Table {
  const rss = (process: ProcessFigures | undefined) =>
    process === undefined ? NONE : fixed(mebibytes(process.rssLoadedKiB), 1);
  const pss = (process: ProcessFigures | undefined) =>
    process?.pssLoadedKiB === undefined ? NONE : fixed(mebibytes(process.pssLoadedKiB), 1);
  return labelledTable(
    inFlightLabel(inFlight),
    HEADERS,
    rows.map((row) => [
      row.label,
      ...latencyCells(row.callsPerSecond, row, row.addedP50Ms),
      times(row.throughputVsDirect),
      times(row.throughputVsQueueProxy),
      fixed(row.queueProxy?.cpuSecondsPer10k, 3),
      fixed(row.activator?.cpuSecondsPer10k, 3),
      times(row.cpuRatio),
      fixed(row.queueProxy?.coreUtilisation, 0),
      fixed(row.activator?.coreUtilisation, 0),
      rss(row.queueProxy),
      rss(row.activator),
      pss(row.queueProxy),
      pss(row.activator),
      String(row.failures),
    ]),
  );
}

/** Notes printed under the tables; the README explains each column at length. */
const NOTES = [
  'Latency: each call timed with process.hrtime from issue to its callback, in a nanosecond histogram; ' +
    'calls/s and latency count calls that ended with status OK.',
  'One grpc-js channel per measured run: one HTTP/2 connection carrying N concurrent streams, so N counts ' +
    'calls in flight, not connections as in the HTTP/1.1 scenarios.',
  '+p50 ms: p50 minus the direct p50 at the same count. ×direct, ×qp: calls/s over the direct path’s and over ' +
    'the queue-proxy path’s. act CPU ×qp: the activator’s CPU per call over the queue-proxy’s behind it, in the ' +
    'same run. qp = queue-proxy, act = activator; CPU, RSS and PSS (peak during the run) are per process tree.',
  'errors: calls that ended with a status other than OK (by status in the JSON); anything but 0 makes the row suspect.',
];

/** The note of the compared rows. */
const COMPARED_NOTE =
  'A compared row (--compare) goes straight to that queue-proxy, at CC=0 with the same environment and gRPC ' +
  'readiness probe as ours; its qp columns are that queue-proxy’s figures.';

/** The CPU layout, for the header. */
function layoutLine(settings: RunSettings): string {
  if (!settings.pin.enabled) return UNPINNED_LAYOUT;
  const { load, app, proxy } = settings.pin.roles;
  return (
    `queue-proxy and activator both on CPU ${proxy}, load generator on CPU ${load} and app on CPU ${app}, ` +
    `as in the activator scenario; through the activator the two proxies share CPU ${proxy}, which bounds ` +
    'that path’s calls/s at high counts, while CPU per call stays each process’s own'
  );
}

/** The installed @grpc/grpc-js version, for the header. */
function grpcVersion(): string {
  try {
    return (createRequire(import.meta.url)('@grpc/grpc-js/package.json') as { version: string }).version;
  } catch {
    return 'unknown version';
  }
}

async function run(context: ScenarioContext, options: H2cOptions): Promise<ScenarioReport> {
  const { settings } = context;
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-bench-h2c-'));
  let result: H2cResult;
  try {
    result = await measure(context, options, join(dir, 'endpoints.json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { cells } = result;
  const routes = routesOf(options.compares);
  const labelOf = (key: string) => routes.find((route) => route.key === key)?.label ?? key;
  const tables = settings.connections.map((inFlight) => tableOf(inFlight, derive(routes, result, inFlight)));
  const comparisons = settings.connections.flatMap((inFlight) =>
    compareWithKnative(inFlight, derive(routes, result, inFlight)),
  );
  const verdicts = comparisons.length > 0 ? h2cVerdicts(comparisons) : [];
  if (comparisons.length > 0) tables.push(...knativeTablesOf(comparisons), targetsTable(verdicts));
  const disturbed = disturbedRuns(cells, (cell) => `${labelOf(cell.path)} at ${cell.inFlight}`);
  const notes = [
    ...NOTES,
    ...(options.compares.length > 0 ? [COMPARED_NOTE] : []),
    ...(comparisons.length > 0
      ? [knativeNote('count of calls in flight', 'call'), targetsNote(verdicts)]
      : []),
    disturbanceNote(disturbed),
  ];
  const idle = result.rssIdleKiB;
  const grpc = grpcVersion();
  const setup: [string, string][] = [
    [
      'App',
      `node bench/dist/grpc-app.js (@grpc/grpc-js ${grpc}, unary Echo answering at once with its 5-byte ` +
        'request; grpc.health.v1 Check for the probe)',
    ],
    [
      'queue-proxy',
      `node ${QUEUE_PROXY_ENTRY}, CONTAINER_CONCURRENCY=0, gRPC readiness probe on the app ` +
        '(SERVING_READINESS_PROBE {"grpc":{"port":<app>,"service":""}})',
    ],
    [
      'Activator',
      `node ${ACTIVATOR_ENTRY}, file endpoint source, revision ${NAMESPACE}/${REVISION} at CC=0 with the ` +
        'queue-proxy as its one ready Pod, no autoscaler listening',
    ],
    ...options.compares.map(compareSetupLine),
    ['Layout', layoutLine(settings)],
    [
      'Load',
      `@grpc/grpc-js ${grpc} client in the harness process: one channel per run, so one prior-knowledge h2c ` +
        'connection multiplexing every call as an HTTP/2 stream; a closed loop of N unary Echo calls in ' +
        'flight (--connections sets N), each slot calling again as soon as its answer arrives; metadata ' +
        'knative-serving-revision and knative-serving-namespace on every path',
    ],
    comparedIdleLine(idleRssLine(idle), options.compares, result.comparedIdleKiB),
  ];
  const data = {
    rssIdleKiB: idle,
    comparedIdleKiB: Object.fromEntries(
      options.compares.map(({ name }, i) => [name, result.comparedIdleKiB[i] ?? null]),
    ),
    cells,
    derived: Object.fromEntries(settings.connections.map((n) => [String(n), derive(routes, result, n)])),
    knative: comparisons,
    targetVerdicts: verdicts,
  };
  return { setup, tables, notes, data };
}

/** The idle-memory setup line with each compared queue-proxy's appended. */
function comparedIdleLine(
  [key, value]: [string, string],
  compares: readonly Compare[],
  idle: readonly MemoryReading[],
): [string, string] {
  const more = compares.map((compare, i) => {
    const reading = idle[i];
    return `, ${compare.name} ${fixed(reading === undefined ? undefined : mebibytes(reading.rssKiB), 1)} MiB`;
  });
  return [key, value + more.join('')];
}

/** The `h2c` scenario. */
export const h2cScenario: Scenario = {
  name: 'h2c',
  description:
    'unary gRPC: the app direct, through the queue-proxy, through activator + queue-proxy and --compare builds',
  options: { ...COMPARE_OPTIONS },
  usage: [
    '(--connections sets the unary calls in flight on one HTTP/2 connection)',
    ...compareUsage('at CC=0 as one more path to the app'),
  ],
  prepare(values: OptionValues, settings) {
    const options = parseOptions(values, settings);
    const routes = routesOf(options.compares);
    const startSeconds = READY_TIMEOUT_MS / 1000 + 2;
    const perCell = cellBudgetSeconds(settings);
    const compares = options.compares.length;
    return {
      budgetSeconds:
        30 +
        (3 + compares) * 2 * startSeconds +
        (compares * PORTS_FREE_TIMEOUT_MS) / 1000 +
        (2 * SETTLE_MS) / 1000 +
        routes.length * settings.connections.length * perCell,
      run: (context) => run(context, options),
    };
  },
};
