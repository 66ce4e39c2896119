/**
 * The kinds of chart the scenarios share, built from figures already pulled out of a result: latency
 * percentiles per load level, CPU per request against a reference, memory per process, and
 * medians with a percentile whisker. Each returns a {@link Figure} for {@link renderFigure}.
 */
import type { Figure, Span } from './figure.js';

/** A run's JSON as written to bench/results/, as far as the charts read it. */
export interface RunRecord {
  readonly scenario: string;
  readonly date?: string;
  readonly machine?: { readonly cpu?: string; readonly cpus?: number };
  readonly settings?: {
    readonly durationSeconds?: number;
    readonly warmupSeconds?: number;
    readonly connections?: readonly number[];
  };
  readonly [key: string]: unknown;
}

/** Latency percentiles in milliseconds, keyed `p50`, `p90`, `p99`… (other keys are ignored). */
export type Percentiles = Readonly<Record<string, number | undefined>>;

/** The line under every chart's title: which run it shows, on what machine. */
export function runLine(record: RunRecord, extra?: string): string {
  const date =
    record.date === undefined ? 'unknown date' : `${record.date.slice(0, 16).replace('T', ' ')} UTC`;
  const machine =
    record.machine?.cpu === undefined ? '' : `, ${record.machine.cpu}, ${record.machine.cpus ?? '?'} CPUs`;
  return `Run of ${date}${machine}${extra === undefined ? '' : `. ${extra}`}`;
}

/** The percentile keys present in any of `sets`, in increasing order (`p50`, `p90`, `p99`). */
export function percentileKeys(sets: readonly (Percentiles | undefined)[]): string[] {
  const keys = new Set<string>();
  for (const set of sets)
    for (const [key, value] of Object.entries(set ?? {}))
      if (/^p\d+(\.\d+)?$/.test(key) && typeof value === 'number') keys.add(key);
  return [...keys].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}

/** Inputs of {@link latencyFigure}. */
export interface LatencyInput {
  readonly title: string;
  readonly subtitle: string;
  /** The load levels, one panel each (latencies differ by orders of magnitude between them). */
  readonly levels: readonly number[];
  /** The panel title of a level, e.g. `10 connections`. */
  readonly levelLabel: (level: number) => string;
  readonly series: readonly string[];
  /** The latency percentiles of series `index` at `level`, ms. */
  readonly latency: (index: number, level: number) => Percentiles | undefined;
}

/** Latency percentiles per load level: a panel per level, a group per percentile, a bar per series. */
export function latencyFigure(input: LatencyInput): Figure {
  const keys = percentileKeys(
    input.levels.flatMap((level) => input.series.map((_, i) => input.latency(i, level))),
  );
  return {
    title: input.title,
    subtitle: input.subtitle,
    series: input.series,
    panels: input.levels.map((level) => ({
      kind: 'bars',
      title: input.levelLabel(level),
      valueLabel: 'latency, ms',
      categories: keys,
      values: input.series.map((_, i) => keys.map((key) => input.latency(i, level)?.[key])),
    })),
  };
}

/** One bar series of a {@link cpuFigure}. */
export interface CpuSeries {
  readonly name: string;
  /** CPU microseconds per request (or call) at each level; undefined leaves a gap. */
  readonly micros: readonly (number | undefined)[];
  /** The ratio to the reference at each level, written above the bar; undefined for none. */
  readonly ratios?: readonly (number | undefined)[];
}

/** CPU per request per load level, a bar per process, ratios to the reference written on the bars. */
export function cpuFigure(input: {
  readonly title: string;
  readonly subtitle: string;
  readonly unit: string;
  readonly levels: readonly string[];
  readonly series: readonly CpuSeries[];
  /** Palette index of each series, to match the scenario's latency chart. */
  readonly colors?: readonly number[];
}): Figure {
  return {
    title: input.title,
    subtitle: input.subtitle,
    series: input.series.map((s) => s.name),
    ...(input.colors === undefined ? {} : { colors: input.colors }),
    panels: [
      {
        kind: 'bars',
        title: `CPU per ${input.unit} (user + system)`,
        valueLabel: `CPU µs per ${input.unit}`,
        categories: input.levels,
        values: input.series.map((s) => s.micros),
        barLabels: input.series.map((s) =>
          input.levels.map((_, i) => {
            const ratio = s.ratios?.[i];
            return ratio === undefined || !Number.isFinite(ratio) ? undefined : `${ratio.toFixed(2)}×`;
          }),
        ),
      },
    ],
  };
}

/** One process (or Pod) of a {@link memoryFigure} and its figures, MiB, by measure. */
export interface MemoryRow {
  readonly name: string;
  readonly mib: Readonly<Record<string, number | undefined>>;
}

/** Memory per process: a group per process, a bar per measure (RSS, RssAnon, PSS, idle or loaded). */
export function memoryFigure(input: {
  readonly title: string;
  readonly subtitle: string;
  readonly measures: readonly string[];
  readonly rows: readonly MemoryRow[];
}): Figure {
  const measures = input.measures.filter((m) => input.rows.some((r) => r.mib[m] !== undefined));
  return {
    title: input.title,
    subtitle: input.subtitle,
    series: measures,
    columns: 1,
    panels: [
      {
        kind: 'bars',
        title: 'Memory',
        valueLabel: 'MiB',
        categories: input.rows.map((r) => r.name),
        values: measures.map((m) => input.rows.map((r) => r.mib[m])),
      },
    ],
  };
}

/** A row of a {@link medianFigure}: a median and the percentile its whisker reaches, ms. */
export interface MedianRow {
  readonly label: string;
  readonly median: number | undefined;
  readonly whisker: number | undefined;
  readonly series?: number;
}

/** Medians as horizontal bars from zero with a percentile whisker, optionally a target line. */
export function medianFigure(input: {
  readonly title: string;
  readonly subtitle: string;
  readonly series: readonly string[];
  readonly valueLabel: string;
  readonly whiskerLabel: string;
  readonly rows: readonly MedianRow[];
  readonly target?: { readonly value: number; readonly label: string };
  /** Decimals of the figures written beside the bars, as in the scenario's table (default 1). */
  readonly decimals?: number;
}): Figure {
  const decimals = input.decimals ?? 1;
  const ms = (value: number | undefined) => (value === undefined ? '–' : value.toFixed(decimals));
  const rows: Span[] = input.rows.map((row) => ({
    label: row.label,
    from: 0,
    to: row.median ?? Number.NaN,
    ...(row.whisker === undefined ? {} : { whisker: row.whisker }),
    series: row.series ?? 0,
    note: `${ms(row.median)} ms (${input.whiskerLabel} ${ms(row.whisker)})`,
  }));
  return {
    title: input.title,
    subtitle: input.subtitle,
    series: input.series,
    panels: [
      {
        kind: 'spans',
        title: '',
        valueLabel: input.valueLabel,
        rows,
        whiskerLabel: input.whiskerLabel,
        ...(input.target === undefined ? {} : { reference: input.target }),
      },
    ],
  };
}
