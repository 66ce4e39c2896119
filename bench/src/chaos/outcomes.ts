/**
 * What became of each request a chaos scenario sent: its outcome class, tallies by class, and the
 * accounting of lost requests and recovery around a fault. Pure: the load and the faults live elsewhere.
 */

/**
 * The class of one request's outcome: `2xx`, the status code of any other answer (`"502"`), or what
 * went wrong on the connection: `reset` (closed or reset by the peer), `refused` (nothing listened),
 * `timeout` (no answer within the client's limit), `error` (anything else).
 */
export type Outcome = string;

/** Classes for requests that got no HTTP answer. */
export const RESET = 'reset';
export const REFUSED = 'refused';
export const TIMEOUT = 'timeout';
export const OTHER_ERROR = 'error';
/** A request still held (unanswered, not refused) when the scenario stopped waiting for it. */
export const HELD = 'held';
/** The connection was closed without an answer, where that is an acceptable refusal (bad input). */
export const CLOSED = 'closed';

/** The class of an HTTP answer with `status`: `2xx`, or the status itself. */
export function classifyStatus(status: number): Outcome {
  return status >= 200 && status < 300 ? '2xx' : String(status);
}

const RESET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_GOAWAY_SESSION',
  'ERR_HTTP2_SESSION_ERROR',
  'HPE_INVALID_CONSTANT',
]);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ABORT_ERR',
  'ERR_TIMEOUT',
]);

/**
 * The class of a request that failed with `err`: walks `cause` (undici wraps the socket's error) and
 * maps the first known code; an abort (the client's own deadline) is a timeout.
 */
export function classifyError(err: unknown): Outcome {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const { code, name } = e as { code?: unknown; name?: unknown };
    if (code === 'ECONNREFUSED') return REFUSED;
    if (typeof code === 'string' && RESET_CODES.has(code)) return RESET;
    if ((typeof code === 'string' && TIMEOUT_CODES.has(code)) || name === 'TimeoutError') return TIMEOUT;
    if (name === 'AbortError') return TIMEOUT;
    e = (e as { cause?: unknown }).cause;
  }
  return OTHER_ERROR;
}

/** True for the outcome of a successful request. */
export function isSuccess(outcome: Outcome): boolean {
  return outcome === '2xx';
}

/** One request as the client saw it; times in milliseconds on one monotonic clock. */
export interface RequestRecord {
  readonly sentAt: number;
  readonly doneAt: number;
  readonly outcome: Outcome;
  /** Whether a non-2xx answer carried `Retry-After`. */
  readonly retryAfter?: boolean;
}

/** Counts by outcome class, in a stable order: `2xx`, statuses ascending, then the error classes. */
export function tally(outcomes: Iterable<Outcome>): Map<Outcome, number> {
  const counts = new Map<Outcome, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  return sortTally(counts);
}

const ERROR_ORDER = [HELD, CLOSED, RESET, REFUSED, TIMEOUT, OTHER_ERROR];

/** Orders a tally: `2xx` first, then statuses ascending, then the error classes. */
export function sortTally(counts: ReadonlyMap<Outcome, number>): Map<Outcome, number> {
  const rank = (outcome: Outcome): number => {
    if (outcome === '2xx') return 0;
    const status = Number(outcome);
    if (Number.isInteger(status)) return status;
    const at = ERROR_ORDER.indexOf(outcome);
    return 1000 + (at < 0 ? ERROR_ORDER.length : at);
  };
  return new Map([...counts].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)));
}

/** Adds two tallies. */
export function mergeTallies(...tallies: ReadonlyMap<Outcome, number>[]): Map<Outcome, number> {
  const out = new Map<Outcome, number>();
  for (const t of tallies) for (const [k, v] of t) out.set(k, (out.get(k) ?? 0) + v);
  return sortTally(out);
}

/**
 * Which failed requests count as lost:
 * - `sent-after-fault`: those sent after the fault. A request in flight when a process was killed may
 *   have been accepted by it and die with it; one sent after the kill cannot have been.
 * - `all`: every failure. For faults that kill nothing (a drain, a scale-down, a mode flip, a restart of
 *   a component off the request path), nothing had to be lost.
 */
