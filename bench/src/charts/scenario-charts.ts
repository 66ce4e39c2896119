/**
 * The charts of each scenario, built from the run's JSON (the object written to bench/results/), so
 * a chart can be drawn again from any stored run. A field a run lacks (an older file, a scenario
 * run without `--compare`) leaves its chart out rather than drawing an empty one.
 */
import { percentile } from '../ratios.js';
import { STAGES, type Trial } from '../scenarios/cold-start.js';
import { readyToResponse, succeeded, TARGETS, WAKE_KINDS, type Wake } from '../scenarios/wakes.js';
import {
  type CpuSeries,
  cpuFigure,
  latencyFigure,
  type MemoryRow,
  medianFigure,
  memoryFigure,
  type Percentiles,
  type RunRecord,
  runLine,
} from './chart-kinds.js';
import type { Figure, Span } from './figure.js';
import { formatValue } from './svg.js';

/** A chart of a scenario: `kind` names its file (`<scenario>-<kind>.svg`). */
export interface ScenarioChart {
  readonly kind: string;
  readonly figure: Figure;
}

/** Every kind of chart any scenario draws, so files of a kind a newer run lacks can be removed. */
export const CHART_KINDS = [
  'latency',
  'cpu',
  'memory',
  'held',
  'fairness',
  'wake',
  'stages',
  'starts',
  'trials',
  'recovery',
] as const;

/** A process's figures as the scenarios record them. */
interface ProcessFigures {
  readonly cpuSecondsPer10k?: number;
  readonly rssLoadedKiB?: number;
  readonly rssAnonLoadedKiB?: number;
  readonly pssLoadedKiB?: number;
}

interface LoadFigures {
  readonly connections?: number;
  readonly latencyMs?: Percentiles;
}

const MEMORY_LOADED = ['RSS under load', 'RssAnon under load', 'PSS under load'];

const mib = (kib: number | undefined) => (kib === undefined ? undefined : kib / 1024);
const micros = (per10k: number | undefined) => (per10k === undefined ? undefined : per10k * 100);
const connectionsLabel = (n: number) => `${n} connection${n === 1 ? '' : 's'}`;
const callsLabel = (n: number) => `${n} call${n === 1 ? '' : 's'} in flight`;

function levelsOf(record: RunRecord): number[] {
  return [...(record.settings?.connections ?? [])];
}

function loadedMemory(process: ProcessFigures | undefined): Record<string, number | undefined> {
  return {
    'RSS under load': mib(process?.rssLoadedKiB),
    'RssAnon under load': mib(process?.rssAnonLoadedKiB),
    'PSS under load': mib(process?.pssLoadedKiB),
  };
}

function ratioOf(value: number | undefined, reference: number | undefined): number | undefined {
  return value === undefined || reference === undefined || reference === 0 ? undefined : value / reference;
}

// ---- queue-proxy --------------------------------------------------------------------------------

interface QueueProxyRow {
  readonly label: string;
  readonly kind: string;
  readonly cc?: number | null;
  readonly cpuSecondsPer10k?: number;
  readonly rssIdleMiB?: number;
  readonly rssLoadedMiB?: number;
  readonly rssAnonLoadedMiB?: number;
  readonly pssLoadedMiB?: number;
}

interface QueueProxyRecord extends RunRecord {
  readonly targets?: readonly {
    readonly label: string;
    readonly cells?: readonly { readonly connections: number; readonly load?: LoadFigures }[];
  }[];
  readonly derived?: Readonly<Record<string, readonly QueueProxyRow[]>>;
}

