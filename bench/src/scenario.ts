/**
 * The contract between the command line and a benchmark scenario. Each scenario is one module in
 * `scenarios/` exporting a {@link Scenario}; the command line owns the shared options, pinning,
 * process clean-up, printing and result files.
 */
import type { ParseArgsOptionsConfig } from 'node:util';
import type { PinPlan } from './pinning.js';
import type { Supervisor } from './supervisor.js';
import type { Table } from './table.js';

/** Settings shared by every scenario, parsed from the common options. */
export interface RunSettings {
  /** Measured seconds per cell. */
  readonly durationSeconds: number;
  /** Warm-up seconds before each measured run, discarded. */
  readonly warmupSeconds: number;
  /** Keep-alive connection counts to measure at. */
  readonly connections: readonly number[];
  readonly pin: PinPlan;
  /** Absolute path of the repository root. */
  readonly repoRoot: string;
}

/** What a running scenario is given. */
export interface ScenarioContext {
  readonly settings: RunSettings;
  /** Starts child processes; everything started through it is stopped when the run ends. */
  readonly supervisor: Supervisor;
  /** Reports progress (to stderr, keeping stdout for the results). */
  readonly progress: (message: string) => void;
}

/** What a scenario hands back. */
export interface ScenarioReport {
  /** `key: value` lines describing the setup, printed above the tables and kept in RESULTS.md. */
  readonly setup: readonly (readonly [string, string])[];
  readonly tables: readonly Table[];
  /** Short explanations printed below the tables. */
  readonly notes: readonly string[];
  /** Every figure, written to the JSON result file. */
  readonly data: unknown;
}

/** A scenario whose options have been parsed and checked, ready to run. */
export interface PreparedScenario {
  /** Upper bound on the run's length in seconds; the run is aborted past it. */
  readonly budgetSeconds: number;
  run(context: ScenarioContext): Promise<ScenarioReport>;
}

/** Parsed option values as `node:util` `parseArgs` returns them. */
export type OptionValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/** One benchmark scenario. */
export interface Scenario {
  readonly name: string;
  /** One line for the usage text. */
  readonly description: string;
  /** The scenario's own options, merged with the common ones. */
  readonly options: ParseArgsOptionsConfig;
  /** Usage lines for the scenario's own options. */
  readonly usage: readonly string[];
  /** Never pin: the scenario measures a whole system of processes as it runs unpinned. */
  readonly unpinned?: boolean;
  /** Runs in a network namespace of its own (packages/cluster/netns.sh), as the cluster tests do. */
  readonly netns?: boolean;
  /** Checks the scenario's options; throws an error naming the option when one is wrong. */
  prepare(values: OptionValues, settings: RunSettings): PreparedScenario;
}
