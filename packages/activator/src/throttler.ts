/**
 * The activator's per-revision throttle (docs/activator.md §3.3, `pkg/activator/net/throttler.go`,
 * `lb_policy.go`): which Pods this activator may use (subsetting across activators), how many requests each
 * Pod may run (containerConcurrency), which Pod a request goes to (the load-balancing policy), and a FIFO of
 * held requests while no Pod has room. Unlike Knative's, the holding is bounded: per revision by count and
 * process-wide by request-body bytes ({@link ByteBudget}), past which requests are refused.
 */

/** A Pod this activator forwards to, with the requests it runs now. */
export class PodSlot {
  inFlight = 0;
  /** False once the Pod left this activator's set; its slot is kept while requests still run on it. */
  active = true;

  constructor(
    readonly address: string,
    public capacity: number,
  ) {}

  get hasRoom(): boolean {
    return this.inFlight < this.capacity;
  }
}

/** A process-wide budget of held request-body bytes. */
export class ByteBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /** Reserves `n` bytes; false (nothing reserved) when that would pass the limit. */
  reserve(n: number): boolean {
    if (n === 0) return true;
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  release(n: number): void {
    this.used -= n;
  }
}

/** A request held for a Pod; `grant` is called with the reserved Pod, in arrival order. */
export class HeldRequest {
  /** @internal */ prev: HeldRequest | null = null;
  /** @internal */ next: HeldRequest | null = null;
  /** @internal */ held = true;

  constructor(
    readonly grant: (pod: PodSlot) => void,
    /** Body bytes reserved in the {@link ByteBudget} while held. */
    readonly bytes: number,
  ) {}
}

/** What {@link RevisionThrottler.acquire} decided: a Pod now, held, or refused (a cap is reached). */
export type Acquired = PodSlot | HeldRequest | 'full';

/** Limits shared by every revision's throttler. */
export interface ThrottleLimits {
  /** Requests held per revision. */
  readonly maxHeld: number;
  readonly bytes: ByteBudget;
}

/**
 * Chooses this activator's Pods from all healthy ones (CC > 0 only; docs/activator.md §3.5): Pods and
 * activators sorted; with A activators and N Pods, activator i takes Pod i mod N when A > N, else the
 * contiguous slice of ⌊N/A⌋ starting at i·⌊N/A⌋ plus, when i < N mod A, one of the last N mod A Pods.
 * An activator not among `activators` (or alone) uses every Pod.
 */
export function assignPods(pods: readonly string[], activators: readonly string[], self: string): string[] {
  const sorted = [...pods].sort();
  const peers = [...activators].sort();
  const index = peers.indexOf(self);
  if (index < 0 || peers.length <= 1 || sorted.length === 0) return sorted;
  const a = peers.length;
  const n = sorted.length;
  if (a > n) return [sorted[index % n]!];
  const per = Math.floor(n / a);
  const rest = n % a;
  const mine = sorted.slice(index * per, index * per + per);
  if (index < rest) mine.push(sorted[n - rest + index]!);
  return mine;
}

