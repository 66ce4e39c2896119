/**
 * Measures one process tree across a window: CPU seconds from `/proc/<pid>/stat` deltas, the
 * highest resident memory seen while sampling `/proc/<pid>/status` and the highest proportional set
 * size seen while sampling `/proc/<pid>/smaps_rollup`.
 */
import {
  clockTicksPerSecond,
  type MemoryReading,
  readBusyTicks,
  readOwnTicks,
  readTree,
  type TreeReading,
} from './proc-stats.js';

/** What a process tree used during one measured window. */
export interface ProcessUsage {
  /** User plus system CPU seconds over the tree during the window. */
  readonly cpuSeconds: number;
  /** Wall-clock length of the window in seconds. */
  readonly wallSeconds: number;
  /** Highest summed resident set size seen during the window, KiB. */
  readonly maxRssKiB: number;
  /** Highest summed anonymous resident memory seen during the window, KiB. */
  readonly maxRssAnonKiB: number;
  /**
   * Highest summed proportional set size seen during the window, KiB (read every
   * {@link PSS_EVERY}th sample and at both ends); undefined where the kernel gives none.
   */
  readonly maxPssKiB: number | undefined;
  /** How many memory samples were taken. */
  readonly samples: number;
}

/** Default time between memory samples: often enough to catch the peak, rare enough to cost nothing. */
const SAMPLE_INTERVAL_MS = 100;

/**
 * PSS is read on every this many memory samples (every 500 ms by default), and at both ends of the
 * window: a read of `smaps_rollup` costs about 1 ms of the sampling process's CPU for a Node process,
 * and that process is the load generator. Under steady load the proportional size moves slowly.
 */
export const PSS_EVERY = 5;

/**
 * Samples a process tree from {@link ProcessSampler.start} to {@link ProcessSampler.stop}. CPU is
 * read at both ends only, since the kernel's counters are cumulative; memory is sampled on a timer.
 */
export class ProcessSampler {
  readonly #root: number;
  readonly #intervalMs: number;
  #startTicks = 0;
  #startTime = 0n;
  #maxRssKiB = 0;
  #maxRssAnonKiB = 0;
  #maxPssKiB: number | undefined;
  #samples = 0;
  #timer: NodeJS.Timeout | undefined;

  /** Watches the tree rooted at `root`; `intervalMs` spaces the memory samples. */
  constructor(root: number, intervalMs = SAMPLE_INTERVAL_MS) {
    if (!Number.isInteger(root) || root <= 0) throw new Error(`ProcessSampler: invalid pid ${root}`);
    this.#root = root;
    this.#intervalMs = intervalMs;
  }

  /** Opens the window: reads the CPU counters and starts sampling memory. */
  start(): void {
    const reading = readTree(this.#root, true);
    this.#startTicks = reading.ticks;
    this.#maxRssKiB = reading.rssKiB;
    this.#maxRssAnonKiB = reading.rssAnonKiB;
    this.#maxPssKiB = reading.pssKiB;
    this.#samples = 1;
    this.#startTime = process.hrtime.bigint();
    this.#timer = setInterval(() => this.#sample(), this.#intervalMs);
  }

  /** Closes the window and returns what the tree used during it. */
  stop(): ProcessUsage {
    if (this.#timer === undefined) throw new Error('ProcessSampler.stop() called before start()');
    clearInterval(this.#timer);
    this.#timer = undefined;
    const reading = readTree(this.#root, true);
    const wallSeconds = Number(process.hrtime.bigint() - this.#startTime) / 1e9;
    this.#record(reading);
    return {
      cpuSeconds: Math.max(0, reading.ticks - this.#startTicks) / clockTicksPerSecond(),
      wallSeconds,
      maxRssKiB: this.#maxRssKiB,
      maxRssAnonKiB: this.#maxRssAnonKiB,
      maxPssKiB: this.#maxPssKiB,
      samples: this.#samples,
    };
  }

  #sample(): void {
    this.#record(readTree(this.#root, this.#samples % PSS_EVERY === 0));
  }

  #record(reading: TreeReading): void {
    this.#samples++;
    if (reading.rssKiB > this.#maxRssKiB) this.#maxRssKiB = reading.rssKiB;
    if (reading.rssAnonKiB > this.#maxRssAnonKiB) this.#maxRssAnonKiB = reading.rssAnonKiB;
    const pss = reading.pssKiB;
    if (pss !== undefined && (this.#maxPssKiB === undefined || pss > this.#maxPssKiB)) this.#maxPssKiB = pss;
  }
}

/** Reads the summed resident memory of a tree once, in KiB (for the idle figure). */
export function idleRssKiB(root: number): number {
  return readTree(root).rssKiB;
}

/** Reads the summed resident memory of a tree and its anonymous part once, in KiB (for the idle figures). */
export function idleMemoryKiB(root: number): MemoryReading {
  const { rssKiB, rssAnonKiB } = readTree(root);
  return { rssKiB, rssAnonKiB };
}

/**
 * Measures CPU used on the machine by anything other than the benchmark: all busy time minus this
 * process's and the measured processes'. On a shared machine this is what tells a clean run from
 * one disturbed by a build or a test suite running alongside.
 */
export class BackgroundLoad {
  #busy = 0;
  #own = 0;
  #startTime = 0n;

  /** Opens the window. */
  start(): void {
    this.#busy = readBusyTicks();
    this.#own = readOwnTicks();
    this.#startTime = process.hrtime.bigint();
  }

  /**
   * Closes the window and returns the other load as a percentage of one core, given the CPU
   * seconds the measured processes used in the same window.
   */
  stop(measuredCpuSeconds: number): number {
    const wallSeconds = Number(process.hrtime.bigint() - this.#startTime) / 1e9;
    const ticks = readBusyTicks() - this.#busy - (readOwnTicks() - this.#own);
    const otherSeconds = ticks / clockTicksPerSecond() - measuredCpuSeconds;
    return wallSeconds > 0 ? Math.max(0, (otherSeconds / wallSeconds) * 100) : 0;
  }
}
