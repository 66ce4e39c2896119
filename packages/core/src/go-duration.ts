/**
 * Parsing of Go `time.Duration` strings, the format Knative's autoscaling annotations and
 * config-autoscaler keys use (`60s`, `1m30s`, `1.5h`, `500ms`).
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

/**
 * Parses a Go duration string into milliseconds, or returns `undefined` when Go's
 * `time.ParseDuration` would reject it. As in Go, a unit is required except for a bare `0`,
 * and several parts may follow each other (`1h2m3.5s`).
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
