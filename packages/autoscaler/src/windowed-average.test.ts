import { describe, expect, it } from 'vitest';
import { MaxWindow } from './max-window.js';
import { WindowedAverage } from './windowed-average.js';

describe('WindowedAverage', () => {
  it('sums values recorded in the same second', () => {
    const w = new WindowedAverage(6000);
    w.record(1000, 3);
    w.record(1999, 4);
    expect(w.average(1500)).toBe(7);
  });

  it('averages only over the seconds since the first write while the window fills', () => {
    const w = new WindowedAverage(60_000);
    for (let s = 10; s < 16; s++) w.record(s * 1000, 60);
    expect(w.average(15_000)).toBe(60);
  });

  it('counts recorded zeros and drops values older than the window', () => {
    const w = new WindowedAverage(6000);
    for (let s = 0; s < 6; s++) w.record(s * 1000, 60);
    for (let s = 6; s < 9; s++) w.record(s * 1000, 0);
    expect(w.average(8000)).toBe(30);
    for (let s = 9; s < 12; s++) w.record(s * 1000, 0);
    expect(w.average(11_000)).toBe(0);
  });

  it('does not count a silent tail as zeros, and forgets everything after a silent window', () => {
    const w = new WindowedAverage(6000);
    for (let s = 0; s < 6; s++) w.record(s * 1000, 60);
    expect(w.average(8000)).toBe(60);
    expect(w.isEmpty(11_000)).toBe(false);
    expect(w.average(11_000)).toBe(0);
    expect(w.isEmpty(12_000)).toBe(true);
    w.record(20_000, 12);
    expect(w.average(20_000)).toBe(12);
  });

  it('ignores values older than the window', () => {
    const w = new WindowedAverage(6000);
    w.record(10_000, 6);
    w.record(3000, 600);
    expect(w.average(10_000)).toBe(6);
  });
});

describe('MaxWindow', () => {
  it('answers the largest value over the trailing window', () => {
    const w = new MaxWindow(10_000, 2000);
    expect(w.record(0, 5)).toBe(5);
    expect(w.record(4000, 2)).toBe(5);
    expect(w.record(8000, 1)).toBe(5);
    expect(w.record(10_000, 1)).toBe(2);
    expect(w.record(14_000, 1)).toBe(1);
  });
});
