/**
 * Coalesces changes to keyed state before they are delivered. An informer's relist reports its objects
 * one at a time, synchronously: every key marked in one turn is delivered once, on a microtask, with the
 * net result. Nothing is delivered while paused (before the first full lists, or while a source
 * switches), and everything marked meanwhile goes out on resume.
 */
export class ChangeBatcher {
  private readonly dirty = new Set<string>();
  private queued = false;
  private delivering = false;

  /** `deliver` is called once per marked key, when that key is delivered. */
  constructor(private readonly deliver: (key: string) => void) {}

  /** True while marks are delivered. */
  get live(): boolean {
    return this.delivering;
  }

  /** Delivers what was marked so far, and from now on every mark. */
  resume(): void {
    this.delivering = true;
    this.flush();
  }

  /** Holds marks until {@link resume}. */
  pause(): void {
    this.delivering = false;
  }

  /** Notes that `key` changed. */
  mark(key: string): void {
    this.dirty.add(key);
    if (!this.delivering || this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.flush();
    });
  }

  private flush(): void {
    if (!this.delivering) return;
    for (const key of this.dirty) {
      this.dirty.delete(key);
      this.deliver(key);
    }
  }
}
