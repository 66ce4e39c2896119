/**
 * Repeats a measurement disturbed by other processes on the machine and keeps the quietest attempt.
 */

/**
 * Other CPU load on the machine (percent of one core) above which a measured run counts as
 * disturbed.
 */
export const DISTURBED_PERCENT = 10;

/** How many times a disturbed run is repeated before the quietest attempt is kept anyway. */
export const DISTURBED_RETRIES = 2;

/** A measurement that knows how much CPU other processes used while it ran. */
export interface Disturbable {
  /** CPU used by processes outside the benchmark during the run, percent of one core. */
  readonly otherCpuPercent: number;
}

/**
 * Runs `measure`, and again up to {@link DISTURBED_RETRIES} times while other processes used more
 * than {@link DISTURBED_PERCENT} of a core; resolves with the quietest attempt.
 */
export async function quietestRun<T extends Disturbable>(
  measure: () => Promise<T>,
  progress: (message: string) => void,
): Promise<T> {
  let best = await measure();
  for (let retry = 1; retry <= DISTURBED_RETRIES && best.otherCpuPercent > DISTURBED_PERCENT; retry++) {
    progress(
      `  disturbed: other processes used ${best.otherCpuPercent.toFixed(0)}% of a core; measuring again`,
    );
    const again = await measure();
    if (again.otherCpuPercent < best.otherCpuPercent) best = again;
    else progress(`  disturbed again (${again.otherCpuPercent.toFixed(0)}%); keeping the quieter run`);
  }
  return best;
}

/**
 * The note closing a scenario's output: either that every run was quiet, or a warning naming the
 * runs that stayed disturbed (`labels`, e.g. `queue-proxy at 100 (13%)`).
 */
export function disturbanceNote(labels: readonly string[]): string {
  return labels.length === 0
    ? `Other processes used under ${DISTURBED_PERCENT}% of a core during every measured run.`
    : `WARNING: other processes used over ${DISTURBED_PERCENT}% of a core during: ${labels.join(', ')} ` +
        `(after ${DISTURBED_RETRIES} retries); those figures are disturbed, rerun on a quiet machine.`;
}
