/**
 * The options every scenario shares, and their parsing into {@link RunSettings}.
 */
import type { ParseArgsOptionsConfig } from 'node:util';
import { type CpuRoles, DEFAULT_ROLES, parseCpuRoles } from './pinning.js';
import type { OptionValues } from './scenario.js';

/** Option definitions for `node:util` `parseArgs`. */
export const COMMON_OPTIONS = {
  duration: { type: 'string', default: '8' },
  warmup: { type: 'string', default: '2' },
  connections: { type: 'string', default: '1,10,100' },
  cpus: { type: 'string', default: `${DEFAULT_ROLES.load},${DEFAULT_ROLES.app},${DEFAULT_ROLES.proxy}` },
  pin: { type: 'boolean', default: true },
  summary: { type: 'boolean', default: true },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsOptionsConfig;

/** Usage lines for {@link COMMON_OPTIONS}. */
export const COMMON_USAGE = [
  '--duration <s>         measured seconds per target and connection count (default 8)',
  '--warmup <s>           warm-up seconds before each measured run, discarded (default 2)',
  '--connections <list>   keep-alive connection counts (default 1,10,100)',
  '--cpus <load,app,proxy> CPUs for the load generator, the app and the proxy under test (default 0,0,1)',
  '--no-pin               do not pin processes to CPUs',
  '--no-summary           do not regenerate bench/RESULTS.md and bench/charts/',
  '-h, --help             show this help',
];

/** The common options, checked. */
export interface CommonSettings {
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly connections: readonly number[];
  readonly roles: CpuRoles;
  readonly pin: boolean;
  readonly summary: boolean;
}

function seconds(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > 3600) {
    throw new Error(
      `--${name} must be a number of seconds between ${min} and 3600, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/** Parses a comma-separated list of connection counts, e.g. `1,10,100`. */
export function parseConnections(text: string): number[] {
  const counts = text.split(',').map((part) => Number(part.trim()));
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000)) {
    throw new Error(
      `--connections must be a list of counts between 1 and 10000, got ${JSON.stringify(text)}`,
    );
  }
  return [...new Set(counts)];
}

/** Checks the common options, collecting every problem into one error. */
export function parseCommonSettings(values: OptionValues): CommonSettings {
  const problems: string[] = [];
  const attempt = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (err) {
      problems.push((err as Error).message);
      return fallback;
    }
  };
  const settings: CommonSettings = {
    durationSeconds: attempt(() => seconds('duration', String(values['duration']), 1), 0),
    warmupSeconds: attempt(() => seconds('warmup', String(values['warmup']), 0), 0),
    connections: attempt(() => parseConnections(String(values['connections'])), []),
    roles: attempt(() => parseCpuRoles(String(values['cpus'])), DEFAULT_ROLES),
    pin: values['pin'] !== false,
    summary: values['summary'] !== false,
  };
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return settings;
}
