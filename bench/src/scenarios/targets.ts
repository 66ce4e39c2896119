/**
 * The project's performance targets for the queue-proxy, as ratios to Knative's queue-proxy measured
 * beside ours in one run (`--compare knative`), and a run's verdict on each: the `Targets` table of
 * the `queue-proxy` and `h2c` scenarios.
 *
 * HTTP/1.1 (`queue-proxy`), at CC=0 and at CC=10: CPU per request at most 0.6× Knative's at 1, 10
 * and 100 connections; throughput at least 1.5× at 10; RssAnon and RSS under load at most 2× at 10
 * and 100. h2c (`h2c`, gRPC calls, CC=0): CPU per call at most 0.7× at 1, 10 and 100 calls in
 * flight (streams on one connection); RssAnon and RSS under load at most 2× at 10 and 100. Side by
 * side in one run, because only the ratio survives a machine that is busier one minute than the next.
 */
import { NONE, type Table, times } from '../table.js';
import type { KnativeRatios } from './compare.js';

/** The ours ÷ Knative's figures a target can bound. */
export type TargetRatio = 'throughput' | 'cpuPerRequest' | 'rssLoaded' | 'rssAnonLoaded';

/** One target: a ratio, the side it must stay on, and the loads it applies at. */
export interface PerformanceTarget {
  readonly ratio: TargetRatio;
  /** `max`: the ratio must be at most `limit` (costs); `min`: at least `limit` (throughput). */
  readonly bound: 'max' | 'min';
  readonly limit: number;
  /** The connection counts (`queue-proxy`) or calls in flight (`h2c`) it applies at. */
  readonly counts: readonly number[];
}

/** A scenario's targets and how its loads are named. */
export interface ScenarioTargets {
  /** What a load counts, in the table: `conn` (HTTP/1.1 connections) or `stream` (calls in flight). */
  readonly countUnit: 'conn' | 'stream';
  /** What a request is, in the ratio names: `req` or `call`. */
  readonly unit: 'req' | 'call';
  /** The container concurrencies every target applies at; absent where the scenario has one. */
  readonly ccs?: readonly number[];
  readonly targets: readonly PerformanceTarget[];
}

/** The targets of the `queue-proxy` scenario (HTTP/1.1). */
export const QUEUE_PROXY_TARGETS: ScenarioTargets = {
  countUnit: 'conn',
  unit: 'req',
  ccs: [0, 10],
  targets: [
    { ratio: 'cpuPerRequest', bound: 'max', limit: 0.6, counts: [1, 10, 100] },
    { ratio: 'throughput', bound: 'min', limit: 1.5, counts: [10] },
    { ratio: 'rssAnonLoaded', bound: 'max', limit: 2, counts: [10, 100] },
    { ratio: 'rssLoaded', bound: 'max', limit: 2, counts: [10, 100] },
  ],
};

/** The targets of the `h2c` scenario (unary gRPC calls over h2c, CC=0). */
export const H2C_TARGETS: ScenarioTargets = {
  countUnit: 'stream',
  unit: 'call',
  targets: [
    { ratio: 'cpuPerRequest', bound: 'max', limit: 0.7, counts: [1, 10, 100] },
    { ratio: 'rssAnonLoaded', bound: 'max', limit: 2, counts: [10, 100] },
    { ratio: 'rssLoaded', bound: 'max', limit: 2, counts: [10, 100] },
  ],
};

/** Ours ÷ Knative's at one load, as a scenario measured it. */
export interface TargetMeasurement {
  /** Connections or calls in flight. */
  readonly count: number;
  /** Container concurrency, where the scenario has several. */
  readonly cc?: number;
  readonly ratios: KnativeRatios;
}

/** `met`, `missed`, or `not measured` when the run has no ratio at that load. */
export type Verdict = 'met' | 'missed' | 'not measured';