export type LossRule = 'sent-after-fault' | 'all';

/** Loss and recovery around one fault. */
export interface FaultAccount {
  readonly sent: number;
  readonly outcomes: Map<Outcome, number>;
  /** Failed requests the rule says the system could have kept. */
  readonly lost: number;
  /** Failed requests that were in flight at the fault (excused under `sent-after-fault`). */
  readonly failedInFlight: number;
  /** From the fault to the first successful answer to a request sent after it; undefined if none came. */
  readonly firstSuccessMs: number | undefined;
  /**
   * From the fault to the end of the last failed request, after which every request succeeded: 0 when
   * nothing failed after the fault; undefined when the run ended still failing.
   */
  readonly steadyMs: number | undefined;
}

/** Accounts `records` around a fault at `faultAt` under `rule`. */
export function accountFault(
  records: readonly RequestRecord[],
  faultAt: number,
  rule: LossRule,
): FaultAccount {
  let lost = 0;
  let failedInFlight = 0;
  let firstSuccess: number | undefined;
  let lastFailure: number | undefined;
  let lastDone = Number.NEGATIVE_INFINITY;
  let lastDoneOk = true;
  for (const r of records) {
    const ok = isSuccess(r.outcome);
    if (r.doneAt >= lastDone) {
      lastDone = r.doneAt;
      lastDoneOk = ok;
    }
    if (ok) {
      if (r.sentAt >= faultAt && (firstSuccess === undefined || r.doneAt < firstSuccess))
        firstSuccess = r.doneAt;
      continue;
    }
    const inFlight = r.sentAt < faultAt && r.doneAt >= faultAt;
    if (inFlight) failedInFlight++;
    if (rule === 'all' || r.sentAt >= faultAt) lost++;
    if (r.doneAt >= faultAt && (lastFailure === undefined || r.doneAt > lastFailure)) lastFailure = r.doneAt;
  }
  let steadyMs: number | undefined;
  if (lastFailure === undefined) steadyMs = 0;
  else if (!lastDoneOk) steadyMs = undefined;
  else steadyMs = lastFailure - faultAt;
  return {
    sent: records.length,
    outcomes: tally(records.map((r) => r.outcome)),
    lost,
    failedInFlight,
    firstSuccessMs: firstSuccess === undefined ? undefined : Math.max(0, firstSuccess - faultAt),
    steadyMs,
  };
}

/**
 * Refusals under a flood: every non-2xx answer should be an immediate `503` with `Retry-After`.
 * Returns how many refusals were anything else (another status, no `Retry-After`, a dropped
 * connection, or slower than `immediateMs`); requests still {@link HELD} are not refusals.
 */
export function badRefusals(records: readonly RequestRecord[], immediateMs: number): number {
  const faults = refusalFaults(records, immediateMs);
  return faults.otherAnswer + faults.noRetryAfter + faults.late;
}

/** Refusals that were not an immediate 503 with Retry-After, by what was wrong with them. */
export interface RefusalFaults {
  /** Another status, or no answer at all (a reset, a timeout). */
  readonly otherAnswer: number;
  /** A 503 without `Retry-After`. */
  readonly noRetryAfter: number;
  /** A 503 with `Retry-After`, later than the limit. */
  readonly late: number;
}

/** Sorts the refusals that were not an immediate 503 with Retry-After by their fault (see {@link badRefusals}). */
export function refusalFaults(records: readonly RequestRecord[], immediateMs: number): RefusalFaults {
  let otherAnswer = 0;
  let noRetryAfter = 0;
  let late = 0;
  for (const r of records) {
    if (isSuccess(r.outcome) || r.outcome === HELD) continue;
    if (r.outcome !== '503') otherAnswer++;
    else if (r.retryAfter !== true) noRetryAfter++;
    else if (r.doneAt - r.sentAt > immediateMs) late++;
  }
  return { otherAnswer, noRetryAfter, late };
}