function queueProxyCharts(record: QueueProxyRecord): ScenarioChart[] {
  const levels = levelsOf(record);
  const targets = record.targets ?? [];
  const charts: ScenarioChart[] = [];
  if (targets.length > 0) {
    charts.push({
      kind: 'latency',
      figure: latencyFigure({
        title: 'queue-proxy: latency percentiles',
        subtitle: runLine(
          record,
          'Every response of the measured run, one request in flight per connection.',
        ),
        levels,
        levelLabel: connectionsLabel,
        series: targets.map((t) => t.label),
        latency: (i, level) => targets[i]?.cells?.find((c) => c.connections === level)?.load?.latencyMs,
      }),
    });
  }
  const rowsAt = (level: number) => record.derived?.[String(level)] ?? [];
  const proxies = (rowsAt(levels[0] ?? 0) ?? []).filter((r) => r.kind !== 'direct');
  if (proxies.length === 0) return charts;
  const hasKnative = proxies.some((r) => r.kind === 'knative');
  const referenceKind = hasKnative ? 'knative' : 'bare';
  const series: CpuSeries[] = proxies.map((proxy) => {
    const labelled = proxy.kind === 'queue-proxy' || proxy.kind === 'compare';
    return {
      name: proxy.label,
      micros: levels.map((level) =>
        micros(rowsAt(level).find((r) => r.label === proxy.label)?.cpuSecondsPer10k),
      ),
      ratios: levels.map((level) => {
        if (!labelled) return undefined;
        const rows = rowsAt(level);
        const reference = rows.find(
          (r) => r.kind === referenceKind && (referenceKind === 'bare' || (r.cc ?? 0) === (proxy.cc ?? 0)),
        );
        return ratioOf(
          rows.find((r) => r.label === proxy.label)?.cpuSecondsPer10k,
          reference?.cpuSecondsPer10k,
        );
      }),
    };
  });
  charts.push({
    kind: 'cpu',
    figure: cpuFigure({
      title: 'queue-proxy: CPU per request',
      subtitle: runLine(
        record,
        hasKnative
          ? 'Labels: our queue-proxy ÷ Knative’s at the same CC (below 1: ours uses less).'
          : 'Labels: ÷ bare-proxy (below 1: uses less).',
      ),
      unit: 'request',
      levels: levels.map(connectionsLabel),
      series,
      colors: proxies.map((p) =>
        Math.max(
          0,
          targets.findIndex((t) => t.label === p.label),
        ),
      ),
    }),
  });
  const top = levels[levels.length - 1] ?? 0;
  charts.push({
    kind: 'memory',
    figure: memoryFigure({
      title: `queue-proxy: memory, idle and under load at ${connectionsLabel(top)}`,
      subtitle: runLine(
        record,
        'Under load: the highest sample of the run; each proxy’s whole process tree.',
      ),
      measures: ['RSS idle', ...MEMORY_LOADED],
      rows: rowsAt(top)
        .filter((r) => r.kind !== 'direct')
        .map(
          (r): MemoryRow => ({
            name: r.label,
            mib: {
              'RSS idle': r.rssIdleMiB,
              'RSS under load': r.rssLoadedMiB,
              'RssAnon under load': r.rssAnonLoadedMiB,
              'PSS under load': r.pssLoadedMiB,
            },
          }),
        ),
    }),
  });
  return charts;
}

// ---- activator ----------------------------------------------------------------------------------

interface ActivatorCell {
  readonly path: string;
  readonly connections: number;
  readonly load?: LoadFigures;
  readonly activator?: ProcessFigures;
  readonly queueProxy?: ProcessFigures;
}

interface MemoryReading {
  readonly rssKiB?: number;
  readonly rssAnonKiB?: number;
  readonly pssKiB?: number;
}

interface ActivatorRecord extends RunRecord {
  readonly cells?: readonly ActivatorCell[];
  readonly held?: {
    readonly trials?: readonly {
      readonly podStartMs?: number;
      readonly readyToResponseMs?: number;
      readonly endpointsToResponseMs?: number;
    }[];
  };
  readonly memory?: {
    readonly idle?: MemoryReading;
    readonly held?: MemoryReading;
    readonly heldRequests?: number;
  };
  readonly targets?: { readonly heldP99Ms?: number };
  readonly holding?: {
    readonly fairness?: {
      readonly aloneSummary?: AnswerPercentiles;
      readonly duringFloodSummary?: AnswerPercentiles;
    };
    readonly pacedWake?: {
      readonly requests?: number;
      readonly on?: { readonly summary?: AnswerPercentiles };
      readonly off?: { readonly summary?: AnswerPercentiles; readonly slowStart?: string };
    };
  };
}

/** The percentiles of a set of timed answers, as the activator scenario's part 4 records them. */
interface AnswerPercentiles {
  readonly count?: number;
  readonly p50?: number;
  readonly p99?: number;
}

const ACTIVATOR_PATHS = [
  { path: 'direct', name: 'queue-proxy' },
  { path: 'activator', name: 'activator → queue-proxy' },
];

