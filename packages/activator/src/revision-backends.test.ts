import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type PodProbe, RevisionBackends } from './revision-backends.js';

const FREQUENCY_MS = 200;

/** A probe whose answers the test gives by hand, one per call, in call order per address. */
class FakeProbe {
  readonly calls: string[] = [];
  private readonly waiting = new Map<string, Array<(ok: boolean) => void>>();
  private readonly failing = new Map<string, Array<(err: Error) => void>>();

  readonly probe: PodProbe = (address) => {
    this.calls.push(address);
    return new Promise<boolean>((resolve, reject) => {
      this.queue(this.waiting, address).push(resolve);
      this.queue(this.failing, address).push(reject);
    });
  };

  /** Probes of `address` started and not answered yet. */
  inFlight(address: string): number {
    return this.waiting.get(address)?.length ?? 0;
  }

  /** How many probes of `address` were started. */
  count(address: string): number {
    return this.calls.filter((a) => a === address).length;
  }

  /** Answers the oldest open probe of `address`. */
  answer(address: string, ok: boolean): void {
    const resolve = this.waiting.get(address)?.shift();
    this.failing.get(address)?.shift();
    if (!resolve) throw new Error(`no probe of ${address} in flight`);
    resolve(ok);
  }

  /** Rejects the oldest open probe of `address`, as a connection error would. */
  fail(address: string): void {
    const reject = this.failing.get(address)?.shift();
    this.waiting.get(address)?.shift();
    if (!reject) throw new Error(`no probe of ${address} in flight`);
    reject(new Error('connect ECONNREFUSED'));
  }

  private queue<T>(map: Map<string, T[]>, address: string): T[] {
    let list = map.get(address);
    if (!list) {
      list = [];
      map.set(address, list);
    }
    return list;
  }
}

