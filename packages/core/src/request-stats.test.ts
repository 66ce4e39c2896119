import { describe, expect, it } from 'vitest';
import { RequestStats } from './request-stats.js';

/** A clock the test moves by hand, in milliseconds. */
function fakeClock(start = 0): { now: () => number; set: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    set: (ms) => {
      t = ms;
    },
  };
}

describe('RequestStats', () => {
  it('averages one 500 ms request in a 1 s window to exactly 0.5', () => {
    const clock = fakeClock();
    const stats = new RequestStats(clock.now);
    clock.set(250);
    stats.requestIn(false);
    clock.set(750);
    stats.requestOut(false);
    clock.set(1000);
    expect(stats.report()).toEqual({
      averageConcurrency: 0.5,
      averageProxiedConcurrency: 0,
      requestCount: 1,
      proxiedRequestCount: 0,
    });
  });

  it('counts a proxied request in both the total and the proxied figures', () => {
    const clock = fakeClock();
    const stats = new RequestStats(clock.now);
    clock.set(250);
    stats.requestIn(true);
    clock.set(750);
    stats.requestOut(true);
    clock.set(1000);
    expect(stats.report()).toEqual({
      averageConcurrency: 0.5,
      averageProxiedConcurrency: 0.5,
      requestCount: 1,
      proxiedRequestCount: 1,
    });
  });

  it('separates proxied from direct requests in the same window', () => {
    const clock = fakeClock();
    const stats = new RequestStats(clock.now);
    stats.requestIn(true);
    stats.requestIn(false);
    clock.set(500);
    stats.requestOut(false);
    clock.set(1000);
    const report = stats.report();
    expect(report.averageConcurrency).toBe(1.5);
    expect(report.averageProxiedConcurrency).toBe(1);
    expect(report.requestCount).toBe(2);
    expect(report.proxiedRequestCount).toBe(1);
  });

  it('integrates two requests that overlap for 250 ms', () => {
    const clock = fakeClock();
    const stats = new RequestStats(clock.now);
    stats.requestIn(false);
    clock.set(250);
    stats.requestIn(false);
    expect(stats.current).toBe(2);
    clock.set(500);
    stats.requestOut(false);
    clock.set(750);
    stats.requestOut(false);
    clock.set(1000);
    // 250 ms at 1, 250 ms at 2, 250 ms at 1, 250 ms at 0.
    const report = stats.report();
    expect(report.averageConcurrency).toBe(1);
    expect(report.requestCount).toBe(2);
  });

  it('carries in-flight requests over into the next windows', () => {
    const clock = fakeClock();
    const stats = new RequestStats(clock.now);
    clock.set(500);
    stats.requestIn(false);
    clock.set(1000);
    expect(stats.report()).toMatchObject({ averageConcurrency: 0.5, requestCount: 1 });
    clock.set(2000);
    // Still in flight for the whole window, but it arrived in the previous one.
    expect(stats.report()).toMatchObject({ averageConcurrency: 1, requestCount: 0 });
    clock.set(2250);
    stats.requestOut(false);
    clock.set(3000);
    expect(stats.report()).toMatchObject({ averageConcurrency: 0.25, requestCount: 0 });
    expect(stats.current).toBe(0);
  });

  it('carries proxied concurrency over windows too', () => {
    const clock = fakeClock();
    const stats = new RequestStats(clock.now);
    stats.requestIn(true);
    clock.set(1000);
    stats.report();
    clock.set(2000);
    expect(stats.report()).toEqual({
      averageConcurrency: 1,
      averageProxiedConcurrency: 1,
      requestCount: 0,
      proxiedRequestCount: 0,
    });
  });

  it('reports zeros for a window without requests', () => {
    const clock = fakeClock(10_000);
    const stats = new RequestStats(clock.now);
    clock.set(11_000);
    expect(stats.report()).toEqual({
      averageConcurrency: 0,
      averageProxiedConcurrency: 0,
      requestCount: 0,
      proxiedRequestCount: 0,
    });
  });

  it('reports zeros for a window of no time at all', () => {
    const clock = fakeClock();
    const stats = new RequestStats(clock.now);
    expect(stats.report()).toEqual({
      averageConcurrency: 0,
      averageProxiedConcurrency: 0,
      requestCount: 0,
      proxiedRequestCount: 0,
    });
    clock.set(1000);
    stats.report();
    expect(stats.report().averageConcurrency).toBe(0);
  });

  it('counts a request that arrives and leaves at the same instant but adds no concurrency', () => {
    const clock = fakeClock();
    const stats = new RequestStats(clock.now);
    clock.set(400);
    stats.requestIn(false);
    stats.requestOut(false);
    clock.set(1000);
    expect(stats.report()).toMatchObject({ averageConcurrency: 0, requestCount: 1 });
  });

  it('averages over the time the window actually lasted', () => {
    const clock = fakeClock();
    const stats = new RequestStats(clock.now);
    stats.requestIn(false);
    stats.requestIn(false);
    stats.requestIn(false);
    clock.set(2000);
    // Three requests for the whole of a 2 s window: concurrency 3, not 6.
    expect(stats.report().averageConcurrency).toBe(3);
  });

  it('tracks the current concurrency', () => {
    const stats = new RequestStats(() => 0);
    expect(stats.current).toBe(0);
    stats.requestIn(true);
    stats.requestIn(false);
    expect(stats.current).toBe(2);
    stats.requestOut(true);
    expect(stats.current).toBe(1);
  });
});
