/**
 * The value axis of a chart: always from zero (a bar chart whose axis starts elsewhere exaggerates
 * differences) up to a round number at or above the largest figure.
 */

/** A linear axis from 0 to `max`, with round tick values. */
export interface LinearScale {
  /** The top of the axis, at or above every figure plotted on it. */
  readonly max: number;
  /** Tick values from 0 to `max` inclusive, evenly spaced. */
  readonly ticks: readonly number[];
}

/** Round steps per power of ten: 1, 2, 2.5, 5. */
const STEPS = [1, 2, 2.5, 5, 10];

/**
 * A scale from 0 covering every finite value of `values` (negative and missing ones are ignored)
 * with about `targetTicks` intervals; with nothing positive to show it spans 0 to 1.
 */
export function linearScale(values: readonly (number | undefined)[], targetTicks = 5): LinearScale {
  let top = 0;
  for (const value of values) if (value !== undefined && Number.isFinite(value) && value > top) top = value;
  if (top === 0) return { max: 1, ticks: [0, 0.25, 0.5, 0.75, 1] };
  const rough = top / Math.max(1, targetTicks);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = (STEPS.find((s) => s * power >= rough) ?? 10) * power;
  const count = Math.ceil(top / step - 1e-9);
  // Multiplying rather than adding keeps 0.1 + 0.2-style error out of the tick values.
  const ticks = Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)));
  return { max: ticks[ticks.length - 1]!, ticks };
}