function activatorCharts(record: ActivatorRecord): ScenarioChart[] {
  const levels = levelsOf(record);
  const cells = record.cells ?? [];
  const at = (path: string, level: number) => cells.find((c) => c.path === path && c.connections === level);
  const charts: ScenarioChart[] = [];
  if (cells.length > 0) {
    charts.push(
      {
        kind: 'latency',
        figure: latencyFigure({
          title: 'activator: latency percentiles',
          subtitle: runLine(record, 'Straight to the queue-proxy, and through the activator to it.'),
          levels,
          levelLabel: connectionsLabel,
          series: ACTIVATOR_PATHS.map((p) => p.name),
          latency: (i, level) => at(ACTIVATOR_PATHS[i]!.path, level)?.load?.latencyMs,
        }),
      },
      {
        kind: 'cpu',
        figure: cpuFigure({
          title: 'activator: CPU per request',
          subtitle: runLine(
            record,
            'Label: the activator ÷ the queue-proxy behind it in the same run (target ≤ 1.30×).',
          ),
          unit: 'request',
          levels: levels.map(connectionsLabel),
          series: [
            {
              name: 'queue-proxy, straight',
              micros: levels.map((l) => micros(at('direct', l)?.queueProxy?.cpuSecondsPer10k)),
            },
            {
              name: 'queue-proxy, behind the activator',
              micros: levels.map((l) => micros(at('activator', l)?.queueProxy?.cpuSecondsPer10k)),
            },
            {
              name: 'activator',
              micros: levels.map((l) => micros(at('activator', l)?.activator?.cpuSecondsPer10k)),
              ratios: levels.map((l) =>
                ratioOf(
                  at('activator', l)?.activator?.cpuSecondsPer10k,
                  at('activator', l)?.queueProxy?.cpuSecondsPer10k,
                ),
              ),
            },
          ],
          colors: [0, 2, 1],
        }),
      },
    );
  }
  const memory = record.memory;
  if (memory?.idle !== undefined && memory.held !== undefined) {
    const row = (name: string, reading: MemoryReading): MemoryRow => ({
      name,
      mib: { RSS: mib(reading.rssKiB), RssAnon: mib(reading.rssAnonKiB), PSS: mib(reading.pssKiB) },
    });
    charts.push({
      kind: 'memory',
      figure: memoryFigure({
        title: 'activator: memory, idle and holding requests at zero',
        subtitle: runLine(record, 'A fresh activator, its revision at zero.'),
        measures: ['RSS', 'RssAnon', 'PSS'],
        rows: [
          row('idle, revision at zero', memory.idle),
          row(`${(memory.heldRequests ?? 0).toLocaleString('en-US')} requests held`, memory.held),
        ],
      }),
    });
  }
  const trials = record.held?.trials ?? [];
  if (trials.length > 0) {
    const summary = (values: (number | undefined)[]) => {
      const known = values.filter((v): v is number => v !== undefined);
      return { median: percentile(known, 50), whisker: percentile(known, 99) };
    };
    const target = record.targets?.heldP99Ms;
    charts.push({
      kind: 'held',
      figure: medianFigure({
        title: `activator: a request held at zero, forwarded (${trials.length} trials)`,
        subtitle: runLine(
          record,
          'Each trial starts a new Pod (app + queue-proxy) while one request is held.',
        ),
        series: ['median'],
        valueLabel: 'ms',
        whiskerLabel: 'p99',
        rows: [
          { label: 'Pod ready → response', ...summary(trials.map((t) => t.readyToResponseMs)) },
          { label: 'endpoint written → response', ...summary(trials.map((t) => t.endpointsToResponseMs)) },
          { label: 'Pod start → ready', ...summary(trials.map((t) => t.podStartMs)) },
        ],
        ...(target === undefined
          ? {}
          : { target: { value: target, label: `target: Pod ready → response p99 ≤ ${target} ms` } }),
      }),
    });
  }
  charts.push(...holdingCharts(record));
  return charts;
}

