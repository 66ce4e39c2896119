import { emptyStat, type Stat, type WireStatMessage } from '@zerogate/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConcurrencyReporter, type ConcurrencyReporterOptions } from './concurrency-reporter.js';

const POD = 'activator-0';

function stat(averageConcurrentRequests: number, requestCount: number): Stat {
  return { ...emptyStat(POD), averageConcurrentRequests, requestCount };
}

/** `namespace/name → [concurrency, count]` of one batch, to compare batches regardless of order. */
function figures(batch: readonly WireStatMessage[] | undefined): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const m of batch ?? []) {
    out[`${m.namespace}/${m.name}`] = [m.stat?.averageConcurrentRequests ?? NaN, m.stat?.requestCount ?? NaN];
  }
  return out;
}

/** A reporter on a hand-moved clock, with every batch it sends collected in order. */
function reporter(options: Partial<ConcurrencyReporterOptions> = {}) {
  const clock = { now: 0 };
  const sent: (readonly WireStatMessage[])[] = [];
  const r = new ConcurrencyReporter({
    podName: POD,
    send: (messages) => sent.push(messages),
    now: () => clock.now,
    ...options,
  });
  /** The batches sent since the last call. */
  let cursor = 0;
  const taken = () => {
    const batches = sent.slice(cursor);
    cursor = sent.length;
    return batches;
  };
  return { r, clock, sent, taken };
}

describe('ConcurrencyReporter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("pokes at a revision's first request, at once, and only then", () => {
    const { r, taken } = reporter();
    expect(r.requestIn('ns', 'rev')).toBe(true);
    expect(taken()).toEqual([[{ namespace: 'ns', name: 'rev', stat: stat(1, 1) }]]);
    expect(r.requestIn('ns', 'rev')).toBe(false);
    r.requestIn('ns', 'rev');
    expect(taken()).toEqual([]);
    // Same name in another namespace is another revision.
    r.requestIn('other', 'rev');
    expect(taken()).toEqual([[{ namespace: 'other', name: 'rev', stat: stat(1, 1) }]]);
  });

  it('batches every active revision with the poke taken off, then drops idle ones', () => {
    const { r, clock, taken } = reporter();

    // a: 1 in flight from 0 ms, 2 from 500 ms; b: 1 from 500 ms.
    r.requestIn('ns1', 'a');
    clock.now = 500;
    r.requestIn('ns1', 'a');
    r.requestIn('ns2', 'b');
    clock.now = 1000;
    expect(taken()).toHaveLength(2); // the two pokes
    r.tick();
    // a: avg 1.5 − 1, count 2 − 1; b: avg 1 − 1, count 1 − 1.
    const [first] = taken();
    expect(figures(first)).toEqual({ 'ns1/a': [0.5, 1], 'ns2/b': [0, 0] });
    expect(first?.[0]?.stat).toEqual(stat(0.5, 1));

    clock.now = 1500;
    r.requestOut('ns1', 'a');
    r.requestOut('ns1', 'a');
    r.requestOut('ns1', 'a'); // unmatched: ignored
    r.requestOut('ns3', 'unknown'); // unknown: ignored
    clock.now = 2000;
    r.tick();
    // No poke to take off any more.
    expect(taken().map(figures)).toEqual([{ 'ns1/a': [1, 0], 'ns2/b': [1, 0] }]);

    clock.now = 3000;
    r.tick();
    // a was idle the whole window: reported once more, as zeros, then dropped.
    expect(taken().map(figures)).toEqual([{ 'ns1/a': [0, 0], 'ns2/b': [1, 0] }]);
    clock.now = 4000;
    r.tick();
    expect(taken().map(figures)).toEqual([{ 'ns2/b': [1, 0] }]);

    // a has no entry now, so its next request pokes again.
    r.requestIn('ns1', 'a');
    expect(taken()).toEqual([[{ namespace: 'ns1', name: 'a', stat: stat(1, 1) }]]);
    clock.now = 5000;
    r.tick();
    expect(taken().map(figures)).toEqual([{ 'ns1/a': [0, 0], 'ns2/b': [1, 0] }]);

    // Everything idle: one last report each, then nothing at all is sent.
    r.requestOut('ns1', 'a');
    r.requestOut('ns2', 'b');
    clock.now = 6000;
    r.tick();
    expect(taken().map(figures)).toEqual([{ 'ns1/a': [0, 0], 'ns2/b': [0, 0] }]);
    clock.now = 7000;
    r.tick();
    expect(taken()).toEqual([]);
    expect(r.report()).toEqual([]);
  });

  it('floors a window below the poke at zero', () => {
    const { r, clock, taken } = reporter();
    // One request for a quarter of the window: average 0.25, count 1, the poke said 1 and 1.
    r.requestIn('ns', 'rev');
    clock.now = 250;
    r.requestOut('ns', 'rev');
    clock.now = 1000;
    taken();
    expect(r.report()).toEqual([{ namespace: 'ns', name: 'rev', stat: stat(0, 0) }]);
  });

  it('sends a batch every period once started, and none after stop()', () => {
    const { r, clock, taken } = reporter({ periodMs: 1000 });
    r.start();
    r.start(); // a second start adds no second timer
    // Nothing to report: no batch at all.
    vi.advanceTimersByTime(3000);
    expect(taken()).toEqual([]);

    r.requestIn('ns', 'rev');
    expect(taken()).toHaveLength(1);
    clock.now = 1000;
    vi.advanceTimersByTime(999);
    expect(taken()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(taken().map(figures)).toEqual([{ 'ns/rev': [0, 0] }]);
    clock.now = 2000;
    vi.advanceTimersByTime(1000);
    expect(taken().map(figures)).toEqual([{ 'ns/rev': [1, 0] }]);

    r.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(taken()).toEqual([]);
  });

  it('rejects bad options naming them', () => {
    const send = () => {};
    expect(() => new ConcurrencyReporter({ podName: '', send })).toThrow(/podName/);
    expect(() => new ConcurrencyReporter({ podName: POD, send: undefined as never })).toThrow(/send/);
    expect(() => new ConcurrencyReporter({ podName: POD, send, periodMs: 0 })).toThrow(/periodMs/);
    expect(() => new ConcurrencyReporter({ podName: POD, send, periodMs: Number.NaN })).toThrow(/periodMs/);
  });
});
