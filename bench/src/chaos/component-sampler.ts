/**
 * Peak memory and CPU of a component that may die or be stopped during the window: the `/proc` tree is
 * read every 100 ms and the highest readings kept. {@link ProcessSampler} reads CPU at both ends of its
 * window, which for a process killed in between reads nothing at the end; this one keeps the last
 * reading taken while the process lived.
 */
import { clockTicksPerSecond, readTree } from '../proc-stats.js';

/** What the component used while it was watched. */
export interface ComponentUsage {
  readonly cpuSeconds: number;
  readonly peakRssKiB: number;
}

/** Samples the process tree rooted at `pid` from construction to {@link ComponentSampler.stop}. */
export class ComponentSampler {
  readonly #pid: number;
  readonly #startTicks: number;
  #lastTicks: number;
  #peakRssKiB: number;
  readonly #timer: NodeJS.Timeout;

  constructor(pid: number, intervalMs = 100) {
    this.#pid = pid;
    const first = readTree(pid);
    this.#startTicks = first.ticks;
    this.#lastTicks = first.ticks;
    this.#peakRssKiB = first.rssKiB;
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const reading = readTree(this.#pid);
    if (reading.pids.length === 0) return;
    if (reading.ticks > this.#lastTicks) this.#lastTicks = reading.ticks;
    if (reading.rssKiB > this.#peakRssKiB) this.#peakRssKiB = reading.rssKiB;
  }

  /** Takes a last sample, stops, and returns the usage. */
  stop(): ComponentUsage {
    this.#sample();
    clearInterval(this.#timer);
    return {
      cpuSeconds: (this.#lastTicks - this.#startTicks) / clockTicksPerSecond(),
      peakRssKiB: this.#peakRssKiB,
    };
  }
}