/** The activator's part 4: revision B's latency alone and during a flood of A, and the paced wake. */
function holdingCharts(record: ActivatorRecord): ScenarioChart[] {
  const charts: ScenarioChart[] = [];
  const row = (label: string, s: AnswerPercentiles, series = 0) => ({
    label,
    median: s.p50,
    whisker: s.p99,
    series,
  });
  const fairness = record.holding?.fairness;
  if (fairness?.aloneSummary !== undefined && fairness.duringFloodSummary !== undefined) {
    charts.push({
      kind: 'fairness',
      figure: medianFigure({
        title: 'activator: revision B while revision A floods the held-request cap',
        subtitle: runLine(
          record,
          `B's ${fairness.aloneSummary.count ?? ''} sequential requests to its ready Pod, alone and during a flood of 5,000 requests for A at zero.`,
        ),
        series: ['B alone', 'B during the flood'],
        valueLabel: 'ms',
        whiskerLabel: 'p99',
        decimals: 3,
        rows: [
          row('alone', fairness.aloneSummary, 0),
          row('during a flood of A', fairness.duringFloodSummary, 1),
        ],
      }),
    });
  }
  const wake = record.holding?.pacedWake;
  if (wake?.on?.summary !== undefined && wake.off?.summary !== undefined) {
    charts.push({
      kind: 'wake',
      figure: medianFigure({
        title: `activator: ${wake.requests ?? ''} requests held at zero, woken into a Pod of an app that slows with load`,
        subtitle: runLine(
          record,
          'Each answer from the Pod ready to its head; slow start on (default) and off.',
        ),
        series: ['slow start on', 'slow start off'],
        valueLabel: 'ms',
        whiskerLabel: 'p99',
        decimals: 0,
        rows: [
          row('slow start on (1s, default)', wake.on.summary, 0),
          row(`slow start off (${wake.off.slowStart ?? '0s'})`, wake.off.summary, 1),
        ],
      }),
    });
  }
  return charts;
}

// ---- h2c ----------------------------------------------------------------------------------------

interface H2cRow {
  readonly label: string;
  readonly kind: string;
  readonly queueProxy?: ProcessFigures;
  readonly activator?: ProcessFigures;
}

interface H2cRecord extends RunRecord {
  readonly cells?: readonly {
    readonly path: string;
    readonly inFlight: number;
    readonly load?: LoadFigures;
  }[];
  readonly derived?: Readonly<Record<string, readonly H2cRow[]>>;
}

/** The `cells` path of a derived h2c row. */
function h2cPath(row: H2cRow): string {
  return row.kind === 'knative' || row.kind === 'compare' ? `compare:${row.label}` : row.kind;
}

function h2cCharts(record: H2cRecord): ScenarioChart[] {
  const levels = levelsOf(record);
  const rowsAt = (level: number) => record.derived?.[String(level)] ?? [];
  const rows = rowsAt(levels[0] ?? 0);
  if (rows.length === 0) return [];
  const cell = (row: H2cRow, level: number) =>
    record.cells?.find((c) => c.path === h2cPath(row) && c.inFlight === level);
  const rowAt = (row: H2cRow, level: number) => rowsAt(level).find((r) => r.label === row.label);
  const ours = rows.find((r) => r.kind === 'queue-proxy');
  const activator = rows.find((r) => r.kind === 'activator');
  const compared = rows.filter((r) => r.kind === 'knative' || r.kind === 'compare');
  const knative = compared.find((r) => r.kind === 'knative');
  const qpMicros = (row: H2cRow | undefined, level: number) =>
    row === undefined ? undefined : micros(rowAt(row, level)?.queueProxy?.cpuSecondsPer10k);
  const series: CpuSeries[] = [];
  // Each process in its latency chart's colour; the queue-proxy behind the activator in the next free one.
  const colors: number[] = [];
  const colorOfRow = (row: H2cRow) => rows.indexOf(row);
  if (ours !== undefined) colors.push(colorOfRow(ours));
  if (activator !== undefined) colors.push(rows.length, colorOfRow(activator));
  for (const row of compared) colors.push(colorOfRow(row));
  if (ours !== undefined)
    series.push({
      name: 'queue-proxy',
      micros: levels.map((l) => qpMicros(ours, l)),
      ...(knative === undefined
        ? {}
        : { ratios: levels.map((l) => ratioOf(qpMicros(ours, l), qpMicros(knative, l))) }),
    });
  if (activator !== undefined) {
    const actMicros = (l: number) => micros(rowAt(activator, l)?.activator?.cpuSecondsPer10k);
    series.push(
      { name: 'queue-proxy, behind the activator', micros: levels.map((l) => qpMicros(activator, l)) },
      {
        name: 'activator',
        micros: levels.map(actMicros),
        ratios: levels.map((l) => ratioOf(actMicros(l), qpMicros(activator, l))),
      },
    );
  }
  for (const row of compared) series.push({ name: row.label, micros: levels.map((l) => qpMicros(row, l)) });
  const top = levels[levels.length - 1] ?? 0;
  return [
    {
      kind: 'latency',
      figure: latencyFigure({
        title: 'h2c: unary gRPC call latency percentiles',
        subtitle: runLine(record, 'Calls that ended OK; N calls in flight on one HTTP/2 connection.'),
        levels,
        levelLabel: callsLabel,
        series: rows.map((r) => r.label),
        latency: (i, level) => cell(rows[i]!, level)?.load?.latencyMs,
      }),
    },
    {
      kind: 'cpu',
      figure: cpuFigure({
        title: 'h2c: CPU per gRPC call',
        subtitle: runLine(
          record,
          `Labels: ${knative === undefined ? '' : 'the queue-proxy ÷ Knative’s; '}the activator ÷ the queue-proxy behind it.`,
        ),
        unit: 'call',
        levels: levels.map(callsLabel),
        series,
        colors,
      }),
    },
    {
      kind: 'memory',
      figure: memoryFigure({
        title: `h2c: memory under load at ${callsLabel(top)}`,
        subtitle: runLine(record, 'The highest sample of the run; each process tree.'),
        measures: MEMORY_LOADED,
        rows: rowsAt(top)
          .filter((r) => r.kind !== 'direct')
          .map((r) => ({
            name: r.kind === 'activator' ? 'activator' : r.label,
            mib: loadedMemory(r.kind === 'activator' ? r.activator : r.queueProxy),
          })),
      }),
    },
  ];
}

