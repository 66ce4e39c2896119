import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './latency-histogram.js';

describe('LatencyHistogram', () => {
  it('resolves tenths of a millisecond', () => {
    const histogram = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) histogram.recordNs(i * 10_000);
    const latency = histogram.latencyMs();
    expect(latency.p50).toBeCloseTo(0.5, 2);
    expect(latency.p99).toBeCloseTo(0.99, 2);
    expect(latency.max).toBeCloseTo(1, 2);
  });

  it('records milliseconds as nanoseconds, never below its floor', () => {
    const histogram = new LatencyHistogram();
    histogram.recordMs(0.25);
    histogram.recordMs(0);
    expect(histogram.latencyMs().max).toBeCloseTo(0.25, 3);
  });
});
