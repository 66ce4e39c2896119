/**
 * The activator's per-revision throttle (docs/activator.md §3.3, `pkg/activator/net/throttler.go`,
 * `lb_policy.go`): which Pods this activator may use (subsetting across activators), how many requests each
 * Pod may run (containerConcurrency), which Pod a request goes to (the load-balancing policy), and the
 * requests held while no Pod has room ({@link HeldQueue}). Unlike Knative's, the holding is bounded, per
 * revision and process-wide ({@link HoldPool}, shared fairly), and a new Pod's concurrency ramps up over a
 * short window (slow start) so that a crowd of held requests does not land on a cold app at once.
 */
import { HeldQueue, HeldRequest, type HoldPlace, NO_PLACE } from './held-queue.js';
import type { HoldPool, PoolAccount } from './hold-pool.js';
import { DEFAULT_HOLDING, type HoldingSettings } from './revision-settings.js';

/** A Pod this activator forwards to, with the requests it runs now. */
export class PodSlot {
  inFlight = 0;
  /** Requests it answered: they raise its concurrency while it slow-starts. */
  answered = 0;
  /** False once the Pod left this activator's set; its slot is kept while requests still run on it. */
  active = true;

  constructor(
    readonly address: string,
    public capacity: number,
    /** When it joined this activator's set (ms), for slow start. */
    readonly joinedAt: number,
  ) {}

  get hasRoom(): boolean {
    return this.inFlight < this.capacity;
  }
}

/** What {@link RevisionThrottler.acquire} decided: a Pod now, held, or refused (a cap is reached). */
export type Acquired = PodSlot | HeldRequest<PodSlot> | 'full';

/** Limits shared by every revision's throttler. */
export interface ThrottleLimits {
  /** Requests held per revision. */
  readonly maxHeld: number;
  /** The process-wide caps, shared max-min fairly between revisions. */
  readonly pool: HoldPool;
}

/** The concurrency a Pod starts at under slow start. */
export const SLOW_START_INITIAL = 2;
/** The window's steps, at each of which a slow-starting Pod's concurrency at least doubles. */
export const SLOW_START_STEPS = 7;

/**
 * How many requests a Pod that joined `elapsedMs` ago and has answered `answered` requests since may run
 * while it slow-starts over `windowMs`: {@link SLOW_START_INITIAL} plus one for each request it answered,
 * which doubles its concurrency each round trip as TCP's slow start does, so a fast app is barely held
 * back and a slow one sets its own pace; and at least {@link SLOW_START_INITIAL} doubled at each of
 * {@link SLOW_START_STEPS} equal steps of the window (2, 4, … 128). Then its full capacity (HAProxy's
 * `slowstart` and Envoy's slow start mode ramp a new server likewise).
 */