/** Throttles one revision's requests onto its Pods. */
export class RevisionThrottler {
  private containerConcurrency = 0;
  private pods: PodSlot[] = [];
  private readonly byAddress = new Map<string, PodSlot>();
  private roundRobin = 0;
  private head: HeldRequest | null = null;
  private tail: HeldRequest | null = null;
  private heldCount = 0;
  private inFlightCount = 0;
  private draining = false;

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly random: () => number = Math.random,
  ) {}

  /** Requests held now. */
  get held(): number {
    return this.heldCount;
  }

  /** Requests running on a Pod now. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Pods this activator may use now. */
  get podCount(): number {
    return this.pods.length;
  }

  /** Requests the revision may run at once here: CC × Pods, or Infinity at CC=0 with a Pod. */
  get capacity(): number {
    if (this.pods.length === 0) return 0;
    return this.containerConcurrency === 0
      ? Number.POSITIVE_INFINITY
      : this.containerConcurrency * this.pods.length;
  }

  /**
   * Sets the healthy Pods, the activators in the path and containerConcurrency, then hands any freed room
   * to held requests. Pods that stay keep their in-flight counts, so no Pod is ever sent more than CC.
   */
  update(
    containerConcurrency: number,
    healthy: readonly string[],
    activators: readonly string[],
    self: string,
  ): void {
    this.containerConcurrency = containerConcurrency;
    const capacity = containerConcurrency === 0 ? Number.POSITIVE_INFINITY : containerConcurrency;
    const assigned = containerConcurrency === 0 ? [...healthy].sort() : assignPods(healthy, activators, self);
    const keep = new Set(assigned);
    for (const [address, slot] of this.byAddress) {
      if (keep.has(address)) continue;
      // A Pod that leaves while requests still run on it stays known until they end, so that if it
      // comes back it is not handed more than CC on top of them.
      slot.active = false;
      if (slot.inFlight <= 0) this.byAddress.delete(address);
    }
    this.pods = assigned.map((address) => {
      let slot = this.byAddress.get(address);
      if (!slot) {
        slot = new PodSlot(address, capacity);
        this.byAddress.set(address, slot);
      }
      slot.active = true;
      slot.capacity = capacity;
      return slot;
    });
    if (this.roundRobin >= this.pods.length) this.roundRobin = 0;
    this.drain();
  }

  /**
   * Asks for a Pod: one now if a Pod has room and nobody is held before it (or `retry`, which keeps its
   * turn), else held in FIFO order with `bytes` reserved, or 'full' past a cap.
   */
  acquire(grant: (pod: PodSlot) => void, bytes: number, retry = false): Acquired {
    if (this.heldCount === 0 || retry) {
      const pod = this.pick();
      if (pod) {
        this.take(pod);
        return pod;
      }
    }
    if (this.heldCount >= this.limits.maxHeld) return 'full';
    if (!this.limits.bytes.reserve(bytes)) return 'full';
    const held = new HeldRequest(grant, bytes);
    if (retry) this.pushFront(held);
    else this.pushBack(held);
    this.heldCount++;
    return held;
  }

  /** Withdraws a held request (its client left or it timed out); a no-op once granted. */
  cancel(held: HeldRequest): void {
    if (!held.held) return;
    this.unlink(held);
  }

  /** Ends a request that ran on `pod`, freeing its slot for the next held request. */
  release(pod: PodSlot): void {
    this.inFlightCount--;
    pod.inFlight--;
    if (!pod.active && pod.inFlight <= 0 && this.byAddress.get(pod.address) === pod)
      this.byAddress.delete(pod.address);
    this.drain();
  }

  private take(pod: PodSlot): void {
    pod.inFlight++;
    this.inFlightCount++;
  }

  private drain(): void {
    // Granting may release synchronously (a request that already ended): loop instead of recursing.
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.head) {
        const pod = this.pick();
        if (!pod) break;
        const held = this.head;
        this.unlink(held);
        this.take(pod);
        held.grant(pod);
      }
    } finally {
      this.draining = false;
    }
  }

  /** The load-balancing policy of `lb_policy.go`, chosen by containerConcurrency. */
  private pick(): PodSlot | undefined {
    const pods = this.pods;
    const n = pods.length;
    if (n === 0) return undefined;
    const cc = this.containerConcurrency;
    if (cc === 0) {
      // Power of two choices on in-flight requests, random tie-break.
      if (n === 1) return pods[0];
      const i = Math.floor(this.random() * n);
      let j = Math.floor(this.random() * (n - 1));
      if (j >= i) j++;
      const a = pods[i]!;
      const b = pods[j]!;
      if (a.inFlight === b.inFlight) return this.random() < 0.5 ? a : b;
      return a.inFlight < b.inFlight ? a : b;
    }
    if (cc <= 3) {
      // First Pod with room: small CC packs requests onto the fewest Pods.
      for (const pod of pods) if (pod.hasRoom) return pod;
      return undefined;
    }
    for (let k = 0; k < n; k++) {
      const index = (this.roundRobin + k) % n;
      const pod = pods[index]!;
      if (pod.hasRoom) {
        this.roundRobin = (index + 1) % n;
        return pod;
      }
    }
    return undefined;
  }

  private pushBack(held: HeldRequest): void {
    held.prev = this.tail;
    if (this.tail) this.tail.next = held;
    else this.head = held;
    this.tail = held;
  }

  private pushFront(held: HeldRequest): void {
    held.next = this.head;
    if (this.head) this.head.prev = held;
    else this.tail = held;
    this.head = held;
  }

  private unlink(held: HeldRequest): void {
    held.held = false;
    if (held.prev) held.prev.next = held.next;
    else this.head = held.next;
    if (held.next) held.next.prev = held.prev;
    else this.tail = held.prev;
    held.prev = held.next = null;
    this.heldCount--;
    this.limits.bytes.release(held.bytes);
  }
}
