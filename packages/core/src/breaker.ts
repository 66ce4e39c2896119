/**
 * The breaker: at most `capacity` requests run at once and at most `queueDepth` wait for a slot, in
 * arrival order. Mirrors `pkg/queue/breaker.go`, except that waiters are admitted first in, first out
 * (Knative's waiters wake in no particular order, so under overload a waiter can be passed over many times).
 */

/** A request waiting for a slot; `cancel` it when its client leaves or its deadline passes. */
export class Waiter {
  /** @internal */ prev: Waiter | null = null;
  /** @internal */ next: Waiter | null = null;
  /** @internal */ queued = true;

  constructor(/** @internal */ readonly onAdmit: () => void) {}
}

/** What {@link Breaker.enter} decided: run now, wait (the returned {@link Waiter}), or rejected. */
export type Admission = 'run' | 'full' | Waiter;

/** Options of a {@link Breaker}. */
export interface BreakerOptions {
  /** Requests that may run at once (containerConcurrency); must be ≥ 1. */
  readonly capacity: number;
  /** Requests that may wait for a slot beyond those running. */
  readonly queueDepth: number;
}

/** Limits concurrency with a bounded FIFO queue of waiters. */
export class Breaker {
  readonly capacity: number;
  readonly queueDepth: number;
  private running = 0;
  private waiting = 0;
  private head: Waiter | null = null;
  private tail: Waiter | null = null;

  constructor(options: BreakerOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`breaker capacity must be a positive integer, got ${options.capacity}`);
    }
    if (!Number.isInteger(options.queueDepth) || options.queueDepth < 0) {
      throw new RangeError(`breaker queueDepth must be a non-negative integer, got ${options.queueDepth}`);
    }
    this.capacity = options.capacity;
    this.queueDepth = options.queueDepth;
  }

  /** Requests currently holding a slot. */
  get inFlight(): number {
    return this.running;
  }

  /** Requests currently waiting for a slot. */
  get queued(): number {
    return this.waiting;
  }

  /**
   * Admits a request: `'run'` when a slot is free now, `'full'` when running and waiting requests
   * already fill capacity + queueDepth, else a {@link Waiter} whose `onAdmit` is called, in arrival
   * order, when a slot frees. A request that ran or was admitted must call {@link release} once.
   */
  enter(onAdmit: () => void): Admission {
    if (this.running < this.capacity && this.waiting === 0) {
      this.running++;
      return 'run';
    }
    if (this.waiting >= this.queueDepth) return 'full';
    const waiter = new Waiter(onAdmit);
    waiter.prev = this.tail;
    if (this.tail) this.tail.next = waiter;
    else this.head = waiter;
    this.tail = waiter;
    this.waiting++;
    return waiter;
  }

  /** Removes a waiter that is still queued; a no-op once it was admitted. Returns whether it was queued. */
  cancel(waiter: Waiter): boolean {
    if (!waiter.queued) return false;
    this.unlink(waiter);
    return true;
  }

  /** Frees a slot and hands it to the oldest waiter, if any. */
  release(): void {
    const next = this.head;
    if (next === null) {
      if (this.running > 0) this.running--;
      return;
    }
    // The slot passes straight to the waiter, so `running` stays the same.
    this.unlink(next);
    next.onAdmit();
  }

  private unlink(waiter: Waiter): void {
    waiter.queued = false;
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.tail = waiter.prev;
    waiter.prev = null;
    waiter.next = null;
    this.waiting--;
  }
}

/**
 * Builds the breaker Knative's `buildBreaker` would (`pkg/queue/sharedmain/handlers.go`): none at CC=0,
 * else CC slots and 10×CC waiting.
 */
export function buildBreaker(containerConcurrency: number): Breaker | undefined {
  if (containerConcurrency === 0) return undefined;
  return new Breaker({ capacity: containerConcurrency, queueDepth: 10 * containerConcurrency });
}
