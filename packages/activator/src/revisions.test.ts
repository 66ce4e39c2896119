import type { Logger } from '@zerogate/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RevisionInfo } from './endpoint-source.js';
import { HoldPool } from './hold-pool.js';
import type { PodProbe } from './revision-backends.js';
import { RevisionRegistry } from './revisions.js';
import { PodSlot } from './throttler.js';

const SELF = '10.1.0.1';
const FREQUENCY_MS = 200;
const A = '10.0.0.1:8012';
const B = '10.0.0.2:8012';
const C = '10.0.0.3:8012';
const D = '10.0.0.4:8012';

function info(overrides: Partial<RevisionInfo> = {}): RevisionInfo {
  return {
    namespace: 'default',
    name: 'hello-00001',
    containerConcurrency: 1,
    timeoutSeconds: 300,
    responseStartTimeoutSeconds: 0,
    idleTimeoutSeconds: 0,
    ready: [],
    notReady: [],
    activators: [],
    ...overrides,
  };
}

/** A logger of pino's shape that keeps the messages logged at info. */
function fakeLogger(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  const logger = {
    info: (_fields: unknown, message: string) => messages.push(message),
    warn: () => {},
    error: () => {},
    debug: () => {},
  } as unknown as Logger;
  return { logger, messages };
}

