import { describe, expect, it } from 'vitest';
import { HeldQueue, HeldRequest, type HoldPlace, NO_PLACE } from './held-queue.js';

/** A queue of labelled requests: `hold(label, place, at)`, `drain(now)` gives the labels in release order. */
function queue(classes = 1, reorders = false, maxWaitMs = Number.POSITIVE_INFINITY) {
  const q = new HeldQueue<string>();
  q.configure(classes, reorders, maxWaitMs);
  const labels = new Map<HeldRequest<string>, string>();
  return {
    q,
    hold(label: string, place: HoldPlace = NO_PLACE, at = 0, retry = false): HeldRequest<string> {
      const r = new HeldRequest<string>(
        () => {},
        () => {},
        0,
        place,
        at,
      );
      labels.set(r, label);
      q.push(r, retry);
      return r;
    },
    drain(now = 0, n = Number.POSITIVE_INFINITY): string[] {
      const out: string[] = [];
      for (let r = q.shift(now); r; r = out.length + 1 < n ? q.shift(now) : null) out.push(labels.get(r)!);
      return out;
    },
  };
}

const key = (k: string, priority = 0): HoldPlace => ({ key: k, priority });

describe('HeldQueue', () => {
  it('is first in, first out without keys or priorities', () => {
    const { hold, drain } = queue();
    for (const l of ['a', 'b', 'c']) hold(l);
    expect(drain()).toEqual(['a', 'b', 'c']);
  });

  it('serves retries before everything else', () => {
    const { hold, drain } = queue(2, true);
    hold('high', key('', 0));
    hold('retry', NO_PLACE, 0, true);
    expect(drain()).toEqual(['retry', 'high']);
  });

  it('releases round-robin between keys, first in first out within a key', () => {
    const { hold, drain } = queue(1, true);
    for (let i = 1; i <= 4; i++) hold(`a${i}`, key('a'));
    hold('b1', key('b'));
    hold('b2', key('b'));
    hold('c1', key('c'));
    expect(drain()).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
  });

  it('releases higher classes first, whatever their arrival', () => {
    const { hold, drain } = queue(3, true);
    hold('low1', key('', 2));
    hold('normal1', key('', 1));
    hold('high1', key('', 0));
    hold('low2', key('', 2));
    hold('high2', key('', 0));
    expect(drain()).toEqual(['high1', 'high2', 'normal1', 'low1', 'low2']);
  });

  it('releases a request that waited past the bound before later arrivals, oldest first', () => {
    const { hold, drain } = queue(2, true, 1000);
    hold('low-old', key('', 1), 0);
    hold('low-newer', key('', 1), 600);
    hold('high', key('', 0), 900);
    expect(drain(999, 1)).toEqual(['high']);
    hold('high2', key('', 0), 999);
    // At 1000 ms the oldest has waited its bound: it goes before the high class.
    expect(drain(1000, 1)).toEqual(['low-old']);
    expect(drain(1000)).toEqual(['high2', 'low-newer']);
  });

  it('takes out a cancelled request wherever it is, keeping the round-robin', () => {
    const { q, hold, drain } = queue(1, true);
    hold('a1', key('a'));
    const b1 = hold('b1', key('b'));
    hold('a2', key('a'));
    hold('c1', key('c'));
    q.remove(b1);
    q.remove(b1);
    expect(q.size).toBe(3);
    expect(drain()).toEqual(['a1', 'c1', 'a2']);
  });

  it('names the newest request of the key holding the most', () => {
    const { q, hold } = queue(1, true);
    hold('a1', key('a'));
    hold('b1', key('b'));
    const a2 = hold('a2', key('a'));
    hold('b2', key('b'));
    hold('a3', key('a'), 0, true);
    expect(q.newestOfLargestKey()).toBe(a2);
    expect([q.heldFor('a'), q.heldFor('b'), q.keyCount, q.size]).toEqual([2, 2, 2, 5]);
  });
});
