/**
 * Retry delays that grow while attempts keep failing: `initialMs`, then ×`factor` per failure, capped at
 * `maxMs`; {@link Backoff.reset} after a success starts over. Every retry loop in the project takes its
 * delays from one of these: informer restarts, API-call retries, reconnects, process and Pod restarts.
 */

/** The shape of a backoff. */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Growth per failure; 2 doubles. */
  readonly factor?: number;
  /**
   * Up to this fraction of each delay is added at random (0, the default, adds none), so many clients
   * failing together do not retry in lockstep; a delay never exceeds `maxMs` all the same.
   */
  readonly jitter?: number;
  /**
   * An attempt that ran at least this long before failing ends the streak ({@link Backoff.ran}): the next
   * delay is `initialMs` again. Default: never.
   */
  readonly resetAfterMs?: number;
  /** A number in [0, 1); `Math.random` unless a test fixes it. */
  readonly random?: () => number;
}

/** One retrying thing's delays. */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly resetAfterMs: number;
  private readonly random: () => number;
  private nextMs: number;
  private count = 0;

  /**
   * Checks the options once, throwing a RangeError that names the bad one after `prefix` (e.g.
   * `'KubernetesActuator option retry.'`).
   */
  constructor(options: BackoffOptions, prefix = 'Backoff option ') {
    const {
      initialMs,
      maxMs,
      factor = 2,
      jitter = 0,
      resetAfterMs = Infinity,
      random = Math.random,
    } = options;
    if (!(initialMs > 0)) throw new RangeError(`${prefix}initialMs must be > 0`);
    if (!(maxMs >= initialMs)) throw new RangeError(`${prefix}maxMs must be >= initialMs`);
    if (!(factor >= 1) || !Number.isFinite(factor))
      throw new RangeError(`${prefix}factor must be a finite number >= 1`);
    if (!(jitter >= 0)) throw new RangeError(`${prefix}jitter must be >= 0`);
    if (!(resetAfterMs > 0)) throw new RangeError(`${prefix}resetAfterMs must be > 0`);
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.factor = factor;
    this.jitter = jitter;
    this.resetAfterMs = resetAfterMs;
    this.random = random;
    this.nextMs = initialMs;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = this.nextMs;
    this.nextMs = Math.min(this.nextMs * this.factor, this.maxMs);
    this.count++;
    return this.jitter === 0 ? base : Math.min(base * (1 + this.random() * this.jitter), this.maxMs);
  }

  /** The delay {@link next} will give before jitter, without counting a failure. */
  peek(): number {
    return this.nextMs;
  }

  /** Failures counted since the start or the last reset. */
  get failures(): number {
    return this.count;
  }

  /** Notes that the failed attempt ran `ms`: one of at least `resetAfterMs` starts over. */
  ran(ms: number): void {
    if (ms >= this.resetAfterMs) this.reset();
  }

  /** Starts over from `initialMs` (after a success). */
  reset(): void {
    this.nextMs = this.initialMs;
    this.count = 0;
  }
}

/**
 * Restart delays of a failed watch (an informer, the platform's revision stream): `initialMs`,
 * multiplied by `factor` per failure, capped at `maxMs`.
 */
export type WatchBackoff = Required<Pick<BackoffOptions, 'initialMs' | 'maxMs' | 'factor'>>;

/** 100 ms doubling up to 10 s. A streak of failures ends once the informer ran `maxMs` without one. */
export const DEFAULT_BACKOFF: WatchBackoff = { initialMs: 100, maxMs: 10_000, factor: 2 };

/** Merges `backoff` over {@link DEFAULT_BACKOFF}, throwing a RangeError naming `owner`'s bad option. */
export function resolveBackoff(owner: string, backoff: Partial<WatchBackoff> | undefined): WatchBackoff {
  const b: WatchBackoff = { ...DEFAULT_BACKOFF, ...backoff };
  // Constructing one checks the options, naming the bad one.
  new Backoff(b, `${owner} option backoff.`);
  return b;
}
