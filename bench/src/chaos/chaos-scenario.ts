/**
 * The contract between the chaos runner and each chaos scenario, and the limits every scenario is
 * judged against.
 */
import type { ScenarioContext } from '../scenario.js';
import type { Table } from '../table.js';
import type { ChaosRow } from './chaos-table.js';

/** What a running chaos scenario is given. */
export interface ChaosContext extends ScenarioContext {
  /** Smaller counts and shorter phases. */
  readonly quick: boolean;
}

/** What a scenario hands back: its rows of the summary, and lines or tables of detail. */
export interface ChaosResult {
  readonly rows: readonly ChaosRow[];
  /** One-line observations printed under the summary, prefixed with the scenario's name. */
  readonly details?: readonly string[];
  readonly tables?: readonly Table[];
}

/** One chaos scenario. */
export interface ChaosScenario {
  readonly name: string;
  /** One line for the usage text. */
  readonly description: string;
  /** What counts as a lost request here, for the notes under the table. */
  readonly lossDefinition: string;
  /** Upper bound on the scenario's length in seconds (full mode); it is abandoned past it. */
  readonly budgetSeconds: number;
  run(context: ChaosContext): Promise<ChaosResult>;
}

const MIB = 1024;

/**
 * Peak resident memory caps, KiB, the suite's own, from what each component uses idle on this platform:
 * the queue-proxy about 67 MiB (cap: well over twice that), the activator about 85 MiB (twice that, plus
 * its default held-body budget, `ACTIVATOR_MAX_HELD_BYTES`, 64 MiB), the autoscaler about 170 MiB (one
 * and a half times that).
 */
export const RSS_CAPS_KIB = {
  'queue-proxy': 160 * MIB,
  activator: 256 * MIB,
  autoscaler: 256 * MIB,
} as const;

/** A request answered later than this is not an immediate refusal. */
export const IMMEDIATE_MS = 1000;

/** Clients of the steady load in the fault scenarios. */
export const FAULT_CLIENTS = 20;
