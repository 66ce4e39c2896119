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
