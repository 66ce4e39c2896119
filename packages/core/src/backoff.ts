/**
 * Retry delays that grow while attempts keep failing: `initialMs`, then ×`factor` per failure, capped at
 * `maxMs`; {@link Backoff.reset} after a success starts over.
 */

/** The shape of a backoff. */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Growth per failure; 2 doubles. */
  readonly factor?: number;
}

/** One retrying thing's delays. */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private nextMs: number;

  constructor({ initialMs, maxMs, factor = 2 }: BackoffOptions) {
    if (!(initialMs > 0)) throw new RangeError('Backoff option initialMs must be > 0');
    if (!(maxMs >= initialMs)) throw new RangeError('Backoff option maxMs must be >= initialMs');
    if (!(factor >= 1)) throw new RangeError('Backoff option factor must be >= 1');
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.factor = factor;
    this.nextMs = initialMs;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const delay = this.nextMs;
    this.nextMs = Math.min(this.nextMs * this.factor, this.maxMs);
    return delay;
  }

  /** The delay {@link next} will give, without counting a failure. */
  peek(): number {
    return this.nextMs;
  }

  /** Starts over from `initialMs` (after a success). */
  reset(): void {
    this.nextMs = this.initialMs;
  }
}
