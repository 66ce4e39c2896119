/**
 * Helpers to read configuration from the environment once, at the edge: every problem is collected
 * and reported together, one line per variable, before anything listens.
 */
import { parseDurationOrSeconds } from './go-duration.js';
import { pinoLevel } from './logger.js';

/** Thrown by a config loader; `problems` holds one line per bad variable, each naming it. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** An environment, as `process.env` is. */
export type Env = Readonly<Record<string, string | undefined>>;

interface IntOptions {
  readonly min?: number;
  readonly max?: number;
}

/** Reads typed values from an environment, remembering every problem instead of stopping at the first. */
export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  /** Records a problem found by the caller's own checks. */
  problem(name: string, message: string): void {
    this.problems.push(`${name}: ${message}`);
  }

  /** The raw value; empty strings count as unset. */
  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v === '' ? undefined : v;
  }

  /** Whether `name` is in the environment at all, empty or not. */
  isSet(name: string): boolean {
    return this.env[name] !== undefined;
  }

  /** A string that must be present; as with Knative's envconfig, present but empty is allowed. */
  required(name: string): string {
    const v = this.env[name];
    if (v === undefined) {
      this.problem(name, 'is required but not set');
      return '';
    }
    return v;
  }

  /** An optional string with a default. */
  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  /** An integer; `fallback` undefined makes it required. */
  int(name: string, fallback: number | undefined, options: IntOptions = {}): number {
    const v = this.raw(name);
    if (v === undefined) {
      if (fallback === undefined) this.problem(name, 'is required but not set');
      return fallback ?? 0;
    }
    if (!/^[+-]?\d+$/.test(v.trim())) {
      this.problem(name, `must be an integer, got ${JSON.stringify(v)}`);
      return fallback ?? 0;
    }
    const n = Number.parseInt(v, 10);
    if (options.min !== undefined && n < options.min) {
      this.problem(name, `must be at least ${options.min}, got ${n}`);
    } else if (options.max !== undefined && n > options.max) {
      this.problem(name, `must be at most ${options.max}, got ${n}`);
    }
    return n;
  }

  /** A TCP port, 1–65535. */
  port(name: string, fallback: number | undefined): number {
    return this.int(name, fallback, { min: 1, max: 65535 });
  }

  /** A port to listen on: 0–65535, where 0 lets the system pick a free one. */
  listenPort(name: string, fallback: number | undefined): number {
    return this.int(name, fallback, { min: 0, max: 65535 });
  }

  /** Records a problem for every port that repeats an earlier one of the list (0, "any free port", may repeat). */
  distinctPorts(ports: readonly (readonly [name: string, port: number])[]): void {
    const seen = new Map<number, string>();
    for (const [name, port] of ports) {
      const first = seen.get(port);
      if (first !== undefined && port !== 0) this.problem(name, `port ${port} is already used by ${first}`);
      else seen.set(port, name);
    }
  }

  /** A boolean written as Go's strconv.ParseBool accepts it. */
  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (GO_TRUE.has(v)) return true;
    if (GO_FALSE.has(v)) return false;
    this.problem(name, `must be a boolean (true or false), got ${JSON.stringify(v)}`);
    return fallback;
  }

  /**
   * A log level by its zap or pino name (`warning` is pino's `warn`), as pino names it; unset or empty is
   * `fallback`.
   */
  logLevel(name: string, fallback = 'info'): string {
    const text = this.string(name, fallback);
    const level = pinoLevel(text);
    if (level === undefined) this.problem(name, `unknown level ${JSON.stringify(text)}`);
    return level ?? fallback;
  }

  /** A JSON value, or undefined when unset. */
  json(name: string): unknown {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v);
    } catch (err) {
      this.problem(name, `is not valid JSON: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** A Go duration (`300ms`, `1.5s`, `2m`) or a bare number of seconds, in milliseconds (see `go-duration.ts`). */
  durationMs(name: string, fallbackMs: number): number {
    const v = this.raw(name);
    if (v === undefined) return fallbackMs;
    const ms = parseDurationOrSeconds(v);
    if (ms === undefined) {
      this.problem(name, `must be a duration such as 300ms or 2s, got ${JSON.stringify(v)}`);
      return fallbackMs;
    }
    return ms;
  }

  /** Throws a {@link ConfigError} listing every problem seen, if any. */
  finish(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);
