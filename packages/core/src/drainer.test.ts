import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Drainer, TERMINATION_MARGIN_MS, TerminationDeadline } from './drainer.js';

const QUIET_MS = 1000;

/** Tracks whether a promise has settled, so a test can look without awaiting it. */
function track(promise: Promise<void>): { readonly done: boolean } {
  const state = { done: false };
  void promise.then(() => {
    state.done = true;
  });
  return state;
}

describe('Drainer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function drainer(quietMs = QUIET_MS): Drainer {
    return new Drainer(quietMs, () => Date.now());
  }

  it('tells when the drain started, until it is reset', () => {
    const d = drainer();
    expect(d.startedAt).toBeUndefined();
    void d.drain();
    expect(d.startedAt).toBe(1_000_000);
    vi.advanceTimersByTime(5000);
    void d.drain();
    expect(d.startedAt).toBe(1_000_000);
    d.reset();
    expect(d.startedAt).toBeUndefined();
  });

  it('is not draining until drain() is called', () => {
    const d = drainer();
    expect(d.draining).toBe(false);
    d.touch(Date.now());
    expect(d.draining).toBe(false);
  });

  it('completes exactly quietMs after it starts when no request comes', async () => {
    const d = drainer();
    const state = track(d.drain());
    expect(d.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(QUIET_MS - 1);
    expect(state.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.done).toBe(true);
  });

  it('ignores requests from before the drain started', async () => {
    const d = drainer();
    d.touch(Date.now());
    await vi.advanceTimersByTimeAsync(300);
    const state = track(d.drain());
    await vi.advanceTimersByTimeAsync(QUIET_MS - 1);
    expect(state.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.done).toBe(true);
  });

  it('pushes completion to quietMs after a request during the drain', async () => {
    const d = drainer();
    const state = track(d.drain());
    await vi.advanceTimersByTimeAsync(400);
    d.touch(Date.now());
    await vi.advanceTimersByTimeAsync(QUIET_MS - 1);
    expect(state.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.done).toBe(true);
  });

  it('pushes completion again on every request', async () => {
    const d = drainer();
    const start = Date.now();
    const state = track(d.drain());
    for (const at of [200, 900, 1500, 2300]) {
      await vi.advanceTimersByTimeAsync(start + at - Date.now());
      d.touch(Date.now());
    }
    await vi.advanceTimersByTimeAsync(start + 2300 + QUIET_MS - 1 - Date.now());
    expect(state.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.done).toBe(true);
    expect(Date.now() - start).toBe(2300 + QUIET_MS);
  });

  it('uses the time a request was noted, not when the timer fires', async () => {
    const d = drainer();
    const start = Date.now();
    const state = track(d.drain());
    d.touch(start + 500);
    await vi.advanceTimersByTimeAsync(500 + QUIET_MS - 1);
    expect(state.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.done).toBe(true);
  });

  it('resolves every caller of drain() together, and a second call does not restart the quiet period', async () => {
    const d = drainer();
    const first = track(d.drain());
    await vi.advanceTimersByTimeAsync(600);
    const second = track(d.drain());
    await vi.advanceTimersByTimeAsync(QUIET_MS - 600);
    expect(first.done).toBe(true);
    expect(second.done).toBe(true);
  });

  it('resolves a drain() made after completion at once', async () => {
    const d = drainer();
    const drained = d.drain();
    await vi.advanceTimersByTimeAsync(QUIET_MS);
    await drained;
    const again = track(d.drain());
    await Promise.resolve();
    expect(again.done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stays draining after completion, so probes keep failing while the servers shut down', async () => {
    const d = drainer();
    const drained = d.drain();
    await vi.advanceTimersByTimeAsync(QUIET_MS);
    await drained;
    expect(d.draining).toBe(true);
  });

  it('reset() resolves pending drains, clears draining and cancels the timer', async () => {
    const d = drainer();
    const a = track(d.drain());
    const b = track(d.drain());
    await vi.advanceTimersByTimeAsync(200);
    d.reset();
    expect(d.draining).toBe(false);
    await Promise.resolve();
    expect(a.done).toBe(true);
    expect(b.done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('runs a full quiet period again for a drain() after reset()', async () => {
    const d = drainer();
    void d.drain();
    await vi.advanceTimersByTimeAsync(700);
    d.reset();
    const state = track(d.drain());
    expect(d.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(QUIET_MS - 1);
    expect(state.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.done).toBe(true);
  });

  it('runs a full quiet period again for a drain() after a completed drain was reset', async () => {
    // Knative's Reset clears the drainer's state, so later Drain calls wait the whole quiet period.
    const d = drainer();
    const drained = d.drain();
    await vi.advanceTimersByTimeAsync(QUIET_MS);
    await drained;
    d.reset();
    expect(d.draining).toBe(false);
    const state = track(d.drain());
    expect(d.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(QUIET_MS - 1);
    expect(state.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.done).toBe(true);
  });

  it('reports drained only between completion and reset', async () => {
    const d = drainer();
    const drained = d.drain();
    expect(d.drained).toBe(false);
    await vi.advanceTimersByTimeAsync(QUIET_MS);
    await drained;
    expect(d.drained).toBe(true);
    d.reset();
    expect(d.drained).toBe(false);
  });

  it('is harmless to reset when not draining', () => {
    const d = drainer();
    expect(() => d.reset()).not.toThrow();
    expect(d.draining).toBe(false);
  });

  it('completes on the next tick with a quiet period of 0', async () => {
    const d = drainer(0);
    const state = track(d.drain());
    await Promise.resolve();
    expect(state.done).toBe(true);
  });
});

describe('TerminationDeadline', () => {
  const START = 1_000_000;

  beforeEach(() => {
    vi.useFakeTimers({ now: START });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('falls the margin before the end of the grace period, counted from the drain start', () => {
    const deadline = new TerminationDeadline(START - 10_000, 300_000);
    expect(deadline.at).toBe(START - 10_000 + 300_000 - TERMINATION_MARGIN_MS);
    // A short grace period keeps a quarter of itself.
    expect(new TerminationDeadline(START, 2000).at).toBe(START + 1500);
    expect(new TerminationDeadline(START, 2000).marginMs).toBe(500);
    expect(new TerminationDeadline(START, 0).at).toBe(START);
    expect(new TerminationDeadline(START, undefined).at).toBe(Infinity);
  });

  it('waits for a condition until it holds, and no longer', async () => {
    const deadline = new TerminationDeadline(START, 300_000);
    let open = 2;
    const waited = track(deadline.waitUntil(() => open === 0).then(() => undefined));
    let result: boolean | undefined;
    void deadline
      .waitUntil(() => open === 0)
      .then((r) => {
        result = r;
      });
    await vi.advanceTimersByTimeAsync(100_000);
    expect(waited.done).toBe(false);
    open = 0;
    await vi.advanceTimersByTimeAsync(50);
    expect(waited.done).toBe(true);
    expect(result).toBe(true);
    expect(Date.now()).toBeLessThan(START + 100_100);
  });

  it('gives up at the deadline, or at an earlier limit', async () => {
    const deadline = new TerminationDeadline(START, 10_000);
    let result: boolean | undefined;
    void deadline
      .waitUntil(() => false)
      .then((r) => {
        result = r;
      });
    await vi.advanceTimersByTimeAsync(10_000 - TERMINATION_MARGIN_MS - 1);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toBe(false);
    expect(deadline.passed).toBe(true);

    let limited: boolean | undefined;
    const later = new TerminationDeadline(Date.now(), 300_000);
    void later
      .waitUntil(() => false, Date.now() + 3000)
      .then((r) => {
        limited = r;
      });
    await vi.advanceTimersByTimeAsync(2999);
    expect(limited).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(limited).toBe(false);
  });

  it('without a grace period waits however long it takes', async () => {
    const deadline = new TerminationDeadline(START, undefined);
    let open = true;
    let result: boolean | undefined;
    void deadline
      .waitUntil(() => !open)
      .then((r) => {
        result = r;
      });
    await vi.advanceTimersByTimeAsync(24 * 3600 * 1000);
    expect(result).toBeUndefined();
    open = false;
    await vi.advanceTimersByTimeAsync(50);
    expect(result).toBe(true);
  });

  it('races work against the deadline', async () => {
    const deadline = new TerminationDeadline(START, 10_000);
    let finish: () => void = () => {};
    const work = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let won: boolean | undefined;
    void deadline.race(work).then((r) => {
      won = r;
    });
    await vi.advanceTimersByTimeAsync(1000);
    finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(won).toBe(true);

    let lost: boolean | undefined;
    void deadline.race(new Promise(() => {})).then((r) => {
      lost = r;
    });
    await vi.advanceTimersByTimeAsync(10_000 - TERMINATION_MARGIN_MS - 1000 - 1);
    expect(lost).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(lost).toBe(false);
  });
});
