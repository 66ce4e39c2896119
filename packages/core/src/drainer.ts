/**
 * The drain of docs/queue-proxy.md §7.1 (`knative.dev/pkg network/handlers/drain.go`): once started, probes
 * fail and the drain completes after `quietMs` with no request, each request pushing completion back.
 * Requests only record a timestamp; the timer re-checks lazily, so the hot path does no timer work.
 */
export class Drainer {
  private lastRequestAt = 0;
  private drainingSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];
  private completed = false;

  constructor(
    private readonly quietMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True from {@link drain} on, also after it completes (probes keep failing while stopping), until {@link reset}. */
  get draining(): boolean {
    return this.drainingSince !== null;
  }

  /** When the drain started (ms since the epoch), from {@link drain} on until {@link reset}; else undefined. */
  get startedAt(): number | undefined {
    return this.drainingSince ?? undefined;
  }

  /** True once a drain has completed (no request for the quiet period), until {@link reset}. */
  get drained(): boolean {
    return this.completed;
  }

  /** Notes a non-probe request: the quiet period restarts. */
  touch(now: number): void {
    this.lastRequestAt = now;
  }

  /** Starts draining (if not already) and resolves once no request came for the quiet period. */
  drain(): Promise<void> {
    if (this.completed) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.drainingSince === null) {
      this.drainingSince = this.now();
      this.schedule();
    }
    return done;
  }

  /** Stops a drain that turned out not to be a shutdown; pending {@link drain} calls resolve. */
  reset(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.drainingSince = null;
    this.completed = false;
    this.settle();
  }

  private schedule(): void {
    const quietSince = Math.max(this.drainingSince ?? 0, this.lastRequestAt);
    const remaining = quietSince + this.quietMs - this.now();
    if (remaining <= 0) {
      this.timer = null;
      this.completed = true;
      this.settle();
      return;
    }
    this.timer = setTimeout(() => this.schedule(), remaining);
  }

  private settle(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * Time kept back from a Pod's termination grace period for closing what is still open and exiting
 * before the kubelet's SIGKILL: websockets get their close frames and a second to answer them. A grace
 * period shorter than 8 s keeps a quarter of itself instead, so that a short one is not all margin.
 */
export const TERMINATION_MARGIN_MS = 2000;

/** How often {@link TerminationDeadline.waitUntil} checks its condition. */
const POLL_MS = 50;

/**
 * The end of a Pod's termination grace period, as seen by a proxy that is stopping: the kubelet sends
 * SIGKILL `graceMs` after the Pod began terminating (the drain's start), so whatever is still open must be
 * closed by then, less a margin ({@link TERMINATION_MARGIN_MS}, or a quarter of a short grace period). Without a grace period (`graceMs` undefined) there
 * is no deadline: every wait lasts until its condition holds.
 */
export class TerminationDeadline {
  /** When open connections must be closed (ms since the epoch); Infinity without a grace period. */
  readonly at: number;
  /** The time kept back between {@link at} and the end of the grace period. */
  readonly marginMs: number;

  constructor(
    startedAt: number,
    graceMs: number | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.marginMs =
      graceMs === undefined ? TERMINATION_MARGIN_MS : Math.min(TERMINATION_MARGIN_MS, graceMs / 4);
    this.at = graceMs === undefined ? Infinity : startedAt + graceMs - this.marginMs;
  }

  /** True once the deadline has passed. */
  get passed(): boolean {
    return this.now() >= this.at;
  }

  /** Resolves true when `work` settles, false when the deadline comes first. */
  async race(work: Promise<unknown>): Promise<boolean> {
    if (this.at === Infinity) {
      await work;
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, this.at - this.now()), false);
    });
    try {
      return await Promise.race([work.then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves true as soon as `condition` holds (checked now and every 50 ms), false when the deadline or
   * `until` (ms since the epoch, if earlier) passes first.
   */
  async waitUntil(condition: () => boolean, until = Infinity): Promise<boolean> {
    const end = Math.min(this.at, until);
    for (;;) {
      if (condition()) return true;
      const left = end - this.now();
      if (left <= 0) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
    }
  }
}
