/**
 * The requests one revision holds while no Pod has room, and the order they leave in
 * (docs/activator.md §3.9): retried requests first; then, when keys or priorities reorder requests, any
 * request that has waited past the revision's bound, oldest first; then the highest priority class,
 * round-robin between the keys in it, first in first out within a key. Without keys or priorities that
 * is plain FIFO.
 */

/** Where a held request queues: its key (a tenant, '' for none) and priority class (0 the highest). */
export interface HoldPlace {
  readonly key: string;
  readonly priority: number;
}

/** The place of every request of a revision without keys or priorities. */
export const NO_PLACE: HoldPlace = { key: '', priority: 0 };

/** A request held for a Pod; `grant` runs with the reserved Pod, `refuse` if it is pushed out instead. */
export class HeldRequest<Pod = unknown> {
  /** @internal links within its key's FIFO */
  prev: HeldRequest<Pod> | null = null;
  /** @internal */ next: HeldRequest<Pod> | null = null;
  /** @internal links in arrival order (retries are not in it) */
  older: HeldRequest<Pod> | null = null;
  /** @internal */ newer: HeldRequest<Pod> | null = null;
  /** @internal the FIFO it is in */
  lane: Lane<Pod> | null = null;
  /** False once it left the queue (granted, refused or cancelled). */
  held = true;

  constructor(
    readonly grant: (pod: Pod) => void,
    readonly refuse: () => void,
    /** Body bytes reserved in the hold pool while held. */
    readonly bytes: number,
    readonly place: HoldPlace,
    /** When it was held (ms, the throttler's clock). */
    readonly heldAt: number,
  ) {}
}

/** One FIFO: a key's requests of one priority class, or the retries. */
class Lane<Pod> {
  head: HeldRequest<Pod> | null = null;
  tail: HeldRequest<Pod> | null = null;

  constructor(readonly key: string) {}
}

/** A priority class: the lanes of the keys with requests in it, served round-robin. */
class PriorityClass<Pod> {
  readonly lanes = new Map<string, Lane<Pod>>();
  readonly ring: Lane<Pod>[] = [];
  cursor = 0;
}

/** One revision's held requests. */
export class HeldQueue<Pod = unknown> {
  private readonly retries = new Lane<Pod>('');
  private classes: PriorityClass<Pod>[] = [new PriorityClass()];
  private oldest: HeldRequest<Pod> | null = null;
  private newest: HeldRequest<Pod> | null = null;
  /** Requests held per key (retries not counted). */
  private readonly perKey = new Map<string, number>();
  private count = 0;
  /** Whether keys or priorities may reorder requests, so that the wait bound applies. */
  private reorders = false;
  private maxWaitMs = Number.POSITIVE_INFINITY;

  /** Requests held now. */
  get size(): number {
    return this.count;
  }

  /** Keys with requests held now. */
  get keyCount(): number {
    return this.perKey.size;
  }

  /** Requests held now under `key`. */
  heldFor(key: string): number {
    return this.perKey.get(key) ?? 0;
  }

  /** Keys with requests held now. */
  keys(): IterableIterator<string> {
    return this.perKey.keys();
  }

  /**
   * Sets the number of priority classes and the wait bound. Requests already held keep their lanes; a
   * class that no longer exists is served as the lowest.
   */
  configure(classes: number, reorders: boolean, maxWaitMs: number): void {
    while (this.classes.length < classes) this.classes.push(new PriorityClass());
    this.reorders = reorders;
    this.maxWaitMs = maxWaitMs;
  }

  /** Holds `request`: a retry before every other request, the rest in their place. */
  push(request: HeldRequest<Pod>, retry: boolean): void {
    this.count++;
    if (retry) {
      this.append(this.retries, request);
      return;
    }
    const cls = this.classes[Math.min(request.place.priority, this.classes.length - 1)]!;
    let lane = cls.lanes.get(request.place.key);
    if (!lane) {
      lane = new Lane(request.place.key);
      cls.lanes.set(lane.key, lane);
      cls.ring.push(lane);
    }
    this.append(lane, request);
    this.perKey.set(lane.key, (this.perKey.get(lane.key) ?? 0) + 1);
    request.older = this.newest;
    if (this.newest) this.newest.newer = request;
    else this.oldest = request;
    this.newest = request;
  }

  /** The next request to get a Pod, taken out of the queue; null when none is held. */
  shift(now: number): HeldRequest<Pod> | null {
    const next = this.peek(now);
    if (next) this.remove(next);
    return next;
  }

  /** The newest held request of the key holding the most, retries aside; null when none. */
  newestOfLargestKey(): HeldRequest<Pod> | null {
    let largest: string | undefined;
    let most = 0;
    for (const [key, n] of this.perKey) {
      if (n > most) {
        largest = key;
        most = n;
      }
    }
    for (let r = this.newest; r; r = r.older) if (r.place.key === largest) return r;
    return null;
  }

  /** The newest held request of `key`; null when it holds none. */
  newestOf(key: string): HeldRequest<Pod> | null {
    for (let r = this.newest; r; r = r.older) if (r.place.key === key) return r;
    return null;
  }

  /** Takes `request` out of the queue (granted, refused or cancelled). */
  remove(request: HeldRequest<Pod>): void {
    const lane = request.lane;
    if (!lane || !request.held) return;
    request.held = false;
    this.count--;
    if (request.prev) request.prev.next = request.next;
    else lane.head = request.next;
    if (request.next) request.next.prev = request.prev;
    else lane.tail = request.prev;
    request.prev = request.next = null;
    request.lane = null;
    if (lane === this.retries) return;
    if (request.older) request.older.newer = request.newer;
    else this.oldest = request.newer;
    if (request.newer) request.newer.older = request.older;
    else this.newest = request.older;
    request.older = request.newer = null;
    const left = (this.perKey.get(lane.key) ?? 1) - 1;
    if (left === 0) this.perKey.delete(lane.key);
    else this.perKey.set(lane.key, left);
    if (lane.head === null) this.dropLane(lane, request.place.priority);
  }

  private peek(now: number): HeldRequest<Pod> | null {
    if (this.retries.head) return this.retries.head;
    const oldest = this.oldest;
    if (!oldest) return null;
    if (!this.reorders || now - oldest.heldAt >= this.maxWaitMs) return oldest;
    for (const cls of this.classes) {
      const n = cls.ring.length;
      if (n === 0) continue;
      const index = cls.cursor % n;
      // The lane after this one is next; when this one empties, it is removed and the index stays.
      cls.cursor = index + 1;
      return cls.ring[index]!.head;
    }
    return null;
  }

  private append(lane: Lane<Pod>, request: HeldRequest<Pod>): void {
    request.lane = lane;
    request.prev = lane.tail;
    if (lane.tail) lane.tail.next = request;
    else lane.head = request;
    lane.tail = request;
  }

  private dropLane(lane: Lane<Pod>, priority: number): void {
    const cls = this.classes[Math.min(priority, this.classes.length - 1)]!;
    if (cls.lanes.get(lane.key) !== lane) return;
    cls.lanes.delete(lane.key);
    const index = cls.ring.indexOf(lane);
    cls.ring.splice(index, 1);
    if (index < cls.cursor) cls.cursor--;
  }
}
