import { describe, expect, it } from 'vitest';
import { HoldPool, type PoolAccount, pushOutVictim } from './hold-pool.js';

/** An account whose held requests are `bytes` each; evicting drops its newest. */
class Holder implements PoolAccount {
  count = 0;
  bytes = 0;
  readonly held: number[] = [];
  evicted = 0;

  constructor(private readonly pool: HoldPool) {}

  hold(bytes = 0): boolean {
    if (!this.pool.reserve(this, bytes)) return false;
    this.held.push(bytes);
    return true;
  }

  evictNewest(): boolean {
    const bytes = this.held.pop();
    if (bytes === undefined) return false;
    this.evicted++;
    this.pool.release(this, bytes);
    return true;
  }
}

describe('pushOutVictim', () => {
  const usage = (n: number) => n;

  it('names the holder furthest over the fair share when the requester stays within it', () => {
    expect(pushOutVictim([70, 20, 10], 0, usage, 100, 1, 4)).toBe(70);
  });

  it('names nobody when the requester would pass its share', () => {
    expect(pushOutVictim([50, 50], 50, usage, 100, 1, 2)).toBeUndefined();
  });

  it('names nobody when nobody is over the share', () => {
    expect(pushOutVictim([25, 25], 0, usage, 100, 1, 4)).toBeUndefined();
  });
});

describe('HoldPool', () => {
  it('holds up to its count cap for a revision alone, then refuses it', () => {
    const pool = new HoldPool(3, 1000);
    const a = new Holder(pool);
    expect([a.hold(), a.hold(), a.hold(), a.hold()]).toEqual([true, true, true, false]);
    expect(pool.held).toBe(3);
  });

  it('lets a revision under its share take the place of the newest of the one over it, up to the share', () => {
    const pool = new HoldPool(10, 1000);
    const flooded = new Holder(pool);
    const small = new Holder(pool);
    for (let i = 0; i < 10; i++) expect(flooded.hold()).toBe(true);
    expect(flooded.hold()).toBe(false);
    // The small revision's share is 10 ÷ 2.
    for (let i = 0; i < 5; i++) expect(small.hold()).toBe(true);
    expect(small.hold()).toBe(false);
    expect([flooded.count, small.count, flooded.evicted, pool.held]).toEqual([5, 5, 5, 10]);
    // And the flooded one, now at its share, is refused rather than pushing back.
    expect(flooded.hold()).toBe(false);
  });

  it('divides the share by every revision holding', () => {
    const pool = new HoldPool(9, 1000);
    const a = new Holder(pool);
    const b = new Holder(pool);
    const c = new Holder(pool);
    for (let i = 0; i < 9; i++) a.hold();
    for (let i = 0; i < 3; i++) expect(b.hold()).toBe(true);
    for (let i = 0; i < 3; i++) expect(c.hold()).toBe(true);
    expect([a.count, b.count, c.count]).toEqual([3, 3, 3]);
    expect(c.hold()).toBe(false);
  });

  it('shares the bytes cap the same way', () => {
    const pool = new HoldPool(100, 100);
    const a = new Holder(pool);
    const b = new Holder(pool);
    for (let i = 0; i < 4; i++) a.hold(25);
    expect(b.hold(60)).toBe(false);
    expect(b.hold(50)).toBe(true);
    expect([a.count, a.bytes, b.bytes, pool.bytesInUse]).toEqual([2, 50, 50, 100]);
  });

  it('returns what a released request took', () => {
    const pool = new HoldPool(2, 100);
    const a = new Holder(pool);
    a.hold(40);
    a.hold(60);
    a.evictNewest();
    expect([pool.held, pool.bytesInUse, a.count, a.bytes]).toEqual([1, 40, 1, 40]);
  });
});
