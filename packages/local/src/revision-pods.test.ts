import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RevisionConfig } from './config.js';
import type { Pod, PodPhase, PodSettings } from './pod.js';
import {
  CRASH_LOOP_FAILURES,
  ENDED_PODS_KEPT,
  FAILURE_BACKOFF,
  failureOf,
  type PodFactory,
  RevisionPods,
} from './revision-pods.js';

/** A Pod whose phase the test moves by hand. */
class FakePod {
  phase: PodPhase = 'starting';
  failure: string | undefined;
  servingAddress: string | undefined;
  statsAddress: string | undefined;
  stopped = false;
  readonly timeline = { spawnedAt: Date.now() };

  constructor(
    readonly name: string,
    private readonly onChange: (pod: Pod) => void,
  ) {}

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.set('stopping');
    this.set('stopped');
    return Promise.resolve();
  }

  set(phase: PodPhase): void {
    this.phase = phase;
    this.onChange(this as unknown as Pod);
  }
}

const CONFIG = { namespace: 'default', name: 'app-00001' } as RevisionConfig;

let made: FakePod[];
let revision: RevisionPods;
const factory: PodFactory = (name, _config, _settings, onChange) => {
  const pod = new FakePod(name, onChange);
  made.push(pod);
  return pod as unknown as Pod;
};

beforeEach(() => {
  vi.useFakeTimers();
  made = [];
  revision = new RevisionPods(CONFIG, {} as PodSettings, { changed: () => {}, podFailed: () => {} }, factory);
});
afterEach(() => {
  vi.useRealTimers();
});

const live = () => revision.pods.map((p) => p.name);

