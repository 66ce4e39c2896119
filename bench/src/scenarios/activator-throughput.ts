/**
 * Part 1 of the `activator` scenario: throughput, latency, CPU and memory at several keep-alive
 * connection counts, for the app behind our queue-proxy (CC=0) reached directly and through the
 * activator, the two paths measured alternately at each connection count against the same processes;
 * and the per-connection-count tables of what it found.
 */
import { type LoadResult, runLoad } from '../load-generator.js';
import { freePort } from '../ports.js';
import { delta, mebibytes, ratio } from '../ratios.js';
import type { ScenarioContext } from '../scenario.js';
import type { ManagedProcess } from '../supervisor.js';
import { fixed, NONE, type Table, times } from '../table.js';
import { HELLO_APP, startPodQueueProxy } from './activator-pod.js';
import {
  connectionsLabel,
  type IdleRss,
  labelledTable,
  latencyCells,
  type PodProcesses,
  type ProcessFigures,
  REVISION_HEADERS,
  type SampledRun,
  sampledRun,
  startActivatorInFront,
  startApp,
  waitForHttp,
  waitForQueueProxy,
  warmThenMeasure,
} from './common.js';

/** The two ways to the app: straight to its queue-proxy, or through the activator first. */
export type Path = 'direct' | 'activator';

/** How each path is named in the tables and progress lines. */
export const PATH_LABELS: Readonly<Record<Path, string>> = {
  direct: 'queue-proxy',
  activator: 'activator → queue-proxy',
};

/** One path at one connection count. Every process is sampled on both paths. */
export interface Cell extends SampledRun<LoadResult> {
  readonly path: Path;
  readonly connections: number;
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
export interface ThroughputResult {
  readonly cells: Cell[];
  readonly rssIdleKiB: IdleRss;
}

/** Part 1: both paths at every connection count, alternating, against one app, queue-proxy and activator. */
export async function measureThroughput(
  context: ScenarioContext,
  endpointsFile: string,
): Promise<ThroughputResult> {
  const { settings, supervisor, progress } = context;
  const started: ManagedProcess[] = [];
  try {
    const appPort = await freePort();
    progress(`starting the app on 127.0.0.1:${appPort}`);
    const app = startApp(context, 'hello-app', HELLO_APP, appPort);
    started.push(app);
    await waitForHttp(app, `http://127.0.0.1:${appPort}/`);
    progress('starting the queue-proxy (CC=0)');
    const qp = await startPodQueueProxy(context, 'queue-proxy', appPort);
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

/** One row of a connection-count table. */
export interface ActivatorRow {
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

/** The rows of one connection count's table: the direct path, then the activator's against it. */
export function derive(cells: readonly Cell[], connections: number): ActivatorRow[] {
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

/** The table of one connection count. */
export function connectionTable(connections: number, rows: readonly ActivatorRow[]): Table {
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