export function slowStartLimit(capacity: number, elapsedMs: number, windowMs: number, answered = 0): number {
  if (elapsedMs >= windowMs) return capacity;
  const step = Math.floor((elapsedMs * SLOW_START_STEPS) / windowMs);
  return Math.min(capacity, Math.max(SLOW_START_INITIAL * 2 ** step, SLOW_START_INITIAL + answered));
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
  private readonly queue = new HeldQueue<PodSlot>();
  private settings: HoldingSettings = DEFAULT_HOLDING;
  private inFlightCount = 0;
  private draining = false;
  /** Until when some Pod may still be slow-starting (ms); none after. */
  private rampEndsAt = 0;
  private rampTimer: NodeJS.Timeout | null = null;
  /** This revision's share of the process-wide caps. */
  private readonly account: PoolAccount = {
    count: 0,
    bytes: 0,
    evictNewest: () => this.refuse(this.queue.newestOfLargestKey()),
  };

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Requests held now. */
  get held(): number {
    return this.queue.size;
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

  /** Where a request with these headers queues, by the revision's key and priority headers. */
  placeOf(header: (lowerName: string) => string | undefined): HoldPlace {
    const { keyHeader, priority } = this.settings;
    if (keyHeader === undefined && priority === undefined) return NO_PLACE;
    const key = keyHeader === undefined ? '' : (header(keyHeader) ?? '');
    if (priority === undefined) return { key, priority: 0 };
    const value = header(priority.header);
    return {
      key,
      priority: (value === undefined ? undefined : priority.classes.get(value)) ?? priority.fallback,
    };
  }

  /** Takes the revision's holding and waking settings (from its annotations). */
  configure(settings: HoldingSettings): void {
    this.settings = settings;
    const reorders = settings.keyHeader !== undefined || settings.priority !== undefined;
    this.queue.configure(settings.priority?.count ?? 1, reorders, settings.maxWaitMs);
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
    const now = this.now();
    this.pods = assigned.map((address) => {
      let slot = this.byAddress.get(address);
      if (!slot) {
        slot = new PodSlot(address, capacity, now);
        this.byAddress.set(address, slot);
        if (this.settings.slowStartMs > 0)
          this.rampEndsAt = Math.max(this.rampEndsAt, now + this.settings.slowStartMs);
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
   * turn), else held in its `place` with `bytes` reserved, or 'full' past a cap. A held request may later
   * be pushed out by a request with a fairer claim to the caps: `refuse` runs then, instead of `grant`.
   */
  acquire(
    grant: (pod: PodSlot) => void,
    bytes: number,
    retry = false,
    place: HoldPlace = NO_PLACE,
    refuse: () => void = noop,
  ): Acquired {
    if (this.queue.size === 0 || retry) {
      const pod = this.pick(this.rampEndsAt === 0 ? 0 : this.now());
      if (pod) {
        this.take(pod);
        return pod;
      }
    }
    if (this.queue.size >= this.limits.maxHeld && !this.makeRoom(place.key)) return 'full';
    if (!this.limits.pool.reserve(this.account, bytes)) return 'full';
    const held = new HeldRequest<PodSlot>(grant, refuse, bytes, place, this.now());
    this.queue.push(held, retry);
    this.scheduleRamp();
    return held;
  }

  /** Withdraws a held request (its client left or it timed out); a no-op once granted. */
  cancel(held: HeldRequest<PodSlot>): void {
    if (!held.held) return;
    this.unhold(held);
  }

  /** Ends a request that ran on `pod`, freeing its slot for the next held request. */
  release(pod: PodSlot): void {
    this.inFlightCount--;
    pod.inFlight--;
    pod.answered++;
    if (!pod.active && pod.inFlight <= 0 && this.byAddress.get(pod.address) === pod)
      this.byAddress.delete(pod.address);
    this.drain();
  }

  /** Stops the slow-start timer (the revision is gone). */
  stop(): void {
    if (this.rampTimer) clearTimeout(this.rampTimer);
    this.rampTimer = null;
  }

  /**
   * The revision is at its own cap: a key under its fair share of it (the cap ÷ the keys holding) takes the
   * place of the newest request of the key furthest over its share. False when `key` may not.
   */
  private makeRoom(key: string): boolean {
    const q = this.queue;
    const keys = q.keyCount + (q.heldFor(key) > 0 ? 0 : 1);
    const share = this.limits.maxHeld / keys;
    if (q.heldFor(key) + 1 > share) return false;
    let victim: string | undefined;
    let most = share;
    for (const k of q.keys()) {
      if (q.heldFor(k) > most) {
        victim = k;
        most = q.heldFor(k);
      }
    }
    return victim !== undefined && this.refuse(q.newestOf(victim));
  }

  /** Pushes `held` out of the queue and answers it; false when there was none. */
  private refuse(held: HeldRequest<PodSlot> | null): boolean {
    if (!held) return false;
    this.unhold(held);
    held.refuse();
    return true;
  }

  private unhold(held: HeldRequest<PodSlot>): void {
    this.queue.remove(held);
    this.limits.pool.release(this.account, held.bytes);
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
      while (this.queue.size > 0) {
        const now = this.rampEndsAt === 0 ? 0 : this.now();
        const pod = this.pick(now);
        if (!pod) break;
        const held = this.queue.shift(now)!;
        this.limits.pool.release(this.account, held.bytes);
        this.take(pod);
        held.grant(pod);
      }
    } finally {
      this.draining = false;
    }
    this.scheduleRamp();
  }

  /**
   * While requests are held and a Pod slow-starts, wakes the queue when the next Pod's limit grows: the
   * held requests would otherwise wait for a request to end.
   */
  private scheduleRamp(): void {
    if (this.rampTimer || this.queue.size === 0 || this.rampEndsAt === 0) return;
    const now = this.now();
    if (now >= this.rampEndsAt) {
      this.rampEndsAt = 0;
      return;
    }
    const window = this.settings.slowStartMs;
    let next = this.rampEndsAt;
    for (const pod of this.pods) {
      const elapsed = now - pod.joinedAt;
      if (elapsed >= window) continue;
      const step = Math.floor((elapsed * SLOW_START_STEPS) / window) + 1;
      next = Math.min(next, pod.joinedAt + Math.ceil((step * window) / SLOW_START_STEPS));
    }
    this.rampTimer = setTimeout(
      () => {
        this.rampTimer = null;
        this.drain();
      },
      Math.max(1, next - now),
    );
    this.rampTimer.unref();
  }

  /** Whether `pod` may take one more request now (`now` 0: no Pod slow-starts). */
  private hasRoom(pod: PodSlot, now: number): boolean {
    if (now === 0 || now - pod.joinedAt >= this.settings.slowStartMs) return pod.hasRoom;
    const elapsed = now - pod.joinedAt;
    return pod.inFlight < slowStartLimit(pod.capacity, elapsed, this.settings.slowStartMs, pod.answered);
  }

  /** The load-balancing policy of `lb_policy.go`, chosen by containerConcurrency. */
  private pick(now: number): PodSlot | undefined {
    const pods = this.pods;
    const n = pods.length;
    if (n === 0) return undefined;
    if (now !== 0 && now >= this.rampEndsAt) {
      this.rampEndsAt = 0;
      now = 0;
    }
    const cc = this.containerConcurrency;
    if (cc === 0) {
      // Power of two choices on in-flight requests, random tie-break.
      if (n === 1) return this.hasRoom(pods[0]!, now) ? pods[0] : undefined;
      const i = Math.floor(this.random() * n);
      let j = Math.floor(this.random() * (n - 1));
      if (j >= i) j++;
      const a = pods[i]!;
      const b = pods[j]!;
      const choice =
        a.inFlight === b.inFlight ? (this.random() < 0.5 ? a : b) : a.inFlight < b.inFlight ? a : b;
      if (now === 0 || this.hasRoom(choice, now)) return choice;
      // A slow-starting Pod is full: the least busy Pod with room, if any.
      let best: PodSlot | undefined;
      for (const pod of pods)
        if (this.hasRoom(pod, now) && (!best || pod.inFlight < best.inFlight)) best = pod;
      return best;
    }
    if (cc <= 3) {
      // First Pod with room: small CC packs requests onto the fewest Pods.
      for (const pod of pods) if (this.hasRoom(pod, now)) return pod;
      return undefined;
    }
    for (let k = 0; k < n; k++) {
      const index = (this.roundRobin + k) % n;
      const pod = pods[index]!;
      if (this.hasRoom(pod, now)) {
        this.roundRobin = (index + 1) % n;
        return pod;
      }
    }
    return undefined;
  }
}

function noop(): void {}
