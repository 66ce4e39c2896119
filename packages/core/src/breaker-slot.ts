import type { Breaker, Waiter } from './breaker.js';

/**
 * One request's place in the breaker: waiting, then holding a slot, released exactly once whichever
 * way the request ends. Shared by plain requests and upgraded connections.
 */
export class BreakerSlot {
  private waiter: Waiter | null = null;
  private holding = false;
  /** When it started waiting in the queue (`performance.now()` ms); 0 when admitted at once. */
  private queuedAt = 0;
  /** Milliseconds it waited for its slot; 0 when admitted at once (the only case on the hot path). */
  waitedMs = 0;

  constructor(private readonly breaker: Breaker) {}

  /**
   * Asks for a slot: `granted` is called now or, in arrival order, once one frees; returns false
   * (and calls nothing) when the breaker's queue is full.
   */
  acquire(granted: () => void): boolean {
    const admission = this.breaker.enter(() => {
      this.waiter = null;
      this.holding = true;
      this.waitedMs = Math.max(performance.now() - this.queuedAt, Number.MIN_VALUE);
      granted();
    });
    if (admission === 'full') return false;
    if (admission === 'run') {
      this.holding = true;
      granted();
    } else {
      this.waiter = admission;
      this.queuedAt = performance.now();
    }
    return true;
  }

  /** Leaves the queue, or hands the slot on; safe to call more than once. */
  release(): void {
    if (this.waiter) this.breaker.cancel(this.waiter);
    this.waiter = null;
    if (!this.holding) return;
    this.holding = false;
    this.breaker.release();
  }
}
