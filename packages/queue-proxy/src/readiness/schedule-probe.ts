/**
 * When a probe's attempts run within one readiness check: a probe with a period gets a single attempt
 * bounded by its own timeout; a probe without one (periodSeconds 0) is polled aggressively until it
 * passes `successThreshold` times in a row or the poll timeout passes. Mirrors `wrappedProbe.doProbe` and
 * `shouldProbeAggressively` in `pkg/queue/readiness/probe.go`.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { linkAbort } from './link-abort.js';
import { asError, type ProbeAttempt } from './probe-attempt.js';
import type { ProbeTiming } from './probe-spec.js';

/** Time between attempts of an aggressive probe (`retryInterval` in `readiness/probe.go`). */
export const AGGRESSIVE_POLL_INTERVAL_MS = 50;
/** Timeout of one attempt of an aggressive probe (`aggressiveProbeTimeout`). */
export const AGGRESSIVE_ATTEMPT_TIMEOUT_MS = 100;
/** How long an aggressive probe keeps polling before it fails (`PollTimeout`). */
export const AGGRESSIVE_PROBE_TIMEOUT_MS = 10_000;

/** The timings of aggressive polling. */
export interface PollTimings {
  /** Pause between attempts. */
  readonly intervalMs: number;
  /** Total time polling goes on before the probe fails. */
  readonly totalMs: number;
  /** Timeout of one attempt (cut short by what is left of `totalMs`). */
  readonly attemptMs: number;
}

/** Runs one probe for one check, to completion: true iff it passed; false at once when `signal` aborts. */
export type ProbeRun = (signal: AbortSignal) => Promise<boolean>;

/**
 * Builds the run of one probe for a check from its timing: aggressive polling when `periodMs` is 0, else
 * one attempt within `timeoutMs`. `report` is told why the run failed (the last attempt's error, or the
 * polling summary with it as `cause`), once per failed run, never for a run cancelled by `signal`.
 */
export function scheduleProbe(
  timing: ProbeTiming,
  attempt: ProbeAttempt,
  poll: PollTimings,
  report: (err: Error) => void,
): ProbeRun {
  return timing.periodMs === 0
    ? (signal) => pollAggressively(attempt, timing.successThreshold, poll, signal, report)
    : (signal) => attemptOnce(attempt, timing.timeoutMs, signal, report);
}

/** Runs one attempt bounded by `timeoutMs`, clearing its timer whatever happens. */
async function attemptWithin(attempt: ProbeAttempt, timeoutMs: number, parent: AbortSignal): Promise<void> {
  const ac = new AbortController();
  const unlink = linkAbort(parent, ac);
  const timer = setTimeout(() => ac.abort(new Error(`probe timed out after ${timeoutMs} ms`)), timeoutMs);
  try {
    await attempt(ac.signal);
  } finally {
    clearTimeout(timer);
    unlink();
  }
}

/** Non-aggressive mode: a single attempt with the probe's own timeout. */
async function attemptOnce(
  attempt: ProbeAttempt,
  timeoutMs: number,
  signal: AbortSignal,
  report: (err: Error) => void,
): Promise<boolean> {
  try {
    await attemptWithin(attempt, timeoutMs, signal);
    return true;
  } catch (err) {
    if (!signal.aborted) report(asError(err));
    return false;
  }
}

/**
 * Aggressive mode (periodSeconds 0): poll until `threshold` consecutive successes or `totalMs` pass.
 * The count starts from zero on every check; Knative keeps it across checks, so after one ready check a
 * single success would pass every later one whatever the threshold.
 */
async function pollAggressively(
  attempt: ProbeAttempt,
  threshold: number,
  { intervalMs, totalMs, attemptMs }: PollTimings,
  signal: AbortSignal,
  report: (err: Error) => void,
): Promise<boolean> {
  const deadline = performance.now() + totalMs;
  let consecutive = 0;
  let failures = 0;
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) break;
    try {
      await attemptWithin(attempt, Math.min(attemptMs, remaining), signal);
      consecutive++;
      if (consecutive >= threshold) return true;
    } catch (err) {
      if (signal.aborted) return false;
      consecutive = 0;
      failures++;
      lastError = err;
    }
    const pause = Math.min(intervalMs, deadline - performance.now());
    if (pause <= 0) break;
    try {
      await sleep(pause, undefined, { signal });
    } catch {
      return false;
    }
  }
  report(
    new Error(
      `aggressive probe failed ${failures} times in ${totalMs} ms`,
      lastError ? { cause: lastError } : {},
    ),
  );
  return false;
}
