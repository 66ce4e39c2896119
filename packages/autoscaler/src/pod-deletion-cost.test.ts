import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  changedEnough,
  deletionCost,
  FORGET_AFTER_MS,
  MAX_PATCHES_PER_SECOND,
  MIN_PATCH_INTERVAL_MS,
  PodDeletionCosts,
  SETTLE_TIMEOUT_MS,
  scaleDownNear,
} from './pod-deletion-cost.js';

const silent = pino({ level: 'silent' });
const REV = { namespace: 'ns', name: 'rev' };

interface Write {
  readonly pod: string;
  readonly cost: number;
}

function setup(patch?: (namespace: string, pod: string, cost: number) => Promise<void>) {
  const writes: Write[] = [];
  const costs = new PodDeletionCosts({
    logger: silent,
    now: () => Date.now(),
    patch: (namespace, pod, cost) => {
      expect(namespace).toBe('ns');
      writes.push({ pod, cost });
      return patch ? patch(namespace, pod, cost) : Promise.resolve();
    },
  });
  return { costs, writes };
}

const loads = (...values: number[]) => values.map((concurrency, i) => ({ podName: `p${i}`, concurrency }));

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('scaleDownNear', () => {
  it('is true when the decision, the recommendation or the stable window’s load asks for fewer Pods than are ready', () => {
    const near = (desiredPods: number, recommendedPods: number, stablePods: number, ready: number) =>
      scaleDownNear({ desiredPods, recommendedPods, stablePods }, ready);
    expect(near(1, 1, 1, 3)).toBe(true);
    // Held up by min-scale or a scale-down delay.
    expect(near(3, 2, 2, 3)).toBe(true);
    // Held up by panic mode: the stable window's load alone already fits on fewer Pods.
    expect(near(3, 3, 1, 3)).toBe(true);
    expect(near(3, 3, 3, 3)).toBe(false);
    expect(near(5, 5, 5, 3)).toBe(false);
    // Unknown (-1) says nothing; one Pod has no other to be chosen over.
    expect(near(-1, -1, 3, 3)).toBe(false);
    expect(near(0, 0, 0, 1)).toBe(false);
  });
});

describe('deletionCost and changedEnough', () => {
  it('rounds the requests in flight to a non-negative integer', () => {
    expect([0, 0.4, 0.6, 2.5, -1, Number.NaN].map(deletionCost)).toEqual([0, 0, 1, 3, 0, 0]);
  });

  it('asks for a change of at least 1 and 20 % of the larger value', () => {
    expect(changedEnough(0, 1)).toBe(true);
    expect(changedEnough(1, 0)).toBe(true);
    expect(changedEnough(3, 3)).toBe(false);
    expect(changedEnough(10, 11)).toBe(false);
    expect(changedEnough(10, 13)).toBe(true);
    expect(changedEnough(100, 90)).toBe(false);
  });
});

describe('PodDeletionCosts', () => {
  it('writes nothing while no scale-down is near, then each Pod’s cost once it is', () => {
    const { costs, writes } = setup();
    costs.observe(REV, loads(0, 0, 4));
    expect(writes).toEqual([]);
    costs.setNear(REV, true);
    expect(costs.near(REV)).toBe(true);
    costs.observe(REV, loads(0, 0, 4));
    // The biggest change first; Pods never written get their value once, 0 included.
    expect(writes).toEqual([
      { pod: 'p2', cost: 4 },
      { pod: 'p0', cost: 0 },
      { pod: 'p1', cost: 0 },
    ]);
  });

  it('writes a Pod at most once per interval, and only when its value changed enough', async () => {
    const { costs, writes } = setup();
    costs.setNear(REV, true);
    costs.observe(REV, loads(4));
    await vi.advanceTimersByTimeAsync(1000);
    costs.observe(REV, loads(0));
    expect(writes).toEqual([{ pod: 'p0', cost: 4 }]);
    await vi.advanceTimersByTimeAsync(MIN_PATCH_INTERVAL_MS - 1000 - 1);
    costs.observe(REV, loads(0));
    expect(writes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    costs.observe(REV, loads(0));
    expect(writes).toEqual([
      { pod: 'p0', cost: 4 },
      { pod: 'p0', cost: 0 },
    ]);
    // A change too small to matter is not written, however long it lasts.
    await vi.advanceTimersByTimeAsync(MIN_PATCH_INTERVAL_MS);
    costs.observe(REV, loads(0.4));
    expect(writes).toHaveLength(2);
  });

  it('starts at most the budget of writes a second over all revisions, the rest in later seconds', async () => {
    const { costs, writes } = setup();
    const other = { namespace: 'ns', name: 'other' };
    costs.setNear(REV, true);
    costs.setNear(other, true);
    const many = loads(...Array.from({ length: MAX_PATCHES_PER_SECOND }, () => 1));
    costs.observe(REV, many);
    costs.observe(other, loads(1, 1));
    expect(writes).toHaveLength(MAX_PATCHES_PER_SECOND);
    await vi.advanceTimersByTimeAsync(1000);
    costs.observe(other, loads(1, 1));
    expect(writes).toHaveLength(MAX_PATCHES_PER_SECOND + 2);
  });

  it('retries a failed write after the interval, keeping no value as written', async () => {
    let fail = true;
    const { costs, writes } = setup(() => (fail ? Promise.reject(new Error('503')) : Promise.resolve()));
    costs.setNear(REV, true);
    costs.observe(REV, loads(2));
    await vi.advanceTimersByTimeAsync(1000);
    costs.observe(REV, loads(2));
    expect(writes).toHaveLength(1);
    fail = false;
    await vi.advanceTimersByTimeAsync(MIN_PATCH_INTERVAL_MS);
    costs.observe(REV, loads(2));
    expect(writes).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(MIN_PATCH_INTERVAL_MS);
    costs.observe(REV, loads(2));
    expect(writes).toHaveLength(2);
  });

  it('before a scale-down writes the latest loads at once, interval waived, and waits for the writes up to the settle timeout', async () => {
    const answers: (() => void)[] = [];
    const { costs, writes } = setup(() => new Promise<void>((resolve) => answers.push(resolve)));
    costs.setNear(REV, true);
    costs.observe(REV, loads(3, 0));
    answers.splice(0).forEach((a) => void a());
    await vi.advanceTimersByTimeAsync(100);
    costs.observe(REV, loads(0, 5));
    expect(writes).toHaveLength(2);

    let settled = false;
    void costs.settle(REV).then(() => {
      settled = true;
    });
    expect(writes.slice(2)).toEqual([
      { pod: 'p1', cost: 5 },
      { pod: 'p0', cost: 0 },
    ]);
    await vi.advanceTimersByTimeAsync(10);
    expect(settled).toBe(false);
    answers.splice(0).forEach((a) => void a());
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(true);

    // A write that hangs holds the scale-down for the settle timeout only.
    costs.observe(REV, loads(20, 0));
    settled = false;
    void costs.settle(REV).then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(SETTLE_TIMEOUT_MS - 1);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBe(true);
  });

  it('forgets Pods not seen for a while, and a removed revision', async () => {
    const { costs, writes } = setup();
    costs.setNear(REV, true);
    costs.observe(REV, loads(1));
    await vi.advanceTimersByTimeAsync(FORGET_AFTER_MS + 1);
    costs.observe(REV, []);
    // Seen again, it is a new Pod to the costs: written once more whatever its value.
    costs.observe(REV, loads(1));
    expect(writes).toHaveLength(2);
    costs.remove(REV);
    expect(costs.near(REV)).toBe(false);
  });
});