/** One target at one load: what was measured and the verdict. */
export interface TargetVerdict {
  /** The target as the table shows it, e.g. `CPU ×kn ≤ 0.6`. */
  readonly target: string;
  /** The load as the table shows it, e.g. `10 conns CC=0`. */
  readonly load: string;
  readonly ratio: TargetRatio;
  readonly bound: 'max' | 'min';
  readonly limit: number;
  readonly count: number;
  readonly cc: number | null;
  /** Ours ÷ Knative's; null when not measured. */
  readonly value: number | null;
  readonly verdict: Verdict;
}

/** The column name of each ratio in the Knative tables. */
function ratioName(ratio: TargetRatio, unit: 'req' | 'call'): string {
  switch (ratio) {
    case 'throughput':
      return `${unit === 'req' ? 'req/s' : 'calls/s'} ×kn`;
    case 'cpuPerRequest':
      return 'CPU ×kn';
    case 'rssLoaded':
      return 'RSS ×kn';
    case 'rssAnonLoaded':
      return 'RssAnon ×kn';
  }
}

/**
 * The verdict on one ratio. The ratio is judged as the tables print it, to two decimals: a CPU
 * ratio printed `0.60×` meets `≤ 0.6` whatever the third decimal, which no run measures anyway.
 */
export function judge(
  target: Pick<PerformanceTarget, 'bound' | 'limit'>,
  value: number | undefined,
): Verdict {
  if (value === undefined || !Number.isFinite(value)) return 'not measured';
  const shown = Number(value.toFixed(2));
  const met = target.bound === 'max' ? shown <= target.limit : shown >= target.limit;
  return met ? 'met' : 'missed';
}

function loadLabel(spec: ScenarioTargets, count: number, cc: number | undefined): string {
  const load = `${count} ${spec.countUnit}${count === 1 ? '' : 's'}`;
  return cc === undefined ? load : `${load} CC=${cc}`;
}

/**
 * Every target of `spec` at every load it applies at (each count, at each CC), in the order the
 * targets are declared, judged on the measurement at that load; a load the run did not measure
 * (another `--connections`) is `not measured`.
 */
export function targetVerdicts(
  spec: ScenarioTargets,
  measurements: readonly TargetMeasurement[],
): TargetVerdict[] {
  const ccs: readonly (number | undefined)[] = spec.ccs ?? [undefined];
  const out: TargetVerdict[] = [];
  for (const target of spec.targets) {
    const name = `${ratioName(target.ratio, spec.unit)} ${target.bound === 'max' ? '≤' : '≥'} ${target.limit}`;
    for (const count of target.counts) {
      for (const cc of ccs) {
        const measured = measurements.find((m) => m.count === count && m.cc === cc);
        const value = measured?.ratios[target.ratio];
        out.push({
          target: name,
          load: loadLabel(spec, count, cc),
          ratio: target.ratio,
          bound: target.bound,
          limit: target.limit,
          count,
          cc: cc ?? null,
          value: value === undefined || !Number.isFinite(value) ? null : value,
          verdict: judge(target, value),
        });
      }
    }
  }
  return out;
}

/** The `Targets` table: one row per target and load, with ours ÷ Knative's and the verdict. */
export function targetsTable(verdicts: readonly TargetVerdict[]): Table {
  return {
    title: 'Targets: ours ÷ Knative’s queue-proxy',
    headers: ['target', 'load', 'ours ÷ kn', 'verdict'],
    align: ['left', 'left', 'right', 'left'],
    rows: verdicts.map((v) => [v.target, v.load, v.value === null ? NONE : times(v.value), v.verdict]),
  };
}

/** The note under the `Targets` table: how many were met. */
export function targetsNote(verdicts: readonly TargetVerdict[]): string {
  const count = (verdict: Verdict) => verdicts.filter((v) => v.verdict === verdict).length;
  const unmeasured = count('not measured');
  return (
    `Targets: ${count('met')} of ${verdicts.length} met, ${count('missed')} missed` +
    `${unmeasured > 0 ? `, ${unmeasured} not measured at this run's loads` : ''}; each ratio is judged ` +
    'as printed, to two decimals, and is only as sound as the runs it comes from (see the CPU other ' +
    'processes used, below).'
  );
}
