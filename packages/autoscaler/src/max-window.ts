/**
 * The maximum of values recorded over a trailing time window, used to delay scale-down
 * (`scale-down-delay`). Mirrors `pkg/autoscaler/aggregation/max/timewindow.go`.
 */

/**
 * Keeps the largest value per `granularityMs` slot and answers the maximum over the last
 * `windowMs`. Two values in the same slot keep the larger, as Knative's does.
 */
export class MaxWindow {
  private readonly slots: number;
  private readonly entries: { slot: number; value: number }[] = [];

  /** @param windowMs how far back to look; @param granularityMs the slot size (Knative: the 2 s tick). */
  constructor(
    windowMs: number,
    private readonly granularityMs: number,
  ) {
    this.slots = Math.max(1, Math.ceil(windowMs / granularityMs));
  }

  /** Records `value` at `timeMs` and returns the maximum over the window ending there. */
  record(timeMs: number, value: number): number {
    const slot = Math.floor(timeMs / this.granularityMs);
    while (this.entries.length > 0 && (this.entries[0] as { slot: number }).slot <= slot - this.slots) {
      this.entries.shift();
    }
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined && last.slot === slot) last.value = Math.max(last.value, value);
    else this.entries.push({ slot, value });
    let max = value;
    for (const e of this.entries) if (e.value > max) max = e.value;
    return max;
  }
}
