import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Drainer } from './drainer.js';
import { createLogger } from './logger.js';
import { KNATIVE_DRAIN_RESET_MS, WaitForDrain } from './wait-for-drain.js';

const QUIET_MS = 5000;
const SIGTERM_WAIT_MS = 3000;
const logger = createLogger({ level: 'silent', base: {} });

/** Tracks whether a promise has settled, so a test can look without awaiting it. */
function track(promise: Promise<void>): { readonly done: boolean } {
  const state = { done: false };
  void promise.then(() => {
    state.done = true;
  });
  return state;
}

/** Lets promise chains that are already settled run to their end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A drainer and its hook; `busy`, when given, tells whether requests or websockets are open. */
function setup(nativeSidecar: boolean, busy?: () => boolean): { drainer: Drainer; hook: WaitForDrain } {
  const drainer = new Drainer(QUIET_MS, () => Date.now());
  const hook = new WaitForDrain(drainer, {
    nativeSidecar,
    sigtermWaitMs: SIGTERM_WAIT_MS,
    ...(busy ? { busy } : {}),
    logger,
  });
  return { drainer, hook };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('WaitForDrain, as Knative (ordinary container)', () => {
  it('answers after 1 s and resets the drain when no SIGTERM follows', async () => {
    const { drainer, hook } = setup(false);
    const answered = track(hook.request());
    expect(drainer.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(KNATIVE_DRAIN_RESET_MS - 1);
    expect(answered.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(answered.done).toBe(true);
    expect(drainer.draining).toBe(false);
  });

  it('answers when the drain completes when SIGTERM comes within 1 s', async () => {
    const { drainer, hook } = setup(false);
    const answered = track(hook.request());
    await vi.advanceTimersByTimeAsync(500);
    const stopped = track(hook.terminate());
    await vi.advanceTimersByTimeAsync(QUIET_MS - 501);
    expect(answered.done).toBe(false);
    expect(drainer.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(answered.done).toBe(true);
    expect(stopped.done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('WaitForDrain, as a native sidecar', () => {
  it('drains for the quiet period before answering, with no reset at 1 s', async () => {
    const { drainer, hook } = setup(true);
    const answered = track(hook.request());
    expect(drainer.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(KNATIVE_DRAIN_RESET_MS + 1);
    expect(drainer.draining).toBe(true);
    expect(answered.done).toBe(false);
    await vi.advanceTimersByTimeAsync(QUIET_MS - KNATIVE_DRAIN_RESET_MS - 2);
    expect(answered.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(answered.done).toBe(true);
    expect(drainer.drained).toBe(true);
    expect(drainer.draining).toBe(true);
  });

  it('answers only after the quiet period following the last request', async () => {
    const { drainer, hook } = setup(true);
    const answered = track(hook.request());
    await vi.advanceTimersByTimeAsync(2000);
    drainer.touch(Date.now());
    await vi.advanceTimersByTimeAsync(QUIET_MS - 1);
    expect(answered.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(answered.done).toBe(true);
  });

  it('resets the drain when no SIGTERM came within the wait after it completed', async () => {
    const { drainer, hook } = setup(true);
    const answered = track(hook.request());
    await vi.advanceTimersByTimeAsync(QUIET_MS);
    expect(answered.done).toBe(true);
    await vi.advanceTimersByTimeAsync(SIGTERM_WAIT_MS - 1);
    expect(drainer.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(drainer.draining).toBe(false);
    expect(drainer.drained).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits for SIGTERM while requests or websockets are open (the app finishing them), then resets once they ended', async () => {
    let open = 1;
    const { drainer, hook } = setup(true, () => open > 0);
    await Promise.all([hook.request(), vi.advanceTimersByTimeAsync(QUIET_MS)]);
    // Minutes of a websocket within the Pod's termination grace period: still drained, not ready.
    await vi.advanceTimersByTimeAsync(100 * SIGTERM_WAIT_MS);
    expect(drainer.drained).toBe(true);
    open = 0;
    // Nothing open and no SIGTERM within a whole wait: the app container restarted.
    await vi.advanceTimersByTimeAsync(2 * SIGTERM_WAIT_MS);
    expect(drainer.draining).toBe(false);
    expect(drainer.drained).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops at once on a SIGTERM that follows the end of what was open, and never resets', async () => {
    let open = 1;
    const { drainer, hook } = setup(true, () => open > 0);
    await Promise.all([hook.request(), vi.advanceTimersByTimeAsync(QUIET_MS)]);
    await vi.advanceTimersByTimeAsync(10 * SIGTERM_WAIT_MS);
    open = 0;
    const stopped = track(hook.terminate());
    await settle();
    expect(stopped.done).toBe(true);
    expect(drainer.drained).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops at once on a SIGTERM after the drain completed, and never resets', async () => {
    const { drainer, hook } = setup(true);
    await Promise.all([hook.request(), vi.advanceTimersByTimeAsync(QUIET_MS)]);
    await vi.advanceTimersByTimeAsync(SIGTERM_WAIT_MS - 1);
    const stopped = track(hook.terminate());
    await settle();
    expect(stopped.done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * SIGTERM_WAIT_MS);
    expect(drainer.draining).toBe(true);
  });

  it('joins a drain in progress on SIGTERM: both end with the quiet period, no reset armed', async () => {
    const { drainer, hook } = setup(true);
    const answered = track(hook.request());
    await vi.advanceTimersByTimeAsync(1000);
    const stopped = track(hook.terminate());
    await vi.advanceTimersByTimeAsync(QUIET_MS - 1001);
    expect(stopped.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(answered.done).toBe(true);
    expect(stopped.done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(drainer.draining).toBe(true);
  });

  it('drains a full quiet period on SIGTERM without a hook first', async () => {
    const { drainer, hook } = setup(true);
    const stopped = track(hook.terminate());
    await vi.advanceTimersByTimeAsync(QUIET_MS - 1);
    expect(stopped.done).toBe(false);
    expect(drainer.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(stopped.done).toBe(true);
  });

  it('answers a later hook at once and waits for SIGTERM again from then (several app containers)', async () => {
    const { drainer, hook } = setup(true);
    await Promise.all([hook.request(), vi.advanceTimersByTimeAsync(QUIET_MS)]);
    await vi.advanceTimersByTimeAsync(2000);
    const second = track(hook.request());
    await settle();
    expect(second.done).toBe(true);
    await vi.advanceTimersByTimeAsync(SIGTERM_WAIT_MS - 1);
    expect(drainer.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(drainer.draining).toBe(false);
  });

  it('after a reset (app restarted) drains a full quiet period again on the next hook', async () => {
    const { drainer, hook } = setup(true);
    await Promise.all([hook.request(), vi.advanceTimersByTimeAsync(QUIET_MS)]);
    await vi.advanceTimersByTimeAsync(SIGTERM_WAIT_MS);
    expect(drainer.draining).toBe(false);
    const again = track(hook.request());
    expect(drainer.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(QUIET_MS - 1);
    expect(again.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(again.done).toBe(true);
  });
});
