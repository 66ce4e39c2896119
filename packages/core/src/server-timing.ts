/**
 * The `Server-Timing` response header (W3C Server Timing) the activator and the queue-proxy add to a
 * request that waited in them (docs/wire.md §1): `hold`, `throttle`, `proxy` and `queue`, each
 * `<name>;dur=<ms>`. A metric the app's response already names is never added again: the app's stays.
 */

/** A duration in milliseconds as a `dur` value: at most 3 decimals, no trailing zeros. */
export function timingDuration(ms: number): string {
  return String(Math.round(Math.max(ms, 0) * 1000) / 1000);
}

/** The metric names a `Server-Timing` value lists (`a;dur=1, b;desc="x"` → `a`, `b`), lower-cased. */
function metricNames(value: string, into: Set<string>): void {
  for (const entry of value.split(',')) {
    const semicolon = entry.indexOf(';');
    const name = (semicolon === -1 ? entry : entry.slice(0, semicolon)).trim().toLowerCase();
    if (name !== '') into.add(name);
  }
}

/**
 * The part of `ours` (a `Server-Timing` value) whose metrics the app's own values do not name, or `''`
 * when they name all of them. Called only for a request that waited, so the others pay nothing.
 */
export function serverTimingToAdd(ours: string, app: string | readonly string[] | undefined): string {
  if (app === undefined) return ours;
  const names = new Set<string>();
  if (typeof app === 'string') metricNames(app, names);
  else for (const value of app) metricNames(value, names);
  if (names.size === 0) return ours;
  const kept: string[] = [];
  for (const entry of ours.split(', ')) {
    const name = entry.slice(0, entry.indexOf(';')).toLowerCase();
    if (!names.has(name)) kept.push(entry);
  }
  return kept.join(', ');
}

/** The `Server-Timing` values of a flat raw header list, or undefined when it has none. */
export function rawServerTiming(raw: readonly string[]): string[] | undefined {
  let values: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 13 || name.toLowerCase() !== 'server-timing') continue;
    values ??= [];
    values.push(raw[i + 1]!);
  }
  return values;
}

/**
 * The revision annotation that turns `Server-Timing` off for a revision: the activator's, and the
 * queue-proxy's through `QUEUE_SERVER_TIMING` (docs/activator.md §7.2).
 */
export const SERVER_TIMING_ANNOTATION = 'zerogate.dev/server-timing';

/**
 * Whether a revision's responses get `Server-Timing` metrics, from its annotations: on unless
 * {@link SERVER_TIMING_ANNOTATION} is `"false"` (spaces around it ignored); a value other than `true` or
 * `false` is a problem, and on. The one rule the activator follows and the platforms (the injector, the
 * one-machine platform) turn into the queue-proxy's `QUEUE_SERVER_TIMING`.
 */
export function serverTimingSetting(annotations: Readonly<Record<string, string>> | undefined): {
  enabled: boolean;
  problem: string | undefined;
} {
  const value = annotations?.[SERVER_TIMING_ANNOTATION]?.trim();
  if (value === undefined || value === 'true') return { enabled: true, problem: undefined };
  if (value === 'false') return { enabled: false, problem: undefined };
  return {
    enabled: true,
    problem: `${SERVER_TIMING_ANNOTATION}: ${JSON.stringify(value)} is neither true nor false`,
  };
}

/**
 * The queue-proxy's `serverTiming` setting (`QUEUE_SERVER_TIMING`) for a revision with `annotations`:
 * `false` when they turn `Server-Timing` off ({@link serverTimingSetting}), else undefined, which leaves the
 * variable out (the queue-proxy's default, on). What the injector and the one-machine platform give
 * `queueProxyEnv`, so the annotation means the same to the activator and to every queue-proxy.
 */
export function queueProxyServerTiming(
  annotations: Readonly<Record<string, string>> | undefined,
): false | undefined {
  return serverTimingSetting(annotations).enabled ? undefined : false;
}
