import { describe, expect, it } from 'vitest';
import { defaultPodLimit, ESTIMATED_POD_BYTES, PodLimit } from './pod-limit.js';

const GiB = 1024 ** 3;

describe('defaultPodLimit', () => {
  it('is min(cores × 20, available memory × 0.75 / 128 MiB), at least 1', () => {
    // 2 cores, 22 GiB: memory allows 132, the cores 40.
    expect(defaultPodLimit(2, 22 * GiB)).toBe(40);
    // 16 cores, 8 GiB: the cores allow 320, memory 48.
    expect(defaultPodLimit(16, 8 * GiB)).toBe(48);
    expect(defaultPodLimit(4, 10 * ESTIMATED_POD_BYTES)).toBe(7);
    expect(defaultPodLimit(1, 0)).toBe(1);
  });
});

describe('PodLimit', () => {
  const make = (max: number) => {
    const log: [string, number, number][] = [];
    const limit = new PodLimit<string>(max, (key, wanted, granted) => log.push([key, wanted, granted]));
    return { limit, log };
  };

  it('grants wishes in full while the sum stays within the limit', () => {
    const { limit, log } = make(10);
    expect(limit.want('a', 4)).toEqual(new Map([['a', 4]]));
    expect(limit.want('b', 6)).toEqual(new Map([['b', 6]]));
    expect(limit.total).toBe(10);
    expect(log).toEqual([]);
  });

  it('grants no more than the limit, and says so once per crossing, not on every repeated wish', () => {
    const { limit, log } = make(5);
    expect(limit.want('a', 143)).toEqual(new Map([['a', 5]]));
    for (let tick = 0; tick < 10; tick++) expect(limit.want('a', 143 + tick)).toEqual(new Map());
    expect(log).toEqual([['a', 143, 5]]);
    expect(limit.grantOf('a')).toBe(5);
    expect(limit.wantedBy('a')).toBe(152);
    // Back within the limit, then over it again: a second crossing, said again.
    expect(limit.want('a', 3)).toEqual(new Map([['a', 3]]));
    limit.want('a', 4);
    expect(log).toHaveLength(1);
    limit.want('a', 9);
    expect(log).toEqual([
      ['a', 143, 5],
      ['a', 9, 5],
    ]);
  });

  it('keeps what other revisions hold, and hands Pods given up to revisions still short, in order', () => {
    const { limit, log } = make(10);
    limit.want('a', 6);
    expect(limit.want('b', 8)).toEqual(new Map([['b', 4]]));
    expect(limit.want('c', 2)).toEqual(new Map());
    expect(log).toEqual([
      ['b', 8, 4],
      ['c', 2, 0],
    ]);
    // a scales in: b, short first, is filled, then c gets what is left.
    expect(limit.want('a', 1)).toEqual(
      new Map([
        ['a', 1],
        ['b', 8],
        ['c', 1],
      ]),
    );
    expect(limit.want('a', 0)).toEqual(
      new Map([
        ['a', 0],
        ['c', 2],
      ]),
    );
    expect(limit.total).toBe(10);
    // Each was said once: b and c are granted in full now, so a new crossing would be said again.
    expect(log).toHaveLength(2);
  });

  it('rejects a limit below 1', () => {
    expect(() => new PodLimit(0, () => {})).toThrow(/≥ 1/);
  });
});
