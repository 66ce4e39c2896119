/**
 * Durations, parsed in one place. The rule for a bare number (no unit):
 *
 * - Where Knative takes a Go `time.Duration` (the `autoscaling.knative.dev/window` annotation and the other
 *   autoscaling annotations, the admission webhook's `timeout` query parameter), {@link parseGoDuration}
 *   reads it exactly as Go's `time.ParseDuration` does, which refuses a bare number other than `0`.
 * - Our environment variables holding a duration (`PROBE_TIMEOUT`, `AUTOSCALER_STABLE_WINDOW`,
 *   `INJECTOR_API_TIMEOUT` …) take a Go duration or, documented so, a bare number of seconds:
 *   {@link parseDurationOrSeconds}.
 *
 * So a bare number is never milliseconds anywhere: it is seconds where accepted, and refused where Knative
 * refuses it. Variables named `*_SECONDS` are whole seconds read as integers, like Knative's.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** A bare decimal number of seconds, as {@link parseDurationOrSeconds} accepts it. */
const BARE_SECONDS = /^\d+(\.\d+)?$/;

/**
 * Parses a Go duration string (`60s`, `1m30s`, `1.5h`, `500ms`) into milliseconds, or returns `undefined`
 * when Go's `time.ParseDuration` would reject it. As in Go, a unit is required except for a bare `0`, a
 * sign may lead, and several parts may follow each other (`1h2m3.5s`).
 */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (m === null || m.index !== at) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  // Go counts in whole nanoseconds; rounding there keeps `0.3m` an exact 18000 ms.
  return (sign * Math.round(total * 1e6)) / 1e6;
}

/**
 * Parses an environment variable's duration into milliseconds: a Go duration, or a bare number of seconds
 * (`5` is 5000 ms); surrounding blanks are ignored. `undefined` when malformed or negative.
 */
export function parseDurationOrSeconds(text: string): number | undefined {
  const s = text.trim();
  if (BARE_SECONDS.test(s)) return Number(s) * 1000;
  if (s.startsWith('-') || s.startsWith('+')) return undefined;
  return parseGoDuration(s);
}
