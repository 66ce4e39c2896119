/**
 * Options of the `wakes` scenario's fault-injected app (`wake-app.ts`), parsed from its environment.
 * Pure, so the parsing is tested without starting the app.
 */

/** How the app misbehaves between opening its port and attaching its real handler. */
export type WakeFault = 'reset' | 'unattached' | 'path';

/** The app's settings. */
export interface WakeAppOptions {
  readonly port: number;
  readonly host: string;
  readonly fault: WakeFault;
  /** Shortest and longest time from the port opening to the handler attaching, ms; drawn uniformly. */
  readonly delayMs: readonly [number, number];
}

const FAULTS: readonly WakeFault[] = ['reset', 'unattached', 'path'];
const DELAY = /^(\d+)(?:-(\d+))?$/;

/**
 * Reads `PORT`, `HOST` (default 127.0.0.1), `WAKE_FAULT` (`reset`, `unattached` or `path`) and
 * `WAKE_FAULT_DELAY_MS` (`N` or `MIN-MAX`, default `0-2000`); throws one error naming every bad variable.
 */
export function parseWakeAppOptions(env: Readonly<Record<string, string | undefined>>): WakeAppOptions {
  const problems: string[] = [];
  const port = Number(env['PORT']);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    problems.push(`PORT must be a TCP port, got ${JSON.stringify(env['PORT'])}`);
  }
  const fault = env['WAKE_FAULT'] as WakeFault;
  if (!FAULTS.includes(fault)) {
    problems.push(`WAKE_FAULT must be one of ${FAULTS.join(', ')}, got ${JSON.stringify(env['WAKE_FAULT'])}`);
  }
  const delayText = env['WAKE_FAULT_DELAY_MS'] ?? '0-2000';
  const match = DELAY.exec(delayText);
  const min = Number(match?.[1]);
  const max = match?.[2] === undefined ? min : Number(match[2]);
  if (!match || max < min || max > 60_000) {
    problems.push(
      `WAKE_FAULT_DELAY_MS must be N or MIN-MAX milliseconds (MIN ≤ MAX ≤ 60000), got ${JSON.stringify(delayText)}`,
    );
  }
  if (problems.length > 0) throw new Error(`wake-app: ${problems.join('; ')}`);
  return { port, host: env['HOST'] || '127.0.0.1', fault, delayMs: [min, max] };
}

/** A delay drawn uniformly from `[min, max]` with `random` in [0, 1). */
export function drawDelay([min, max]: readonly [number, number], random: () => number): number {
  return min + Math.floor(random() * (max - min + 1));
}