// ---- cold-start ---------------------------------------------------------------------------------

interface ColdStartRecord extends RunRecord {
  readonly trials?: readonly Trial[];
}

function coldStartCharts(record: ColdStartRecord): ScenarioChart[] {
  const trials = record.trials ?? [];
  if (trials.length === 0) return [];
  const known = (values: readonly (number | undefined)[]) =>
    values.filter((v): v is number => v !== undefined);
  const rows: Span[] = [];
  let offset = 0;
  for (const stage of STAGES) {
    const spans = known(trials.map(stage.span));
    const median = percentile(spans, 50) ?? 0;
    const p99 = percentile(spans, 99);
    rows.push({
      label: stage.name,
      from: offset,
      to: offset + median,
      ...(p99 === undefined ? {} : { whisker: offset + p99 }),
      series: 0,
      note: `${formatValue(median)} ms`,
    });
    offset += median;
  }
  const totals = trials.map((t) => t.firstByte - t.sent);
  const total = percentile(totals, 50);
  const totalP99 = percentile(totals, 99);
  rows.push({
    label: 'total',
    from: 0,
    to: total ?? Number.NaN,
    ...(totalP99 === undefined ? {} : { whisker: totalP99 }),
    series: 1,
    note: `${formatValue(total)} ms`,
  });
  return [
    {
      kind: 'stages',
      figure: {
        title: `cold-start: request at zero → first response byte (${trials.length} trials)`,
        subtitle: runLine(
          record,
          'Each stage starts where the one above ends (stage medians); whiskers reach each stage’s p99.',
        ),
        series: ['stage, median', 'total, median'],
        panels: [
          {
            kind: 'spans',
            title: '',
            valueLabel: 'ms since the request was sent',
            rows,
            whiskerLabel: 'p99',
          },
        ],
      },
    },
  ];
}

// ---- wakes --------------------------------------------------------------------------------------

interface WakesRecord extends RunRecord {
  readonly wakes?: readonly Wake[];
}

function wakesCharts(record: WakesRecord): ScenarioChart[] {
  const wakes = record.wakes ?? [];
  if (wakes.length === 0) return [];
  const kinds = WAKE_KINDS.filter((kind) => wakes.some((w) => w.kind === kind));
  const failed = wakes.filter((w) => !succeeded(w)).length;
  return [
    {
      kind: 'wake',
      figure: medianFigure({
        title: `wakes: ready → first response byte (${wakes.length} wakes at zero, ${failed} non-2xx)`,
        subtitle: runLine(
          record,
          "From the later of the Pod's readiness and the app's handler accepting; whiskers reach the p99.",
        ),
        series: ['median'],
        valueLabel: 'ms from ready to the first response byte',
        whiskerLabel: 'p99',
        target: { value: TARGETS.p50, label: `p50 target ${TARGETS.p50} ms` },
        rows: kinds.map((kind) => {
          const spans = wakes
            .filter((w) => w.kind === kind && succeeded(w))
            .flatMap((w) => {
              const v = readyToResponse(w);
              return v === undefined ? [] : [v];
            });
          return { label: kind, median: percentile(spans, 50), whisker: percentile(spans, 99) };
        }),
      }),
    },
  ];
}

