import type { SpanContext } from './trace-context.js';

/**
 * Which requests are traced, as OpenTelemetry's samplers decide (`OTEL_TRACES_SAMPLER`): a ratio of new
 * traces, and, parent-based, the caller's decision whenever it made one. Knative ≤ 1.18 (OpenCensus's
 * ProbabilitySampler) and ≥ 1.19 (`ParentBased(TraceIDRatioBased(samplingRate))`) both follow a
 * sampled parent.
 */
export interface SamplerSettings {
  /** Follow the caller's sampled or unsampled decision when there is one. */
  readonly parentBased: boolean;
  /** The share of other requests sampled, 0–1. */
  readonly ratio: number;
}

/** Decides whether a request is sampled; built once from {@link SamplerSettings}. */
export class Sampler {
  private readonly parentBased: boolean;
  private readonly ratio: number;

  constructor(
    settings: SamplerSettings,
    private readonly random: () => number = Math.random,
  ) {
    if (!(settings.ratio >= 0 && settings.ratio <= 1))
      throw new RangeError(`Sampler ratio must be within 0 and 1, got ${settings.ratio}`);
    this.parentBased = settings.parentBased;
    this.ratio = settings.ratio;
  }

  /** Whether a request with the caller's context `parent` (if any) is sampled. */
  sample(parent: SpanContext | undefined): boolean {
    if (parent?.debug) return true;
    if (this.parentBased && parent !== undefined && parent.sampled !== undefined) return parent.sampled;
    const { ratio } = this;
    return ratio >= 1 ? true : ratio <= 0 ? false : this.random() < ratio;
  }

  /** True when no request can ever be sampled, whatever its headers say. */
  get never(): boolean {
    return this.ratio <= 0 && !this.parentBased;
  }
}