/** Lets answered probes' continuations run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

const A = '10.0.0.1:8012';
const B = '10.0.0.2:8012';
const C = '10.0.0.3:8012';

describe('RevisionBackends', () => {
  let probe: FakeProbe;
  let changes: Array<readonly string[]>;
  let backends: RevisionBackends;

  beforeEach(() => {
    vi.useFakeTimers();
    probe = new FakeProbe();
    changes = [];
    backends = new RevisionBackends(probe.probe, FREQUENCY_MS, (healthy) => changes.push(healthy));
  });

  afterEach(() => {
    backends.stop();
    vi.useRealTimers();
  });

  it('uses ready Pods at once, sorted, without probing them', () => {
    backends.update([B, A], []);
    expect(changes).toEqual([[A, B]]);
    expect(backends.current).toEqual([A, B]);
    vi.advanceTimersByTime(10 * FREQUENCY_MS);
    expect(probe.calls).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('probes a not-ready Pod at once and every frequency until it passes, then uses it', async () => {
    backends.update([], [A]);
    expect(changes).toEqual([]);
    expect(backends.current).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(probe.calls).toEqual([A]);

    probe.answer(A, false);
    await settle();
    vi.advanceTimersByTime(FREQUENCY_MS - 1);
    expect(probe.count(A)).toBe(1);
    vi.advanceTimersByTime(1);
    expect(probe.count(A)).toBe(2);

    probe.fail(A);
    await settle();
    expect(backends.current).toEqual([]);
    vi.advanceTimersByTime(FREQUENCY_MS);
    expect(probe.count(A)).toBe(3);

    probe.answer(A, true);
    await settle();
    expect(changes).toEqual([[A]]);
    expect(backends.current).toEqual([A]);

    vi.advanceTimersByTime(10 * FREQUENCY_MS);
    expect(probe.count(A)).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('uses ready Pods while their not-ready siblings are still probed', async () => {
    backends.update([B], [A]);
    expect(changes).toEqual([[B]]);
    vi.advanceTimersByTime(0);
    expect(probe.calls).toEqual([A]);
    probe.answer(A, true);
    await settle();
    expect(changes).toEqual([[B], [A, B]]);
  });

  it('does not start a second probe of a Pod while one is in flight', () => {
    backends.update([], [A]);
    vi.advanceTimersByTime(0);
    vi.advanceTimersByTime(10 * FREQUENCY_MS);
    expect(probe.calls).toEqual([A]);
    backends.update([], [A, B]);
    vi.advanceTimersByTime(0);
    expect(probe.calls).toEqual([A, B]);
    backends.reportFailure(A);
    vi.advanceTimersByTime(FREQUENCY_MS);
    expect(probe.calls).toEqual([A, B]);
    expect(probe.inFlight(A)).toBe(1);
  });

  it('drops a Pod that goes from ready to not ready until it passes a probe again', async () => {
    backends.update([A, B], []);
    backends.update([B], [A]);
    expect(changes).toEqual([[A, B], [B]]);
    vi.advanceTimersByTime(0);
    expect(probe.calls).toEqual([A]);
    probe.answer(A, true);
    await settle();
    expect(changes.at(-1)).toEqual([A, B]);
  });

  it('probes again a Pod that passed our probe, became ready, then went not ready', async () => {
    backends.update([], [A]);
    vi.advanceTimersByTime(0);
    probe.answer(A, true);
    await settle();
    expect(backends.current).toEqual([A]);

    backends.update([A], []);
    expect(changes).toEqual([[A]]);
    backends.update([], [A]);
    expect(changes).toEqual([[A], []]);
    vi.advanceTimersByTime(0);
    expect(probe.count(A)).toBe(2);
    probe.answer(A, true);
    await settle();
    expect(changes).toEqual([[A], [], [A]]);
  });

  it('keeps a not-ready Pod that passed our probe across updates that still list it', async () => {
    backends.update([], [A]);
    vi.advanceTimersByTime(0);
    probe.answer(A, true);
    await settle();
    backends.update([B], [A]);
    expect(backends.current).toEqual([A, B]);
    vi.advanceTimersByTime(5 * FREQUENCY_MS);
    expect(probe.count(A)).toBe(1);
  });

  it('drops a ready Pod that failed a request until a probe passes', async () => {
    backends.update([A, B], []);
    backends.reportFailure(A);
    expect(changes).toEqual([[A, B], [B]]);
    vi.advanceTimersByTime(0);
    expect(probe.calls).toEqual([A]);

    probe.answer(A, false);
    await settle();
    expect(backends.current).toEqual([B]);
    vi.advanceTimersByTime(FREQUENCY_MS);
    expect(probe.count(A)).toBe(2);

    probe.answer(A, true);
    await settle();
    expect(changes).toEqual([[A, B], [B], [A, B]]);
    vi.advanceTimersByTime(5 * FREQUENCY_MS);
    expect(probe.count(A)).toBe(2);
  });

  it('drops a probed not-ready Pod that failed a request and probes it again', async () => {
    backends.update([], [A]);
    vi.advanceTimersByTime(0);
    probe.answer(A, true);
    await settle();
    backends.reportFailure(A);
    expect(changes).toEqual([[A], []]);
    vi.advanceTimersByTime(0);
    expect(probe.count(A)).toBe(2);
    probe.answer(A, true);
    await settle();
    expect(changes).toEqual([[A], [], [A]]);
  });

  it('ignores failures reported for unknown Pods', () => {
    backends.update([A], []);
    backends.reportFailure(C);
    vi.advanceTimersByTime(5 * FREQUENCY_MS);
    expect(changes).toEqual([[A]]);
    expect(probe.calls).toEqual([]);
  });

  it('drops Pods that vanish, and ignores probes of them that answer later', async () => {
    backends.update([A, B], [C]);
    vi.advanceTimersByTime(0);
    expect(probe.calls).toEqual([C]);
    backends.update([A], []);
    expect(changes).toEqual([[A, B], [A]]);
    probe.answer(C, true);
    await settle();
    expect(changes).toEqual([[A, B], [A]]);
    vi.advanceTimersByTime(5 * FREQUENCY_MS);
    expect(probe.calls).toEqual([C]);
  });

  it('forgets a suspect Pod that vanished', async () => {
    backends.update([A, B], []);
    backends.reportFailure(A);
    vi.advanceTimersByTime(0);
    backends.update([B], []);
    probe.answer(A, true);
    await settle();
    expect(backends.current).toEqual([B]);
    vi.advanceTimersByTime(5 * FREQUENCY_MS);
    expect(probe.count(A)).toBe(1);
  });

  it('drops a probed Pod that vanished from the not-ready list', async () => {
    backends.update([], [A]);
    vi.advanceTimersByTime(0);
    probe.answer(A, true);
    await settle();
    backends.update([], []);
    expect(changes).toEqual([[A], []]);
  });

  it('stops probing on stop(), and ignores probes that answer afterwards', async () => {
    backends.update([], [A]);
    vi.advanceTimersByTime(0);
    expect(probe.calls).toEqual([A]);
    backends.stop();
    expect(vi.getTimerCount()).toBe(0);
    probe.answer(A, true);
    await settle();
    expect(changes).toEqual([]);
    vi.advanceTimersByTime(10 * FREQUENCY_MS);
    expect(probe.calls).toEqual([A]);
  });

  it('never probes when stopped before the first round', () => {
    backends.update([], [A]);
    backends.stop();
    vi.advanceTimersByTime(10 * FREQUENCY_MS);
    expect(probe.calls).toEqual([]);
    backends.update([], [A, B]);
    vi.advanceTimersByTime(10 * FREQUENCY_MS);
    expect(probe.calls).toEqual([]);
  });

  it('calls onChange only when the usable Pods really change', () => {
    backends.update([B, A], []);
    backends.update([A, B], []);
    backends.update([B, A], [C]);
    expect(changes).toEqual([[A, B]]);
    backends.update([C, B, A], []);
    expect(changes).toEqual([
      [A, B],
      [A, B, C],
    ]);
    backends.update([], []);
    backends.update([], []);
    expect(changes).toEqual([[A, B], [A, B, C], []]);
  });
});
