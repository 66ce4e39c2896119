/**
 * The chaos suite's summary: one row per scenario with its outcomes, losses, recovery, the peak memory
 * and CPU of the component under test, and a verdict against the suite's targets. Pure: rows in,
 * {@link Table}s and notes out, written to the terminal and RESULTS.md by the command line.
 */
import { mebibytes } from '../ratios.js';
import { fixed, NONE, type Table } from '../table.js';
import type { FaultAccount, Outcome } from './outcomes.js';

/** One target a scenario is judged against. */
export interface Check {
  /** Short name shown in a failed verdict, e.g. `lost`, `503+Retry-After`. */
  readonly name: string;
  readonly pass: boolean;
}

/** Recovery after a fault, against the target (the revision's probe period plus one second). */
export interface Recovery {
  readonly firstSuccessMs: number | undefined;
  /** Undefined when the run ended still failing. */
  readonly steadyMs: number | undefined;
  readonly targetMs: number;
}

/** What one scenario (or one part of it) measured. */
export interface ChaosRow {
  readonly scenario: string;
  /** The component under test, whose memory and CPU are reported. */
  readonly component: string;
  readonly sent: number;
  readonly outcomes: ReadonlyMap<Outcome, number>;
  /** Requests lost that the system could have kept (defined per scenario in the notes). */
  readonly lost: number | undefined;
  readonly recovery?: Recovery;
  readonly peakRssKiB?: number;
  readonly rssCapKiB?: number;
  /** CPU seconds the component used during the scenario. */
  readonly cpuSeconds?: number;
  /** The scenario's own checks; {@link standardChecks} adds the suite-wide ones. */
  readonly checks: readonly Check[];
  /** Set when the scenario could not run to its end. */
  readonly error?: string;
}

/**
 * The row of one fault under steady load, from its account: sent, outcomes, lost and recovery against
 * `recoveryTargetMs`; the caller adds its memory, CPU and checks.
 */
export function faultRow(
  scenario: string,
  component: string,
  account: FaultAccount,
  recoveryTargetMs: number,
): ChaosRow {
  return {
    scenario,
    component,
    sent: account.sent,
    outcomes: account.outcomes,
    lost: account.lost,
    recovery: {
      firstSuccessMs: account.firstSuccessMs,
      steadyMs: account.steadyMs,
      targetMs: recoveryTargetMs,
    },
    checks: [],
  };
}

/** The suite-wide checks of a row: nothing lost, memory under its cap, recovery within its target. */
export function standardChecks(row: ChaosRow): Check[] {
  const checks: Check[] = [];
  if (row.lost !== undefined) checks.push({ name: 'lost', pass: row.lost === 0 });
  if (row.peakRssKiB !== undefined && row.rssCapKiB !== undefined) {
    checks.push({ name: 'RSS cap', pass: row.peakRssKiB <= row.rssCapKiB });
  }
  if (row.recovery !== undefined) {
    const { steadyMs, targetMs } = row.recovery;
    checks.push({ name: 'recovery', pass: steadyMs !== undefined && steadyMs <= targetMs });
  }
  return checks;
}

/** `pass`, `FAIL: <failed checks>`, or `error: <why>` for a scenario that did not finish. */
export function verdict(row: ChaosRow): string {
  if (row.error !== undefined) return `error: ${row.error}`;
  const failed = [...standardChecks(row), ...row.checks].filter((c) => !c.pass).map((c) => c.name);
  return failed.length === 0 ? 'pass' : `FAIL: ${failed.join(', ')}`;
}

/** `2xx 980 · 502 3 · reset 2`: every class seen, in the tally's order. */
export function formatOutcomes(outcomes: ReadonlyMap<Outcome, number>): string {
  if (outcomes.size === 0) return NONE;
  return [...outcomes].map(([outcome, count]) => `${outcome} ${count}`).join(' · ');
}

/** `120 / 850 ≤ 2000`: first success and steady success after the fault, against the target. */
export function formatRecovery(recovery: Recovery | undefined): string {
  if (recovery === undefined) return NONE;
  const steady = recovery.steadyMs === undefined ? 'never' : fixed(recovery.steadyMs, 0);
  return `${fixed(recovery.firstSuccessMs, 0)} / ${steady} ≤ ${recovery.targetMs}`;
}

/** `84.2 ≤ 128`: the peak resident memory and its cap, MiB. */
export function formatRss(peakKiB: number | undefined, capKiB: number | undefined): string {
  if (peakKiB === undefined) return NONE;
  const peak = fixed(mebibytes(peakKiB), 1);
  return capKiB === undefined ? peak : `${peak} ≤ ${fixed(mebibytes(capKiB), 0)}`;
}

/** The summary table, one row per {@link ChaosRow}. */
export function summaryTable(rows: readonly ChaosRow[]): Table {
  const headers = [
    'scenario',
    'component',
    'sent',
    'outcomes',
    'lost',
    'recovery ms (first ok / steady ≤ target)',
    'peak RSS MiB (≤ cap)',
    'CPU s',
    'verdict',
  ];
  return {
    title: 'Chaos: faults, floods and bad input',
    headers,
    align: ['left', 'left', 'right', 'left', 'right', 'right', 'right', 'right', 'left'],
    rows: rows.map((row) => [
      row.scenario,
      row.component,
      String(row.sent),
      formatOutcomes(row.outcomes),
      row.lost === undefined ? NONE : String(row.lost),
      formatRecovery(row.recovery),
      formatRss(row.peakRssKiB, row.rssCapKiB),
      fixed(row.cpuSeconds, 2),
      verdict(row),
    ]),
  };
}

/** How many rows passed, failed and did not finish. */
export function verdictCounts(rows: readonly ChaosRow[]): { pass: number; fail: number; error: number } {
  const counts = { pass: 0, fail: 0, error: 0 };
  for (const row of rows) {
    const v = verdict(row);
    if (v === 'pass') counts.pass++;
    else if (v.startsWith('error')) counts.error++;
    else counts.fail++;
  }
  return counts;
}