// ---- startup ------------------------------------------------------------------------------------

interface StartupRecord extends RunRecord {
  readonly targetMs?: number;
  readonly startsMs?: Readonly<Record<string, readonly number[]>>;
}

function startupCharts(record: StartupRecord): ScenarioChart[] {
  const starts = Object.entries(record.startsMs ?? {});
  if (starts.length === 0) return [];
  const counts = new Set(starts.map(([, ms]) => ms.length));
  return [
    {
      kind: 'starts',
      figure: medianFigure({
        title: `startup: process spawned → ready (${[...counts].join('/')} starts each)`,
        subtitle: runLine(record),
        series: ['median'],
        valueLabel: 'ms from spawn to the first 200 to a readiness probe',
        whiskerLabel: 'p90',
        rows: starts.map(([label, ms]) => ({
          label,
          median: percentile(ms, 50),
          whisker: percentile(ms, 90),
        })),
        ...(record.targetMs === undefined
          ? {}
          : { target: { value: record.targetMs, label: `target ≤ ${record.targetMs} ms` } }),
      }),
    },
  ];
}

// ---- responsiveness -----------------------------------------------------------------------------

interface ResponsivenessRecord extends RunRecord {
  readonly trials?: number;
  readonly measures?: readonly {
    readonly label: string;
    readonly setting?: string;
    readonly summaryMs?: { readonly median?: number; readonly p99?: number };
  }[];
}

function responsivenessCharts(record: ResponsivenessRecord): ScenarioChart[] {
  const measures = record.measures ?? [];
  if (measures.length === 0) return [];
  return [
    {
      kind: 'trials',
      figure: medianFigure({
        title: `responsiveness: the queue-proxy (${record.trials ?? '?'} trials each)`,
        subtitle: runLine(record, '504s: the time past the 1 s deadline.'),
        series: ['median'],
        valueLabel: 'ms',
        whiskerLabel: 'p99',
        rows: measures.map((m) => ({
          label: m.label,
          median: m.summaryMs?.median,
          whisker: m.summaryMs?.p99,
        })),
        decimals: 3,
      }),
    },
  ];
}

// ---- in-process ---------------------------------------------------------------------------------

interface InProcessRow {
  readonly label: string;
  readonly kind: string;
  readonly cpuMicrosPerRequest?: number;
  readonly rssIdleMiB?: number;
  readonly rssAnonIdleMiB?: number;
  readonly rssLoadedMiB?: number;
  readonly rssAnonLoadedMiB?: number;
}

interface InProcessRecord extends RunRecord {
  readonly pods?: readonly {
    readonly label: string;
    readonly cells?: readonly { readonly connections: number; readonly load?: LoadFigures }[];
  }[];
  readonly rows?: Readonly<Record<string, readonly InProcessRow[]>>;
}

function inProcessCharts(record: InProcessRecord): ScenarioChart[] {
  const levels = levelsOf(record);
  const pods = record.pods ?? [];
  const rowsAt = (level: number) => record.rows?.[String(level)] ?? [];
  const labels = pods.map((p) => p.label);
  if (pods.length === 0) return [];
  const rowOf = (label: string, level: number) => rowsAt(level).find((r) => r.label === label);
  const bareOf = (level: number) => rowsAt(level).find((r) => r.kind === 'bare');
  const top = levels[levels.length - 1] ?? 0;
  return [
    {
      kind: 'latency',
      figure: latencyFigure({
        title: 'in-process: latency percentiles, the hello app as a Pod three ways',
        subtitle: runLine(record),
        levels,
        levelLabel: connectionsLabel,
        series: labels,
        latency: (i, level) => pods[i]?.cells?.find((c) => c.connections === level)?.load?.latencyMs,
      }),
    },
    {
      kind: 'cpu',
      figure: cpuFigure({
        title: 'in-process: CPU per request of the whole Pod',
        subtitle: runLine(record, 'Labels: ÷ the bare app (below 1: uses less).'),
        unit: 'request',
        levels: levels.map(connectionsLabel),
        series: labels.map((label) => ({
          name: label,
          micros: levels.map((l) => rowOf(label, l)?.cpuMicrosPerRequest),
          ratios: levels.map((l) =>
            rowOf(label, l)?.kind === 'bare'
              ? undefined
              : ratioOf(rowOf(label, l)?.cpuMicrosPerRequest, bareOf(l)?.cpuMicrosPerRequest),
          ),
        })),
      }),
    },
    {
      kind: 'memory',
      figure: memoryFigure({
        title: `in-process: memory of the Pod, idle and under load at ${connectionsLabel(top)}`,
        subtitle: runLine(record, 'Summed over the Pod’s processes; under load: each one’s highest sample.'),
        measures: ['RSS idle', 'RssAnon idle', 'RSS under load', 'RssAnon under load'],
        rows: labels.map((label) => {
          const row = rowOf(label, top);
          return {
            name: label,
            mib: {
              'RSS idle': row?.rssIdleMiB,
              'RssAnon idle': row?.rssAnonIdleMiB,
              'RSS under load': row?.rssLoadedMiB,
              'RssAnon under load': row?.rssAnonLoadedMiB,
            },
          };
        }),
      }),
    },
  ];
}

