/**
 * The hello app's crowded mode: an app that slows down faster than its load grows, as a cold app
 * does (caches empty, JIT not warm, pools filling), for measuring how the activator wakes a revision
 * (docs/activator.md §3.10). The same model as the end-to-end tests' `/crowded` path.
 */

/** The crowded mode's settings, from `HELLO_CROWDED_MS` and `HELLO_CROWDED_EXP`. */
export interface CrowdSettings {
  /** Milliseconds of the delay at one request in flight. */
  readonly ms: number;
  /** How fast the delay grows with the requests in flight. */
  readonly exp: number;
}

/** The exponent when `HELLO_CROWDED_EXP` is not set. */
export const DEFAULT_CROWD_EXP = 1.5;

/**
 * Reads the crowded mode from the environment: undefined (answer at once) without
 * `HELLO_CROWDED_MS`; throws an error naming each variable whose value is not a number above 0.
 */
export function parseCrowdSettings(
  env: Readonly<Record<string, string | undefined>>,
): CrowdSettings | undefined {
  const rawMs = env['HELLO_CROWDED_MS'];
  const rawExp = env['HELLO_CROWDED_EXP'];
  if (rawMs === undefined && rawExp === undefined) return undefined;
  const problems: string[] = [];
  const ms = Number(rawMs);
  if (rawMs === undefined) problems.push('HELLO_CROWDED_EXP is set without HELLO_CROWDED_MS');
  else if (rawMs.trim() === '' || !Number.isFinite(ms) || ms <= 0) {
    problems.push(`HELLO_CROWDED_MS must be a number of milliseconds above 0, got ${JSON.stringify(rawMs)}`);
  }
  const exp = rawExp === undefined ? DEFAULT_CROWD_EXP : Number(rawExp);
  if (rawExp !== undefined && (rawExp.trim() === '' || !Number.isFinite(exp) || exp <= 0)) {
    problems.push(`HELLO_CROWDED_EXP must be a number above 0, got ${JSON.stringify(rawExp)}`);
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return { ms, exp };
}

/**
 * How long a request waits before its answer: `ms` × `inFlight`^`exp`, where `inFlight` counts the
 * requests in flight when it arrived, itself included. With `exp` > 1 a burst of n requests at once
 * takes longer than the same n paced, which is what slow start is for.
 */
export function crowdDelayMs(settings: CrowdSettings, inFlight: number): number {
  return settings.ms * Math.max(1, inFlight) ** settings.exp;
}
