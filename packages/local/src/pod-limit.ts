/**
 * The machine-wide Pod limit: the autoscaler decides per revision and knows nothing of the machine, so
 * a flood at zero without `max-scale` can ask for more Pods than the machine holds (143 Pods, 18 GB, on
 * 2 cores). The platform runs at most `maxPods` Pods over all revisions and says so once per revision
 * each time a revision's wish crosses the limit.
 */
import { availableParallelism, freemem } from 'node:os';

/**
 * Memory of one Pod, measured: a queue-proxy (~65 MiB resident) and a small Node app (~60 MiB).
 */
export const ESTIMATED_POD_BYTES = 128 * 1024 * 1024;
/** Pods per core by default: most Pods wait on I/O, and past this they mostly contend. */
export const PODS_PER_CORE = 20;
/** Share of the memory available at start that Pods may take by default. */
export const POD_MEMORY_SHARE = 0.75;

/**
 * The default limit: `min(cores × 20, ⌊available memory × 0.75 / 128 MiB⌋)`, at least 1.
 */
export function defaultPodLimit(cores: number, availableBytes: number): number {
  const byCpu = cores * PODS_PER_CORE;
  const byMemory = Math.floor((availableBytes * POD_MEMORY_SHARE) / ESTIMATED_POD_BYTES);
  return Math.max(1, Math.min(byCpu, byMemory));
}

/** The default limit of this machine now. */
export function machinePodLimit(): number {
  return defaultPodLimit(availableParallelism(), freemem());
}

/**
 * Grants each revision the Pods it wants while the sum stays within {@link max}. A revision keeps
 * what it was granted; Pods a revision gives up go to revisions still short, in the order they fell
 * short. `onCapped` is called when a revision's wish goes beyond its grant, and not again until it
 * was granted in full once.
 */
export class PodLimit<K> {
  private readonly wanted = new Map<K, number>();
  private readonly granted = new Map<K, number>();
  /** Revisions granted less than they want, in the order they fell short. */
  private readonly short = new Set<K>();

  constructor(
    readonly max: number,
    private readonly onCapped: (key: K, wanted: number, granted: number) => void,
  ) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`PodLimit max must be ≥ 1, got ${max}`);
  }

  /** Pods granted over all revisions. */
  get total(): number {
    let sum = 0;
    for (const n of this.granted.values()) sum += n;
    return sum;
  }

  /** What `key` last asked for. */
  wantedBy(key: K): number {
    return this.wanted.get(key) ?? 0;
  }

  /** What `key` may run. */
  grantOf(key: K): number {
    return this.granted.get(key) ?? 0;
  }

  /** Records what `key` wants; returns every revision whose grant changed, with its new grant. */
  want(key: K, n: number): Map<K, number> {
    this.wanted.set(key, n);
    const changed = new Map<K, number>();
    const others = this.total - this.grantOf(key);
    this.grant(key, Math.min(n, Math.max(0, this.max - others)), changed);
    // Whatever is left goes to revisions still short, first come first served.
    for (const other of this.short) {
      const spare = this.max - this.total;
      if (spare <= 0) break;
      if (other === key) continue;
      this.grant(
        other,
        this.grantOf(other) + Math.min(spare, this.wantedBy(other) - this.grantOf(other)),
        changed,
      );
    }
    return changed;
  }

  private grant(key: K, n: number, changed: Map<K, number>): void {
    if (n !== this.grantOf(key)) {
      this.granted.set(key, n);
      changed.set(key, n);
    }
    const wanted = this.wantedBy(key);
    if (n < wanted) {
      if (!this.short.has(key)) {
        this.short.add(key);
        this.onCapped(key, wanted, n);
      }
    } else {
      this.short.delete(key);
    }
  }
}
