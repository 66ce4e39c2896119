/**
 * The chaos suite's options and its report: setup lines, the summary table with the scenarios' own
 * tables, and the notes under it (targets, each scenario's definition of a lost request, details).
 */
import type { Table } from '../table.js';
import { type ChaosScenario, IMMEDIATE_MS, RSS_CAPS_KIB } from './chaos-scenario.js';
import { summaryTable, verdictCounts } from './chaos-table.js';
import type { ChaosRun } from './runner.js';

/** The suite's options, checked. */
export interface ChaosOptions {
  /** Scenario names to run; undefined runs them all. */
  readonly only: readonly string[] | undefined;
  readonly quick: boolean;
  readonly summary: boolean;
}

/**
 * Checks the parsed command line against the scenario names: `--only` takes names, repeated or
 * comma-separated; an unknown name is an error naming it and the known ones.
 */
export function parseChaosOptions(
  values: { readonly only?: readonly string[]; readonly quick?: boolean; readonly summary?: boolean },
  names: readonly string[],
): ChaosOptions {
  let only: string[] | undefined;
  if (values.only !== undefined) {
    only = values.only
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
    const unknown = only.filter((name) => !names.includes(name));
    if (unknown.length > 0 || only.length === 0) {
      throw new Error(
        `--only: unknown scenario ${unknown.map((n) => JSON.stringify(n)).join(', ') || '(none given)'}; known: ${names.join(', ')}`,
      );
    }
  }
  return { only, quick: values.quick === true, summary: values.summary !== false };
}

/** About the run, for the setup lines. */
export interface RunFacts {
  readonly machine: string;
  readonly node: string;
  readonly quick: boolean;
  readonly seconds: number;
}

/** The report of a run: `key: value` setup lines, tables, and notes. */
export interface ChaosReport {
  readonly setup: (readonly [string, string])[];
  readonly tables: Table[];
  readonly notes: string[];
}

const mib = (kib: number) => `${Math.round(kib / 1024)} MiB`;

/** Assembles the report of `run`, whose scenarios were `scenarios`. */
export function renderReport(
  run: ChaosRun,
  scenarios: readonly ChaosScenario[],
  facts: RunFacts,
): ChaosReport {
  const counts = verdictCounts(run.rows);
  return {
    setup: [
      ['Machine', facts.machine],
      ['Node', facts.node],
      [
        'Run',
        `${facts.quick ? 'quick' : 'full'} mode, ${scenarios.length} scenarios in ${Math.round(facts.seconds)} s, unpinned; ` +
          `every process on 127.0.0.1`,
      ],
      ['Verdicts', `${counts.pass} pass, ${counts.fail} fail, ${counts.error} did not finish`],
    ],
    tables: [summaryTable(run.rows), ...run.tables],
    notes: [
      'Targets: no request lost that the process that died had not yet accepted; every refusal an immediate ' +
        `(≤ ${IMMEDIATE_MS} ms) 503 with Retry-After; peak RSS under its cap (queue-proxy ${mib(RSS_CAPS_KIB['queue-proxy'])}, ` +
        `activator ${mib(RSS_CAPS_KIB.activator)}, autoscaler ${mib(RSS_CAPS_KIB.autoscaler)}); recovery within the revision's ` +
        'probe period (1 s on the local platform) plus one second.',
      'Outcomes: `2xx`, each other status seen, `reset` (connection closed or reset without an answer), `refused` ' +
        '(nothing listening), `timeout` (no answer within the client limit), `closed` (closed without an answer where ' +
        'that is an accepted refusal), `held` (still held when the scenario stopped waiting), `error` (anything else).',
      'Recovery: from the fault to the first success of a request sent after it / to the end of the last failed ' +
        'request, after which every request succeeded (`never`: the run ended still failing).',
      ...scenarios.map((s) => `Lost in \`${s.name}\`: ${s.lossDefinition}.`),
      ...run.details,
    ],
  };
}
