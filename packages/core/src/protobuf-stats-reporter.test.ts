import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProtobufStatsReporter, REPORTING_PERIOD_MS } from './protobuf-stats-reporter.js';
import { RequestStats } from './request-stats.js';
import { decodeStat, emptyStat } from './stat-proto.js';

const POD = 'rev-00001-deployment-abc';

describe('ProtobufStatsReporter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('carries only the pod name before the first period', () => {
    const reporter = new ProtobufStatsReporter(new RequestStats(() => 0), POD, () => 0);
    expect(decodeStat(reporter.current)).toEqual(emptyStat(POD));
  });

  it("encodes each period's window, counts as rates, uptime from construction", () => {
    const clock = { now: 5000 };
    const now = () => clock.now;
    const stats = new RequestStats(now);
    const reporter = new ProtobufStatsReporter(stats, POD, now);
    reporter.start();
    reporter.start(); // a second start adds no second timer
    expect(vi.getTimerCount()).toBe(1);

    // Two requests, one through the activator, each in flight for half the window.
    stats.requestIn(false);
    stats.requestIn(true);
    clock.now = 5500;
    stats.requestOut(false);
    stats.requestOut(true);
    clock.now = 6000;
    const before = reporter.current;
    vi.advanceTimersByTime(REPORTING_PERIOD_MS - 1);
    expect(reporter.current).toBe(before);
    vi.advanceTimersByTime(1);
    expect(decodeStat(reporter.current)).toEqual({
      ...emptyStat(POD),
      averageConcurrentRequests: 1,
      averageProxiedConcurrentRequests: 0.5,
      requestCount: 2,
      proxiedRequestCount: 1,
      processUptime: 1,
    });

    // An idle window: zeros, uptime still growing.
    clock.now = 7000;
    vi.advanceTimersByTime(REPORTING_PERIOD_MS);
    expect(decodeStat(reporter.current)).toEqual({ ...emptyStat(POD), processUptime: 2 });

    reporter.stop();
    expect(vi.getTimerCount()).toBe(0);
    const last = reporter.current;
    vi.advanceTimersByTime(5 * REPORTING_PERIOD_MS);
    expect(reporter.current).toBe(last);
  });
});