// ---- activator-cluster --------------------------------------------------------------------------

interface ClusterCell {
  readonly plane: string;
  readonly path: string;
  readonly load?: LoadFigures;
  readonly activator?: ProcessFigures;
  readonly queueProxy?: ProcessFigures;
}

interface ClusterRecord extends RunRecord {
  readonly cells?: readonly ClusterCell[];
}

const PLANE_NAMES: Readonly<Record<string, string>> = { ours: 'ours', knative: 'Knative' };

function activatorClusterCharts(record: ClusterRecord): ScenarioChart[] {
  const levels = levelsOf(record);
  const cells = record.cells ?? [];
  if (cells.length === 0) return [];
  const planes = [...new Set(cells.map((c) => c.plane))];
  const at = (plane: string, path: string, level: number) =>
    cells.find((c) => c.plane === plane && c.path === path && c.load?.connections === level);
  const paths = planes.flatMap((plane) =>
    ACTIVATOR_PATHS.map(({ path, name }) => ({
      plane,
      path,
      name: `${PLANE_NAMES[plane] ?? plane}: ${name}`,
    })),
  );
  const reference = planes.includes('knative') ? 'knative' : undefined;
  const cpu = (plane: string, which: 'activator' | 'queueProxy', level: number) => {
    const path = which === 'activator' ? 'activator' : 'direct';
    return micros(at(plane, path, level)?.[which]?.cpuSecondsPer10k);
  };
  const series: CpuSeries[] = planes.flatMap((plane) =>
    (['queueProxy', 'activator'] as const).map((which) => ({
      name: `${PLANE_NAMES[plane] ?? plane}: ${which === 'activator' ? 'activator' : 'queue-proxy'}`,
      micros: levels.map((l) => cpu(plane, which, l)),
      ...(reference === undefined || plane === reference
        ? {}
        : { ratios: levels.map((l) => ratioOf(cpu(plane, which, l), cpu(reference, which, l))) }),
    })),
  );
  const top = levels[levels.length - 1] ?? 0;
  return [
    {
      kind: 'latency',
      figure: latencyFigure({
        title: 'activator-cluster: latency percentiles, each data plane on a real control plane',
        subtitle: runLine(record, 'Straight to the Pod’s queue-proxy, and through the activator’s Pod.'),
        levels,
        levelLabel: connectionsLabel,
        series: paths.map((p) => p.name),
        latency: (i, level) => at(paths[i]!.plane, paths[i]!.path, level)?.load?.latencyMs,
      }),
    },
    {
      kind: 'cpu',
      figure: cpuFigure({
        title: 'activator-cluster: CPU per request',
        subtitle: runLine(
          record,
          'queue-proxy: on the straight path; activator: on its path. Labels: ours ÷ Knative’s.',
        ),
        unit: 'request',
        levels: levels.map(connectionsLabel),
        series,
      }),
    },
    {
      kind: 'memory',
      figure: memoryFigure({
        title: `activator-cluster: memory under load at ${connectionsLabel(top)}`,
        subtitle: runLine(record, 'The container processes, read from /proc around the measured run.'),
        measures: ['RSS under load', 'RssAnon under load'],
        rows: planes.flatMap((plane) => [
          {
            name: `${PLANE_NAMES[plane] ?? plane}: activator`,
            mib: loadedMemory(at(plane, 'activator', top)?.activator),
          },
          {
            name: `${PLANE_NAMES[plane] ?? plane}: queue-proxy`,
            mib: loadedMemory(at(plane, 'direct', top)?.queueProxy),
          },
        ]),
      }),
    },
  ];
}

