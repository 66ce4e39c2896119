/**
 * The committed chart files: `bench/charts/<scenario>-<kind>.svg`, the charts of each scenario's
 * latest summarised run, written beside RESULTS.md's tables and linked from them. Also finds the
 * stored runs to draw the charts again from (`npm run bench -- --charts-only`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from './chart-kinds.js';
import { renderFigure } from './figure.js';
import { CHART_KINDS, scenarioCharts } from './scenario-charts.js';
import { xmlProblem } from './well-formed.js';

/** A chart written for a scenario: its title and its path relative to the directory of RESULTS.md. */
export interface ChartLink {
  readonly title: string;
  readonly path: string;
}

/**
 * Writes the charts of `record` to `dir` (created if needed) as `<scenario>-<kind>.svg`, removes
 * the scenario's chart files of kinds this run does not draw, so no stale chart stays linked, and
 * returns links to them under `linkBase` (the directory's path as RESULTS.md sees it).
 */
export function writeScenarioCharts(dir: string, record: RunRecord, linkBase = 'charts'): ChartLink[] {
  const charts = scenarioCharts(record);
  mkdirSync(dir, { recursive: true });
  const links: ChartLink[] = [];
  for (const { kind, figure } of charts) {
    const file = `${record.scenario}-${kind}.svg`;
    const svg = renderFigure(figure);
    const problem = xmlProblem(svg);
    if (problem !== undefined) throw new Error(`${file}: the chart is not well-formed SVG: ${problem}`);
    writeFileSync(join(dir, file), svg);
    links.push({ title: figure.title, path: `${linkBase}/${file}` });
  }
  const drawn = new Set(charts.map((c) => c.kind));
  for (const kind of CHART_KINDS) {
    // Exact names only: `activator-*` must not reach `activator-cluster-*`.
    const file = join(dir, `${record.scenario}-${kind}.svg`);
    if (!drawn.has(kind) && existsSync(file)) rmSync(file);
  }
  return links;
}

/** A stored run: its JSON file's path and content. */
export interface StoredRun {
  readonly file: string;
  readonly record: RunRecord;
}

/** Reads a run's JSON file; throws naming the file when it is not a run record. */
export function readRun(file: string): StoredRun {
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not a readable JSON file`, { cause: err });
  }
  if (typeof record !== 'object' || record === null || typeof (record as RunRecord).scenario !== 'string')
    throw new Error(`${file}: no "scenario" field, not a bench result`);
  return { file, record: record as RunRecord };
}

/**
 * The newest run of each scenario in `dir` that regenerated RESULTS.md, by the run's own date: a
 * run records `"summary": true` when it did. Files without the field (written before it existed)
 * are passed over too, since nothing tells whether their figures are the ones in RESULTS.md.
 */
export function latestSummarisedRuns(dir: string): Map<string, StoredRun> {
  const latest = new Map<string, StoredRun>();
  if (!existsSync(dir)) return latest;
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue;
    let run: StoredRun;
    try {
      run = readRun(join(dir, name));
    } catch {
      continue;
    }
    if (run.record['summary'] !== true) continue;
    const previous = latest.get(run.record.scenario);
    if (previous === undefined || (run.record.date ?? '') >= (previous.record.date ?? '')) {
      latest.set(run.record.scenario, run);
    }
  }
  return latest;
}
