/**
 * Which of a revision's Pods the activator may send to (docs/activator.md §4.2,
 * `pkg/activator/net/revision_backends.go`): Pods Kubernetes reports ready are trusted; Pods not ready yet
 * are probed every `frequencyMs` and used the moment their queue-proxy answers, before Kubernetes catches up.
 * A Pod that failed a request, or went from ready to not ready, is probed again before it gets more traffic.
 */

/** Probes one Pod; resolves true when its queue-proxy answers `200 queue` within the timeout. */
export type PodProbe = (address: string) => Promise<boolean>;

/** Tracks one revision's usable Pods. */
export class RevisionBackends {
  private ready = new Set<string>();
  private notReady = new Set<string>();
  /** Not-ready Pods that passed our own probe. */
  private readonly probed = new Set<string>();
  /** Ready Pods that failed a request: not used until a probe passes again. */
  private readonly suspect = new Set<string>();
  private healthy: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly inProbe = new Set<string>();
  private stopped = false;
  /** How many Pods Kubernetes reported last, ready or not. */
  private known = 0;
  /**
   * When the revision's Pods last appeared after it had none (`performance.now()` ms; 0 never): a held
   * request's cold start is its hold until then and its probe after (docs/activator.md §7).
   */
  podsSeenAt = 0;

  constructor(
    private readonly probe: PodProbe,
    private readonly frequencyMs: number,
    /** Called with the sorted usable Pods whenever they change. */
    private readonly onChange: (healthy: readonly string[]) => void,
  ) {}

  /** The Pods usable now, sorted. */
  get current(): readonly string[] {
    return this.healthy;
  }

  /** Sets the Pods Kubernetes reports, ready and not. */
  update(ready: readonly string[], notReady: readonly string[]): void {
    const nextNotReady = new Set(notReady);
    const known = ready.length + notReady.length;
    if (known > 0 && this.known === 0) this.podsSeenAt = performance.now();
    this.known = known;
    // A Pod that went from ready to not ready (draining, failing) must pass our probe again.
    for (const address of this.ready) if (nextNotReady.has(address)) this.probed.delete(address);
    this.ready = new Set(ready);
    this.notReady = nextNotReady;
    for (const address of this.probed) if (!this.notReady.has(address)) this.probed.delete(address);
    for (const address of this.suspect) if (!this.ready.has(address)) this.suspect.delete(address);
    this.recompute();
    this.schedule(0);
  }

  /** A request to `address` failed to connect: stop using it until it passes a probe. */
  reportFailure(address: string): void {
    if (this.ready.has(address)) this.suspect.add(address);
    this.probed.delete(address);
    this.recompute();
    this.schedule(0);
  }

  /** Stops probing. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private pending(): string[] {
    const out: string[] = [];
    for (const address of this.notReady) if (!this.probed.has(address)) out.push(address);
    for (const address of this.suspect) out.push(address);
    return out;
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.pending().length === 0) return;
    if (this.timer) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => this.round(), delayMs);
  }

  private round(): void {
    this.timer = null;
    if (this.stopped) return;
    for (const address of this.pending()) {
      if (this.inProbe.has(address)) continue;
      this.inProbe.add(address);
      this.probe(address).then(
        (ok) => this.probeDone(address, ok),
        () => this.probeDone(address, false),
      );
    }
    this.schedule(this.frequencyMs);
  }

  private probeDone(address: string, ok: boolean): void {
    this.inProbe.delete(address);
    if (!ok || this.stopped) return;
    if (this.suspect.delete(address) || (this.notReady.has(address) && !this.probed.has(address))) {
      if (this.notReady.has(address)) this.probed.add(address);
      this.recompute();
    }
  }

  private recompute(): void {
    const next: string[] = [];
    for (const address of this.ready) if (!this.suspect.has(address)) next.push(address);
    for (const address of this.probed) next.push(address);
    next.sort();
    if (next.length === this.healthy.length && next.every((a, i) => a === this.healthy[i])) return;
    this.healthy = next;
    this.onChange(next);
  }
}