// ---- chaos --------------------------------------------------------------------------------------

interface ChaosRecord extends RunRecord {
  readonly rows?: readonly {
    readonly scenario: string;
    readonly component?: string;
    readonly recovery?: {
      readonly firstSuccessMs?: number;
      readonly steadyMs?: number;
      readonly targetMs?: number;
    };
    readonly peakRssKiB?: number;
    readonly rssCapKiB?: number;
  }[];
}

/** The component a chaos row's memory belongs to, for its colour: `queue-proxy (killed)` → `queue-proxy`. */
function componentOf(component: string | undefined): string {
  return (component ?? 'other').replace(/\s*\(.*\)$/, '');
}

function chaosCharts(record: ChaosRecord): ScenarioChart[] {
  const rows = record.rows ?? [];
  const charts: ScenarioChart[] = [];
  const recovered = rows.filter((r) => r.recovery?.firstSuccessMs !== undefined);
  if (recovered.length > 0) {
    const targets = new Set(recovered.map((r) => r.recovery?.targetMs));
    const [target] = targets;
    charts.push({
      kind: 'recovery',
      figure: {
        title: 'chaos: recovery after each fault',
        subtitle: runLine(
          record,
          'Bar: the fault → the first success of a request sent after it' +
            (recovered.some((r) => (r.recovery?.steadyMs ?? 0) > (r.recovery?.firstSuccessMs ?? 0))
              ? '; whisker: → the end of the last failure, after which every request succeeded.'
              : '; no request failed after it.'),
        ),
        series: ['first success'],
        panels: [
          {
            kind: 'spans',
            title: '',
            valueLabel: 'ms after the fault',
            whiskerLabel: 'steady',
            rows: recovered.map((r): Span => {
              const first = r.recovery?.firstSuccessMs ?? 0;
              const steady = r.recovery?.steadyMs;
              return {
                label: r.scenario,
                from: 0,
                to: first,
                ...(steady !== undefined && steady > first ? { whisker: steady } : {}),
                series: 0,
                note: `${first.toFixed(0)} ms (target ≤ ${r.recovery?.targetMs ?? '?'})`,
              };
            }),
            ...(targets.size === 1 && target !== undefined
              ? { reference: { value: target, label: `target ≤ ${target} ms` } }
              : {}),
          },
        ],
      },
    });
  }
  const measured = rows.filter((r) => r.peakRssKiB !== undefined);
  if (measured.length > 0) {
    const components = [...new Set(measured.map((r) => componentOf(r.component)))];
    charts.push({
      kind: 'memory',
      figure: {
        title: 'chaos: the highest RSS of the component under each fault, against its cap',
        subtitle: runLine(record, 'The component’s whole process tree, sampled through the run.'),
        series: components,
        panels: [
          {
            kind: 'spans',
            title: '',
            valueLabel: 'peak RSS, MiB',
            limitLabel: 'the component’s RSS cap',
            rows: measured.map((r): Span => {
              const peak = (r.peakRssKiB ?? 0) / 1024;
              const cap = r.rssCapKiB === undefined ? undefined : r.rssCapKiB / 1024;
              return {
                label: r.scenario,
                from: 0,
                to: peak,
                series: components.indexOf(componentOf(r.component)),
                note: `${peak.toFixed(1)} MiB${cap === undefined ? '' : ` (cap ${cap.toFixed(0)})`}`,
                ...(cap === undefined ? {} : { limit: cap }),
              };
            }),
          },
        ],
      },
    });
  }
  return charts;
}

const BUILDERS: Readonly<Record<string, (record: RunRecord) => ScenarioChart[]>> = {
  chaos: chaosCharts,
  'queue-proxy': queueProxyCharts,
  activator: activatorCharts,
  h2c: h2cCharts,
  'cold-start': coldStartCharts,
  wakes: wakesCharts,
  startup: startupCharts,
  responsiveness: responsivenessCharts,
  'in-process': inProcessCharts,
  'activator-cluster': activatorClusterCharts,
};

/** The charts of a run, from its JSON record; none for a scenario without charts. */
export function scenarioCharts(record: RunRecord): ScenarioChart[] {
  return BUILDERS[record.scenario]?.(record) ?? [];
}
