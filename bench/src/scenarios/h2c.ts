/**
 * The `h2c` scenario: unary gRPC calls per second, latency, CPU and memory for a gRPC app reached
 * directly, through our queue-proxy, and through the activator in front of that queue-proxy, side by
 * side in one run, at several counts of calls in flight.
 *
 * gRPC is HTTP/2 end to end: the client speaks prior-knowledge h2c, each proxy keeps the protocol
 * hop by hop (Knative's auto h1/h2c transport), and the response status travels in trailers, so this
 * is the path every gRPC revision takes. One app, one queue-proxy (CC=0) and one activator run for
 * the whole scenario; the three paths are measured alternately at each count against them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { echoClient, echoOnce, type GrpcLoadResult, metadataOf, runGrpcLoad } from '../grpc-load.js';
import { freePort } from '../ports.js';
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

/** The three ways to the app. */
type Path = 'direct' | 'queue-proxy' | 'activator';

const PATHS: readonly Path[] = ['direct', 'queue-proxy', 'activator'];

const PATH_LABELS: Readonly<Record<Path, string>> = {
  direct: 'direct',
  'queue-proxy': 'queue-proxy',
  activator: 'activator → queue-proxy',
};

/** The scenario has no options of its own; only the built entry points are checked. */
function checkBuilds(settings: RunSettings): void {
  const problems = missingBuilds(settings, [QUEUE_PROXY_ENTRY, ACTIVATOR_ENTRY]);
  if (problems.length > 0) throw new Error(problems.join('\n'));
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

/** One path at one count of calls in flight. Every process is sampled on every path. */
interface Cell extends SampledRun<GrpcLoadResult> {
  readonly path: Path;
  readonly inFlight: number;
}

/** Measures one path at one count, with every process sampled around the run. */
async function measureCell(
  context: ScenarioContext,
  procs: PodProcesses,
  path: Path,
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
}

/** Starts app, queue-proxy and activator, then measures the three paths at every count, alternating. */
async function measure(context: ScenarioContext, endpointsFile: string): Promise<H2cResult> {
  const { settings, supervisor, progress } = context;
  const started: ManagedProcess[] = [];
  try {
    const appPort = await freePort();
    progress(`starting the gRPC app on 127.0.0.1:${appPort}`);
    const app = startApp(context, 'grpc-app', GRPC_APP, appPort);
    started.push(app);
    await waitUntilGrpcReady(app, `127.0.0.1:${appPort}`);

    progress('starting the queue-proxy (CC=0, gRPC readiness probe)');
    const qp = await startProxy(context, appPort, {
      name: 'queue-proxy',
      env: (ports) => queueProxyEnv(0, appPort, ports, { grpc: { port: appPort, service: '' } }),
    });
    started.push(qp.proc);
    await waitForQueueProxy(qp);
    await waitUntilGrpcReady(qp.proc, `127.0.0.1:${qp.port}`, REVISION_METADATA);

    const { activator, rssIdleKiB } = await startActivatorInFront(context, endpointsFile, qp, started, (a) =>
      waitUntilGrpcReady(a.proc, `127.0.0.1:${a.port}`, REVISION_METADATA),
    );

    const procs: PodProcesses = { app, queueProxy: qp.proc, activator: activator.proc };
    const addresses: Readonly<Record<Path, string>> = {
      direct: `127.0.0.1:${appPort}`,
      'queue-proxy': `127.0.0.1:${qp.port}`,
      activator: `127.0.0.1:${activator.port}`,
    };
    const cells: Cell[] = [];
    for (const inFlight of settings.connections) {
      for (const path of PATHS) {
        cells.push(
          await warmThenMeasure(
            context,
            `${PATH_LABELS[path]}: ${inFlightLabel(inFlight)}`,
            (seconds) =>
              runGrpcLoad({
                address: addresses[path],
                inFlight,
                durationSeconds: seconds,
                metadata: REVISION_METADATA,
              }),
            () => measureCell(context, procs, path, addresses[path], inFlight),
          ),
        );
      }
    }
    return { cells, rssIdleKiB };
  } finally {
    for (const proc of started.reverse()) await supervisor.stop(proc);
  }
}

function inFlightLabel(inFlight: number): string {
  return `${plural(inFlight, 'call')} in flight`;
}

/** One row of a table: a path at one count, with its comparisons. */
interface H2cRow {
  readonly label: string;
  readonly callsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** p50 minus the direct path's p50 at the same count. */
  readonly addedP50Ms: number | undefined;
  /** calls/s over the direct path's. */
  readonly throughputVsDirect: number | undefined;
  /** calls/s over the queue-proxy path's; on the activator path only. */
  readonly throughputVsQueueProxy: number | undefined;
  /** Absent on the direct path, where it is idle. */
  readonly queueProxy: ProcessFigures | undefined;
  /** Present on the activator path only. */
  readonly activator: ProcessFigures | undefined;
  /** Activator CPU per call over the queue-proxy's behind it, in the same run. */
  readonly cpuRatio: number | undefined;
  readonly failures: number;
}

function derive(cells: readonly Cell[], inFlight: number): H2cRow[] {
  const at = (path: Path) => cells.find((c) => c.path === path && c.inFlight === inFlight);
  const direct = at('direct');
  const viaQueueProxy = at('queue-proxy');
  const rows: H2cRow[] = [];
  for (const path of PATHS) {
    const cell = at(path);
    if (cell === undefined) continue;
    const { load } = cell;
    const throughActivator = path === 'activator';
    rows.push({
      label: PATH_LABELS[path],
      callsPerSecond: load.callsPerSecond,
      p50Ms: load.latencyMs.p50,
      p99Ms: load.latencyMs.p99,
      addedP50Ms: path === 'direct' ? undefined : delta(load.latencyMs.p50, direct?.load.latencyMs.p50),
      throughputVsDirect: ratio(load.callsPerSecond, direct?.load.callsPerSecond),
      throughputVsQueueProxy: throughActivator
        ? ratio(load.callsPerSecond, viaQueueProxy?.load.callsPerSecond)
        : undefined,
      queueProxy: path === 'direct' ? undefined : cell.queueProxy,
      activator: throughActivator ? cell.activator : undefined,
      cpuRatio: throughActivator
        ? ratio(cell.activator.cpuSecondsPer10k, cell.queueProxy.cpuSecondsPer10k)
        : undefined,
      failures: load.errors,
    });
  }
  return rows;
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
  'errors',
];

function tableOf(inFlight: number, rows: readonly H2cRow[]): Table {
  const rss = (process: ProcessFigures | undefined) =>
    process === undefined ? NONE : fixed(mebibytes(process.rssLoadedKiB), 1);
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
    'same run. qp = queue-proxy, act = activator; CPU and RSS (peak during the run) are per process tree.',
  'errors: calls that ended with a status other than OK (by status in the JSON); anything but 0 makes the row suspect.',
];

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

async function run(context: ScenarioContext): Promise<ScenarioReport> {
  const { settings } = context;
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-bench-h2c-'));
  let result: H2cResult;
  try {
    result = await measure(context, join(dir, 'endpoints.json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { cells } = result;
  const tables = settings.connections.map((inFlight) => tableOf(inFlight, derive(cells, inFlight)));
  const disturbed = disturbedRuns(cells, (cell) => `${PATH_LABELS[cell.path]} at ${cell.inFlight}`);
  const notes = [...NOTES, disturbanceNote(disturbed)];
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
    ['Layout', layoutLine(settings)],
    [
      'Load',
      `@grpc/grpc-js ${grpc} client in the harness process: one channel per run, so one prior-knowledge h2c ` +
        'connection multiplexing every call as an HTTP/2 stream; a closed loop of N unary Echo calls in ' +
        'flight (--connections sets N), each slot calling again as soon as its answer arrives; metadata ' +
        'knative-serving-revision and knative-serving-namespace on every path',
    ],
    idleRssLine(idle),
  ];
  const data = {
    rssIdleKiB: idle,
    cells,
    derived: Object.fromEntries(settings.connections.map((n) => [String(n), derive(cells, n)])),
  };
  return { setup, tables, notes, data };
}

/** The `h2c` scenario. */
export const h2cScenario: Scenario = {
  name: 'h2c',
  description: 'unary gRPC: the app direct, through the queue-proxy, and through activator + queue-proxy',
  options: {},
  usage: ['(no options of its own; --connections sets the unary calls in flight on one HTTP/2 connection)'],
  prepare(_values: OptionValues, settings) {
    checkBuilds(settings);
    const startSeconds = READY_TIMEOUT_MS / 1000 + 2;
    const perCell = cellBudgetSeconds(settings);
    return {
      budgetSeconds:
        30 + 3 * 2 * startSeconds + SETTLE_MS / 1000 + PATHS.length * settings.connections.length * perCell,
      run,
    };
  },
};
