/** What the timers of one exchange call when they fire. */
export interface TimedExchange {
  /** The absolute deadline from arrival passed. */
  totalTimedOut(): void;
  /** The response did not start in time. */
  startTimedOut(): void;
  /** Nothing was written to the client for the idle timeout (the timers checked). */
  idleTimedOut(): void;
}

/** The timeouts of one exchange (docs/queue-proxy.md §5), in milliseconds; 0 turns one off. */
export interface TimeoutSettings {
  /** Absolute, from arrival, waiting included. */
  readonly totalMs: number;
  /** Until the response starts. */
  readonly responseStartMs: number;
  /** Between writes of the response (and from arrival until the first). */
  readonly idleMs: number;
}

/**
 * The three timeouts of one proxied request (docs/queue-proxy.md §5), armed at its arrival so a wait for
 * admission counts. The idle timer is not re-armed on every write: a write notes the time, and the timer,
 * when it fires, arms itself again for what is left. Shared by every exchange kind (node:http, the raw
 * relay, in-process).
 */
export class ExchangeTimers {
  private total: NodeJS.Timeout | null = null;
  private start: NodeJS.Timeout | null = null;
  private idle: NodeJS.Timeout | null = null;
  private lastWrite = 0;

  constructor(
    private readonly exchange: TimedExchange,
    private readonly settings: TimeoutSettings,
  ) {}

  /** Arms the timers that are on, counting from `arrivedAt` (ms since the epoch). */
  arm(arrivedAt: number): void {
    const { settings } = this;
    if (settings.totalMs > 0) this.total = setTimeout(onTotal, settings.totalMs, this);
    if (settings.responseStartMs > 0) this.start = setTimeout(onStart, settings.responseStartMs, this);
    if (settings.idleMs > 0) {
      this.lastWrite = arrivedAt;
      this.idle = setTimeout(onIdle, settings.idleMs, this);
    }
  }

  /** The response started: its start timer is done. */
  responseStarted(): void {
    if (this.start) {
      clearTimeout(this.start);
      this.start = null;
    }
  }

  /** Something was written to the client now. */
  wrote(): void {
    if (this.idle) this.lastWrite = Date.now();
  }

  /** Stops every timer (the exchange ended). */
  clear(): void {
    if (this.total) clearTimeout(this.total);
    if (this.start) clearTimeout(this.start);
    if (this.idle) clearTimeout(this.idle);
    this.total = this.start = this.idle = null;
  }

  totalFired(): void {
    this.total = null;
    this.exchange.totalTimedOut();
  }

  startFired(): void {
    this.start = null;
    this.exchange.startTimedOut();
  }

  /** The idle timer fired: the exchange times out unless something was written since it was armed. */
  idleFired(): void {
    this.idle = null;
    const idleFor = Date.now() - this.lastWrite;
    const { idleMs } = this.settings;
    if (idleFor < idleMs) this.idle = setTimeout(onIdle, idleMs - idleFor, this);
    else this.exchange.idleTimedOut();
  }
}

// Timer functions made once: arming one passes the timers, no closure.

function onTotal(timers: ExchangeTimers): void {
  timers.totalFired();
}

function onStart(timers: ExchangeTimers): void {
  timers.startFired();
}

function onIdle(timers: ExchangeTimers): void {
  timers.idleFired();
}
