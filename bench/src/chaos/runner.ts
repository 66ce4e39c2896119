/**
 * Runs chaos scenarios one after another, each bounded by its time budget: a scenario that throws or
 * runs past its budget becomes a row with an error verdict, and the suite goes on with the next one.
 */

import type { Table } from '../table.js';
import { NONE } from '../table.js';
import type { ChaosContext, ChaosScenario } from './chaos-scenario.js';
import type { ChaosRow } from './chaos-table.js';
import { killPlatformLeftovers } from './local-platform.js';

/** Everything a run of the suite produced. */
export interface ChaosRun {
  readonly rows: ChaosRow[];
  /** `<scenario>: <observation>` lines. */
  readonly details: string[];
  readonly tables: Table[];
}

/** A quick run's budget is this share of the full one's. */
const QUICK_BUDGET_SHARE = 0.6;

/** The budget of one scenario in seconds, in the run's mode. */
export function scenarioBudgetSeconds(scenario: ChaosScenario, quick: boolean): number {
  return Math.ceil(scenario.budgetSeconds * (quick ? QUICK_BUDGET_SHARE : 1));
}

/** A row for a scenario that did not finish. */
export function errorRow(scenario: string, message: string): ChaosRow {
  return {
    scenario,
    component: NONE,
    sent: 0,
    outcomes: new Map(),
    lost: undefined,
    checks: [],
    error: message,
  };
}

/** Runs `scenarios` in order and collects their rows. */
export async function runScenarios(
  scenarios: readonly ChaosScenario[],
  context: ChaosContext,
): Promise<ChaosRun> {
  const run: ChaosRun = { rows: [], details: [], tables: [] };
  for (const scenario of scenarios) {
    const budget = scenarioBudgetSeconds(scenario, context.quick);
    context.progress(`${scenario.name}: ${scenario.description} (budget ${budget} s)`);
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`ran past its ${budget} s budget`)), budget * 1000);
    });
    try {
      const result = await Promise.race([scenario.run(context), overrun]);
      run.rows.push(...result.rows);
      run.details.push(...(result.details ?? []).map((line) => `${scenario.name}: ${line}`));
      run.tables.push(...(result.tables ?? []));
    } catch (err) {
      const message = (err as Error).message.split('\n')[0] ?? String(err);
      context.progress(`${scenario.name}: ${(err as Error).message}`);
      run.rows.push(errorRow(scenario.name, message));
    } finally {
      clearTimeout(timer);
      // Whatever the scenario left running goes before the next one starts.
      await context.supervisor.stopAll();
      killPlatformLeftovers();
    }
  }
  return run;
}
