import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExchangeTimers, type TimedExchange } from './exchange-timers.js';

function recorder(): TimedExchange & { fired: string[] } {
  const fired: string[] = [];
  return {
    fired,
    totalTimedOut: () => fired.push(`total@${Date.now()}`),
    startTimedOut: () => fired.push(`start@${Date.now()}`),
    idleTimedOut: () => fired.push(`idle@${Date.now()}`),
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ExchangeTimers', () => {
  it('fires each timeout that is on, counted from arrival', () => {
    const exchange = recorder();
    new ExchangeTimers(exchange, { totalMs: 300, responseStartMs: 100, idleMs: 0 }).arm(0);
    vi.advanceTimersByTime(1000);
    expect(exchange.fired).toEqual(['start@100', 'total@300']);
  });

  it('counts a wait before arming: a request that arrived earlier times out earlier', () => {
    const exchange = recorder();
    vi.advanceTimersByTime(50);
    new ExchangeTimers(exchange, { totalMs: 0, responseStartMs: 0, idleMs: 100 }).arm(0);
    vi.advanceTimersByTime(1000);
    // The idle timer is armed for its full length, then finds the last write was at arrival.
    expect(exchange.fired).toEqual(['idle@150']);
  });

  it('stops the response-start timer once the response started', () => {
    const exchange = recorder();
    const timers = new ExchangeTimers(exchange, { totalMs: 0, responseStartMs: 100, idleMs: 0 });
    timers.arm(0);
    vi.advanceTimersByTime(50);
    timers.responseStarted();
    vi.advanceTimersByTime(1000);
    expect(exchange.fired).toEqual([]);
  });

  it('restarts the idle period at every write, without re-arming a timer per write', () => {
    const exchange = recorder();
    const timers = new ExchangeTimers(exchange, { totalMs: 0, responseStartMs: 0, idleMs: 100 });
    timers.arm(0);
    for (let t = 0; t < 5; t++) {
      vi.advanceTimersByTime(60);
      timers.wrote();
    }
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(exchange.fired).toEqual(['idle@400']);
  });

  it('clear stops everything', () => {
    const exchange = recorder();
    const timers = new ExchangeTimers(exchange, { totalMs: 100, responseStartMs: 100, idleMs: 100 });
    timers.arm(0);
    timers.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(exchange.fired).toEqual([]);
  });
});