describe('RevisionRegistry', () => {
  let probes: string[];
  let answers: Map<string, boolean>;
  let log: ReturnType<typeof fakeLogger>;
  let registry: RevisionRegistry;

  beforeEach(() => {
    vi.useFakeTimers();
    probes = [];
    answers = new Map();
    const probe: PodProbe = async (address) => {
      probes.push(address);
      return answers.get(address) ?? false;
    };
    log = fakeLogger();
    registry = new RevisionRegistry(
      { maxHeld: 10, pool: new HoldPool(100, 1024) },
      probe,
      FREQUENCY_MS,
      SELF,
      log.logger,
    );
  });

  afterEach(() => {
    registry.stop();
    vi.useRealTimers();
  });

  it('creates a revision whose throttler gets the ready Pods at once', () => {
    registry.upsert(info({ containerConcurrency: 2, ready: [B, A] }));
    const revision = registry.get('default', 'hello-00001');
    expect(revision).toBeDefined();
    expect(revision!.namespace).toBe('default');
    expect(revision!.name).toBe('hello-00001');
    expect(revision!.backends.current).toEqual([A, B]);
    expect(revision!.throttler.podCount).toBe(2);
    expect(revision!.throttler.capacity).toBe(4);
    const pod = revision!.throttler.acquire(() => {}, 0);
    expect(pod).toBeInstanceOf(PodSlot);
    expect((pod as PodSlot).address).toBe(A);
    expect(log.messages).toEqual(['revision added']);
    expect(probes).toEqual([]);
  });

  it('finds revisions by namespace and name only', () => {
    registry.upsert(info({ ready: [A] }));
    registry.upsert(info({ namespace: 'other', ready: [B] }));
    expect(registry.get('default', 'hello-00002')).toBeUndefined();
    expect(registry.get('other', 'hello-00001')!.backends.current).toEqual([B]);
    expect([...registry.all()].map((r) => `${r.namespace}/${r.name}`)).toEqual([
      'default/hello-00001',
      'other/hello-00001',
    ]);
  });

  it('starts with zero capacity when no Pod is ready', () => {
    registry.upsert(info({ containerConcurrency: 5 }));
    expect(registry.get('default', 'hello-00001')!.throttler.capacity).toBe(0);
  });

  it('hands not-ready Pods to the throttler once they pass a probe', async () => {
    registry.upsert(info({ containerConcurrency: 3, ready: [A], notReady: [B] }));
    const revision = registry.get('default', 'hello-00001')!;
    expect(revision.throttler.capacity).toBe(3);
    answers.set(B, true);
    await vi.advanceTimersByTimeAsync(0);
    expect(probes).toEqual([B]);
    expect(revision.throttler.podCount).toBe(2);
    expect(revision.throttler.capacity).toBe(6);
  });

  it('updates the same revision in place and follows its Pods', () => {
    registry.upsert(info({ ready: [A] }));
    const revision = registry.get('default', 'hello-00001')!;
    registry.upsert(info({ ready: [A, B, C], timeoutSeconds: 60 }));
    expect(registry.get('default', 'hello-00001')).toBe(revision);
    expect(revision.info.timeoutSeconds).toBe(60);
    expect(revision.throttler.podCount).toBe(3);
    registry.upsert(info({ ready: [C] }));
    expect(revision.throttler.podCount).toBe(1);
    expect(log.messages).toEqual(['revision added']);
  });

  it('retargets the throttler when containerConcurrency changes and the Pods do not', () => {
    registry.upsert(info({ containerConcurrency: 1, ready: [A, B] }));
    const revision = registry.get('default', 'hello-00001')!;
    expect(revision.throttler.capacity).toBe(2);
    registry.upsert(info({ containerConcurrency: 4, ready: [A, B] }));
    expect(revision.throttler.capacity).toBe(8);
    registry.upsert(info({ containerConcurrency: 0, ready: [A, B] }));
    expect(revision.throttler.capacity).toBe(Number.POSITIVE_INFINITY);
  });

  it('grants held requests when a containerConcurrency change adds room', () => {
    registry.upsert(info({ containerConcurrency: 1, ready: [A] }));
    const throttler = registry.get('default', 'hello-00001')!.throttler;
    throttler.acquire(() => {}, 0);
    const granted: string[] = [];
    throttler.acquire((pod) => granted.push(pod.address), 0);
    expect(throttler.held).toBe(1);
    registry.upsert(info({ containerConcurrency: 2, ready: [A] }));
    expect(granted).toEqual([A]);
  });

  it('retargets the throttler when the activators in the path change', () => {
    registry.upsert(info({ ready: [A, B, C, D] }));
    const revision = registry.get('default', 'hello-00001')!;
    expect(revision.throttler.podCount).toBe(4);
    registry.upsert(info({ ready: [A, B, C, D], activators: ['10.1.0.2', SELF] }));
    expect(revision.throttler.podCount).toBe(2);
    expect(revision.throttler.acquire(() => {}, 0)).toMatchObject({ address: A });
    registry.upsert(info({ ready: [A, B, C, D], activators: [] }));
    expect(revision.throttler.podCount).toBe(4);
  });

  it('removes a revision: get() no longer finds it and its prober stops', async () => {
    registry.upsert(info({ ready: [A], notReady: [B] }));
    const revision = registry.get('default', 'hello-00001')!;
    await vi.advanceTimersByTimeAsync(0);
    expect(probes).toEqual([B]);
    registry.remove('default', 'hello-00001');
    expect(registry.get('default', 'hello-00001')).toBeUndefined();
    expect([...registry.all()]).toEqual([]);
    expect(log.messages).toEqual(['revision added', 'revision removed']);
    answers.set(B, true);
    await vi.advanceTimersByTimeAsync(10 * FREQUENCY_MS);
    expect(probes).toEqual([B]);
    expect(revision.throttler.podCount).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ignores the removal of an unknown revision', () => {
    registry.upsert(info({ ready: [A] }));
    registry.remove('default', 'missing');
    expect(registry.get('default', 'hello-00001')).toBeDefined();
    expect(log.messages).toEqual(['revision added']);
  });

  it('creates a fresh revision when a removed one comes back', () => {
    registry.upsert(info({ ready: [A] }));
    const first = registry.get('default', 'hello-00001');
    registry.remove('default', 'hello-00001');
    registry.upsert(info({ ready: [A] }));
    const second = registry.get('default', 'hello-00001');
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
  });

  it('stops every prober on stop()', async () => {
    registry.upsert(info({ notReady: [A] }));
    registry.upsert(info({ name: 'hello-00002', notReady: [B] }));
    await vi.advanceTimersByTimeAsync(0);
    expect(probes.sort()).toEqual([A, B]);
    registry.stop();
    await vi.advanceTimersByTimeAsync(10 * FREQUENCY_MS);
    expect(probes).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });
});
