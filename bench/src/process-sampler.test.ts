import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProcessSampler, PSS_EVERY } from './process-sampler.js';

describe('ProcessSampler', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports the peak PSS of the tree, at most its peak RSS, sampled on the timer', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const sampler = new ProcessSampler(process.pid, 100);
    sampler.start();
    vi.advanceTimersByTime(100 * 2 * PSS_EVERY);
    const usage = sampler.stop();
    expect(usage.samples).toBe(2 + 2 * PSS_EVERY);
    expect(usage.maxPssKiB).toBeGreaterThan(0);
    expect(usage.maxPssKiB).toBeLessThanOrEqual(usage.maxRssKiB);
    expect(usage.maxRssAnonKiB).toBeLessThanOrEqual(usage.maxRssKiB);
  });

  it('gives no PSS for a tree that is gone', () => {
    const sampler = new ProcessSampler(2 ** 30);
    sampler.start();
    expect(sampler.stop()).toMatchObject({ maxRssKiB: 0, maxPssKiB: undefined });
  });
});