describe('RevisionPods', () => {
  it('starts Pods up to the desired count and stops Pods not ready first, then the newest', () => {
    for (const n of [1, 2, 3]) {
      revision.scale(n);
      vi.advanceTimersByTime(10);
    }
    expect(live()).toEqual(['app-00001-1', 'app-00001-2', 'app-00001-3']);
    made[0]!.set('ready');
    made[2]!.set('ready');
    revision.scale(2);
    expect(made[1]!.stopped).toBe(true);
    revision.scale(1);
    expect(made[2]!.stopped).toBe(true);
    expect(live()).toEqual(['app-00001-1']);
    revision.scale(0);
    expect(live()).toEqual([]);
  });

  it('scales down the least busy Pods first, then the youngest, never a busy one while an idle one runs, asking for the loads once per choice', async () => {
    const loads = new Map<string, number>([
      ['app-00001-1', 0],
      ['app-00001-2', 0],
      ['app-00001-3', 4],
    ]);
    const asked: string[] = [];
    revision = new RevisionPods(
      CONFIG,
      {} as PodSettings,
      { changed: () => {}, podFailed: () => {} },
      factory,
      async (pod) => {
        asked.push(pod.name);
        if (pod.name === 'app-00001-2') throw new Error('stats endpoint down');
        return loads.get(pod.name) ?? 0;
      },
    );
    for (const n of [1, 2, 3]) {
      revision.scale(n);
      vi.advanceTimersByTime(10);
    }
    for (const pod of made) pod.set('ready');
    // The youngest is the busy one: without the loads it would go first.
    revision.scale(2);
    revision.scale(1);
    await vi.waitFor(() => expect(made.filter((p) => p.stopped)).toHaveLength(2));
    expect(live()).toEqual(['app-00001-3']);
    expect(made[2]!.stopped).toBe(false);
    // One choice for both scale-downs asked while loads were being read, then one more to check.
    expect(asked.slice(0, 3).sort()).toEqual(['app-00001-1', 'app-00001-2', 'app-00001-3']);

    // Among idle Pods the youngest goes first.
    revision.scale(2);
    vi.advanceTimersByTime(10);
    revision.scale(3);
    made[3]!.set('ready');
    made[4]!.set('ready');
    revision.scale(2);
    await vi.waitFor(() => expect(made[4]!.stopped).toBe(true));
    expect(made[3]!.stopped).toBe(false);
  });

  it('replaces a failed Pod after a backoff that doubles while starts keep failing and resets once one is ready', () => {
    revision.scale(1);
    made[0]!.set('failed');
    expect(live()).toEqual([]);
    vi.advanceTimersByTime(FAILURE_BACKOFF.initialMs - 1);
    expect(made).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(made).toHaveLength(2);

    made[1]!.set('failed');
    vi.advanceTimersByTime(2 * FAILURE_BACKOFF.initialMs - 1);
    expect(made).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(made).toHaveLength(3);

    made[2]!.set('ready');
    made[2]!.set('failed');
    vi.advanceTimersByTime(FAILURE_BACKOFF.initialMs);
    expect(made).toHaveLength(4);
  });

  it('counts failures in a row as a crash loop, gives each replacement the count as its restarts, and clears it once a Pod is ready', () => {
    revision.scale(1);
    made[0]!.set('failed');
    expect(revision.crashLooping).toBe(false);
    expect(revision.nextStartAt).toBe(Date.now() + FAILURE_BACKOFF.initialMs);
    vi.advanceTimersByTime(FAILURE_BACKOFF.initialMs);
    expect((made[1] as unknown as Pod).restarts).toBe(1);
    made[1]!.set('failed');
    expect(revision.consecutiveFailures).toBe(2);
    expect(revision.crashLooping).toBe(CRASH_LOOP_FAILURES <= 2);
    vi.advanceTimersByTime(2 * FAILURE_BACKOFF.initialMs);
    expect((made[2] as unknown as Pod).restarts).toBe(2);
    made[2]!.set('ready');
    expect(revision.crashLooping).toBe(false);
    expect(revision.consecutiveFailures).toBe(0);
    expect(revision.failures).toBe(2);
  });

  it('is failing for the activator while it crash-loops with no Pod starting or running, naming the last exit and the count, until a Pod starts again', () => {
    revision.scale(1);
    const exit = (pod: FakePod) => {
      (pod as unknown as Pod).exit = { container: 'app', code: 1, signal: null };
      pod.failure = 'app exited (code 1)';
      pod.set('failed');
    };
    exit(made[0]!);
    // One failure may be bad luck: requests are still held for the next Pod.
    expect(revision.failing).toBeUndefined();
    vi.advanceTimersByTime(FAILURE_BACKOFF.initialMs);
    exit(made[1]!);
    expect(revision.failing).toBe('app exited with code 1 (2 times)');
    // The next Pod starting after the back-off clears it; its failure sets it again.
    vi.advanceTimersByTime(2 * FAILURE_BACKOFF.initialMs);
    expect(made).toHaveLength(3);
    expect(revision.failing).toBeUndefined();
    made[2]!.failure = 'not ready within 30 s';
    made[2]!.set('failed');
    expect(revision.failing).toBe('not ready within 30 s (3 times)');
    // Scaled to zero meanwhile, it stays failing: no Pod has shown otherwise.
    revision.scale(0);
    expect(revision.failing).toBe('not ready within 30 s (3 times)');
    revision.scale(1);
    vi.advanceTimersByTime(FAILURE_BACKOFF.maxMs);
    made.at(-1)!.set('ready');
    expect(revision.failing).toBeUndefined();
  });

  it('names a failure by the signal that killed the container', () => {
    expect(
      failureOf({ exit: { container: 'queue-proxy', code: null, signal: 'SIGKILL' }, failure: 'x' }),
    ).toBe('queue-proxy killed by signal SIGKILL');
    expect(failureOf({ exit: undefined, failure: undefined })).toBe('failed');
  });

  it(`keeps the latest ${ENDED_PODS_KEPT} Pods that ended, newest first`, () => {
    revision.scale(1);
    for (let i = 0; i < ENDED_PODS_KEPT + 2; i++) {
      made.at(-1)!.set('failed');
      vi.advanceTimersByTime(FAILURE_BACKOFF.maxMs);
    }
    expect(revision.ended.map((p) => p.name)).toEqual(
      made
        .slice(0, ENDED_PODS_KEPT + 2)
        .reverse()
        .slice(0, ENDED_PODS_KEPT)
        .map((p) => p.name),
    );
  });

  it('caps the backoff', () => {
    revision.scale(1);
    for (let i = 0; i < 10; i++) {
      made.at(-1)!.set('failed');
      vi.advanceTimersByTime(FAILURE_BACKOFF.maxMs);
    }
    expect(made).toHaveLength(11);
  });

  it('starts nothing after close, and stops every Pod', async () => {
    revision.scale(2);
    await revision.close();
    expect(made.every((p) => p.stopped)).toBe(true);
    revision.scale(3);
    expect(made).toHaveLength(2);
  });
});
