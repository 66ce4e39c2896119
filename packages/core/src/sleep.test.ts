import { afterEach, describe, expect, it, vi } from 'vitest';
import { sleep } from './sleep.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('sleep', () => {
  it('resolves true after its time, not before', async () => {
    vi.useFakeTimers();
    let done: boolean | undefined;
    void sleep(100).then((v) => {
      done = v;
    });
    await vi.advanceTimersByTimeAsync(99);
    expect(done).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
  });

  it('resolves false at once when its signal aborts, or was aborted already', async () => {
    vi.useFakeTimers();
    const aborter = new AbortController();
    const slept = sleep(60_000, aborter.signal);
    aborter.abort();
    expect(await slept).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    expect(await sleep(60_000, aborter.signal)).toBe(false);
  });
});
