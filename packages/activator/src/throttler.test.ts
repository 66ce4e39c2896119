import { afterEach, describe, expect, it, vi } from 'vitest';
import { HeldRequest } from './held-queue.js';
import { HoldPool } from './hold-pool.js';
import { DEFAULT_HOLDING } from './revision-settings.js';
import {
  assignPods,
  PodSlot,
  RevisionThrottler,
  SLOW_START_INITIAL,
  slowStartLimit,
  type ThrottleLimits,
} from './throttler.js';

const SELF = '10.1.0.1';

/** `n` Pod addresses that sort in index order (single-digit last octet, one port). */
function podList(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.0.${Math.floor(i / 10)}.${i % 10}:8012`);
}

/** `n` activator IPs that sort in index order. */
function activatorList(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.1.${Math.floor(i / 10)}.${i % 10}`);
}

function limits(maxHeld = 1000, bytes = 1 << 20, total = 1_000_000): ThrottleLimits {
  return { maxHeld, pool: new HoldPool(total, bytes) };
}

/** A throttler without slow start: a new Pod takes its full capacity at once. */
function throttler(lim: ThrottleLimits, random?: () => number): RevisionThrottler {
  const t = new RevisionThrottler(lim, random);
  t.configure({ ...DEFAULT_HOLDING, slowStartMs: 0 });
  return t;
}

/** A random source that returns `values` in turn and fails loudly when it runs out. */
function scripted(...values: number[]): () => number {
  return () => {
    const v = values.shift();
    if (v === undefined) throw new Error('random() called more often than scripted');
    return v;
  };
}

/** Records grants in order, by request label. */
class Grants {
  readonly order: Array<[string, string]> = [];

  for(label: string): (pod: PodSlot) => void {
    return (pod) => {
      this.order.push([label, pod.address]);
    };
  }
}

function asPod(result: unknown): PodSlot {
  expect(result).toBeInstanceOf(PodSlot);
  return result as PodSlot;
}

function asHeld(result: unknown): HeldRequest<PodSlot> {
  expect(result).toBeInstanceOf(HeldRequest);
  return result as HeldRequest<PodSlot>;
}

describe('assignPods', () => {
  it('gives activator i Pod i mod N when there are more activators than Pods', () => {
    const pods = podList(3);
    const activators = activatorList(7);
    const got = activators.map((self) => assignPods(pods, activators, self));
    expect(got).toEqual([[pods[0]], [pods[1]], [pods[2]], [pods[0]], [pods[1]], [pods[2]], [pods[0]]]);
  });

  it('gives contiguous slices of ⌊N/A⌋ plus tail Pod N−r+i to the first r activators', () => {
    // N=8, A=3: ⌊8/3⌋ = 2, r = 2: tails 6 and 7 go to activators 0 and 1.
    const pods = podList(8);
    const activators = activatorList(3);
    expect(assignPods(pods, activators, activators[0]!)).toEqual([pods[0], pods[1], pods[6]]);
    expect(assignPods(pods, activators, activators[1]!)).toEqual([pods[2], pods[3], pods[7]]);
    expect(assignPods(pods, activators, activators[2]!)).toEqual([pods[4], pods[5]]);
  });

  it('gives exact slices when A divides N', () => {
    const pods = podList(6);
    const activators = activatorList(3);
    expect(activators.map((self) => assignPods(pods, activators, self))).toEqual([
      [pods[0], pods[1]],
      [pods[2], pods[3]],
      [pods[4], pods[5]],
    ]);
  });

  it('partitions every Pod exactly once across activators when A ≤ N', () => {
    for (let n = 1; n <= 12; n++) {
      for (let a = 1; a <= n; a++) {
        const pods = podList(n);
        const activators = activatorList(a);
        const per = Math.floor(n / a);
        const r = n % a;
        const shares = activators.map((self) => assignPods(pods, activators, self));
        shares.forEach((share, i) => {
          expect(share.length, `N=${n} A=${a} i=${i}`).toBe(per + (i < r ? 1 : 0));
          expect(share.slice(0, per)).toEqual(pods.slice(i * per, i * per + per));
          if (i < r) expect(share[per]).toBe(pods[n - r + i]);
        });
        expect(shares.flat().sort(), `N=${n} A=${a}`).toEqual(pods);
      }
    }
  });

  it('gives every Pod to an activator missing from the list', () => {
    const pods = podList(5);
    expect(assignPods(pods, activatorList(3), '10.9.9.9')).toEqual(pods);
  });

  it('gives every Pod to an activator that is alone or when activators are unknown', () => {
    const pods = podList(5);
    expect(assignPods(pods, [SELF], SELF)).toEqual(pods);
    expect(assignPods(pods, [], SELF)).toEqual(pods);
  });

  it('returns no Pods when there are none', () => {
    expect(assignPods([], activatorList(3), activatorList(3)[1]!)).toEqual([]);
  });

  it('sorts unsorted Pods and activators before choosing', () => {
    const pods = podList(6);
    const activators = activatorList(3);
    const shuffledPods = [pods[4]!, pods[1]!, pods[5]!, pods[0]!, pods[3]!, pods[2]!];
    const shuffledActivators = [activators[2]!, activators[0]!, activators[1]!];
    expect(assignPods(shuffledPods, shuffledActivators, activators[1]!)).toEqual([pods[2], pods[3]]);
    expect(assignPods(shuffledPods, [], SELF)).toEqual(pods);
  });

  it('does not modify its inputs', () => {
    const pods = ['b:1', 'a:1'];
    const activators = ['2', '1'];
    assignPods(pods, activators, '1');
    expect(pods).toEqual(['b:1', 'a:1']);
    expect(activators).toEqual(['2', '1']);
  });
});

describe('RevisionThrottler capacity', () => {
  it('is 0 without Pods, whatever containerConcurrency is', () => {
    const t = throttler(limits());
    expect(t.capacity).toBe(0);
    t.update(0, [], [], SELF);
    expect(t.capacity).toBe(0);
    t.update(5, [], [], SELF);
    expect(t.capacity).toBe(0);
  });

  it('is CC × assigned Pods, and infinite at CC=0 with a Pod', () => {
    const t = throttler(limits());
    t.update(3, podList(4), [], SELF);
    expect(t.capacity).toBe(12);
    expect(t.podCount).toBe(4);
    t.update(0, podList(1), [], SELF);
    expect(t.capacity).toBe(Number.POSITIVE_INFINITY);
  });

  it('counts only this activator’s share of Pods', () => {
    const t = throttler(limits());
    const activators = activatorList(3);
    t.update(2, podList(7), activators, activators[0]!);
    expect(t.podCount).toBe(3);
    expect(t.capacity).toBe(6);
    t.update(2, podList(7), activators, activators[2]!);
    expect(t.capacity).toBe(4);
  });

  it('uses every Pod at CC=0, ignoring subsetting', () => {
    const t = throttler(limits());
    const activators = activatorList(3);
    t.update(0, podList(7), activators, activators[0]!);
    expect(t.podCount).toBe(7);
  });
});

describe('RevisionThrottler load balancing', () => {
  it('at CC=0 picks the less loaded of two random Pods', () => {
    const pods = podList(3);
    // Each pick draws i = ⌊r·3⌋, then j = ⌊r·2⌋ (skipping i), then a tie-break only on equal load.
    const t = throttler(
      limits(),
      scripted(
        ...[0, 0, 0.25], // Pods 0 and 1, both idle: tie-break < 0.5 → Pod 0.
        ...[0, 0], // Pods 0 (1 in flight) and 1 (idle) → Pod 1.
        ...[0.5, 0], // Pods 1 (1 in flight) and 0 (1 in flight): tie, 0.75 ≥ 0.5 → second, Pod 0.
        0.75,
        ...[0.9, 0.6], // Pods 2 (idle) and 1 (1 in flight) → Pod 2.
        ...[0.4, 0.9], // Pods 1 (1) and 2 (1): tie → 0.1 < 0.5 → first, Pod 1.
        0.1,
      ),
    );
    t.update(0, pods, [], SELF);
    const picked = [0, 1, 2, 3, 4].map(() => asPod(t.acquire(() => {}, 0)).address);
    expect(picked).toEqual([pods[0], pods[1], pods[0], pods[2], pods[1]]);
  });

  it('at CC=0 prefers the idle Pod whichever order the two are drawn in', () => {
    const pods = podList(2);
    const t = throttler(limits(), scripted(0, 0, 0.9, 0.9, 0, 0, 0));
    t.update(0, pods, [], SELF);
    // Both idle: tie-break 0.9 → the second drawn, Pod 1.
    expect(asPod(t.acquire(() => {}, 0)).address).toBe(pods[1]);
    // Busy Pod 1 drawn first, idle Pod 0 second → Pod 0.
    const second = asPod(t.acquire(() => {}, 0));
    expect(second.address).toBe(pods[0]);
    t.release(second);
    // Idle Pod 0 drawn first, busy Pod 1 second → Pod 0.
    expect(asPod(t.acquire(() => {}, 0)).address).toBe(pods[0]);
  });

  it('at CC=0 never holds while a Pod exists', () => {
    const t = throttler(limits());
    t.update(0, podList(1), [], SELF);
    for (let i = 0; i < 100; i++) asPod(t.acquire(() => {}, 0));
    expect(t.inFlight).toBe(100);
    expect(t.held).toBe(0);
  });

  it('at CC=0 with no Pod holds until the first Pod appears', () => {
    const grants = new Grants();
    const t = throttler(limits(), () => 0);
    t.update(0, [], [], SELF);
    asHeld(t.acquire(grants.for('a'), 0));
    t.update(0, ['10.0.0.1:8012'], [], SELF);
    expect(grants.order).toEqual([['a', '10.0.0.1:8012']]);
  });

  it('at CC 1–3 sends to the first Pod with room, in sorted order', () => {
    const pods = podList(3);
    const t = throttler(limits());
    t.update(2, [pods[2]!, pods[0]!, pods[1]!], [], SELF);
    const first = asPod(t.acquire(() => {}, 0));
    const second = asPod(t.acquire(() => {}, 0));
    const third = asPod(t.acquire(() => {}, 0));
    expect([first.address, second.address, third.address]).toEqual([pods[0], pods[0], pods[1]]);
    t.release(first);
    expect(asPod(t.acquire(() => {}, 0)).address).toBe(pods[0]);
    expect(asPod(t.acquire(() => {}, 0)).address).toBe(pods[1]);
    expect(asPod(t.acquire(() => {}, 0)).address).toBe(pods[2]);
  });

  it('at CC=3 still packs onto the first Pod', () => {
    const pods = podList(2);
    const t = throttler(limits());
    t.update(3, pods, [], SELF);
    const picked = [0, 1, 2, 3].map(() => asPod(t.acquire(() => {}, 0)).address);
    expect(picked).toEqual([pods[0], pods[0], pods[0], pods[1]]);
  });

  it('at CC>3 goes round robin, skipping full Pods', () => {
    const pods = podList(3);
    const t = throttler(limits());
    t.update(4, pods, [], SELF);
    const slots = Array.from({ length: 12 }, () => asPod(t.acquire(() => {}, 0)));
    expect(slots.map((s) => s.address)).toEqual([...pods, ...pods, ...pods, ...pods]);
    expect(t.acquire(() => {}, 0)).toBeInstanceOf(HeldRequest);
    const byAddress = new Map(slots.map((s) => [s.address, s]));
    t.release(byAddress.get(pods[0]!)!); // the held request takes it; the cursor moves to Pod 1
    t.release(byAddress.get(pods[0]!)!);
    t.release(byAddress.get(pods[2]!)!);
    // Pod 1 is full: skipped.
    const next = [0, 1].map(() => asPod(t.acquire(() => {}, 0)).address);
    expect(next).toEqual([pods[2], pods[0]]);
    expect(t.acquire(() => {}, 0)).toBeInstanceOf(HeldRequest);
  });

  it('at CC>3 restarts the cursor when Pods shrink below it', () => {
    const pods = podList(4);
    const t = throttler(limits());
    t.update(4, pods, [], SELF);
    for (let i = 0; i < 3; i++) asPod(t.acquire(() => {}, 0)); // cursor now at 3
    t.update(4, [pods[0]!, pods[1]!], [], SELF);
    expect(asPod(t.acquire(() => {}, 0)).address).toBe(pods[0]);
  });
});

describe('RevisionThrottler per-Pod limit and holding', () => {
  it('at CC=1 with 2 Pods grants 2 of 10 and holds 8, then grants held ones FIFO on release', () => {
    const pods = podList(2);
    const grants = new Grants();
    const t = throttler(limits());
    t.update(1, pods, [], SELF);
    const results = Array.from({ length: 10 }, (_, i) => t.acquire(grants.for(`r${i}`), 0));
    const granted = results.filter((r): r is PodSlot => r instanceof PodSlot);
    expect(granted.map((p) => p.address)).toEqual(pods);
    expect(results.slice(2).every((r) => r instanceof HeldRequest)).toBe(true);
    expect(t.held).toBe(8);
    expect(t.inFlight).toBe(2);

    t.release(granted[1]!);
    t.release(granted[0]!);
    expect(grants.order).toEqual([
      ['r2', pods[1]],
      ['r3', pods[0]],
    ]);
    expect(t.held).toBe(6);
    expect(t.inFlight).toBe(2);
    expect(granted.every((p) => p.inFlight === 1)).toBe(true);
  });

  it('never runs more than CC on a Pod through any sequence of acquires and releases', () => {
    const pods = podList(3);
    const t = throttler(limits());
    t.update(2, pods, [], SELF);
    const running: PodSlot[] = [];
    const onGrant = (pod: PodSlot): void => {
      running.push(pod);
    };
    let seed = 7;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let step = 0; step < 2000; step++) {
      if (next() < 0.55) {
        const r = t.acquire(onGrant, 0);
        if (r instanceof PodSlot) running.push(r);
      } else if (running.length > 0) {
        const [pod] = running.splice(Math.floor(next() * running.length), 1);
        t.release(pod!);
      }
      for (const address of pods) {
        const count = running.filter((p) => p.address === address).length;
        expect(count).toBeLessThanOrEqual(2);
      }
      expect(t.inFlight).toBe(running.length);
    }
  });

  it('refuses with full once maxHeld requests are held, reserving nothing', () => {
    const lim = limits(2, 1000);
    const t = throttler(lim);
    t.update(1, podList(1), [], SELF);
    asPod(t.acquire(() => {}, 10));
    asHeld(t.acquire(() => {}, 10));
    asHeld(t.acquire(() => {}, 10));
    expect(t.acquire(() => {}, 10)).toBe('full');
    expect(t.acquire(() => {}, 0, true)).toBe('full');
    expect(t.held).toBe(2);
    expect(lim.pool.bytesInUse).toBe(20);
  });

  it('shares the held bytes fairly: a revision under its share pushes out the newest of one over it', () => {
    const lim = limits(100, 100);
    const a = throttler(lim);
    const b = throttler(lim);
    a.update(1, [], [], SELF);
    b.update(1, [], [], SELF);
    const refused: string[] = [];
    const oldestA = asHeld(
      a.acquire(
        () => {},
        30,
        false,
        undefined,
        () => refused.push('a30'),
      ),
    );
    asHeld(
      a.acquire(
        () => {},
        30,
        false,
        undefined,
        () => refused.push('a30 second'),
      ),
    );
    asHeld(
      a.acquire(
        () => {},
        40,
        false,
        undefined,
        () => refused.push('a40'),
      ),
    );
    expect(lim.pool.bytesInUse).toBe(100);
    // a is alone at the cap: it is refused itself.
    expect(a.acquire(() => {}, 1)).toBe('full');
    // b (under its share, 100 ÷ 2) takes the place of a's newest requests until its own fits.
    asHeld(
      b.acquire(
        () => {},
        41,
        false,
        undefined,
        () => refused.push('b41'),
      ),
    );
    expect(refused).toEqual(['a40', 'a30 second']);
    expect([a.held, b.held, lim.pool.bytesInUse]).toEqual([1, 1, 71]);
    expect(oldestA.held).toBe(true);
    // Room left is anyone's, past the share too.
    asHeld(
      b.acquire(
        () => {},
        29,
        false,
        undefined,
        () => refused.push('b29'),
      ),
    );
    // Now a, under its share, pushes out b's newest.
    asHeld(a.acquire(() => {}, 10));
    expect(refused.at(-1)).toBe('b29');
    expect([a.held, b.held, lim.pool.bytesInUse]).toEqual([2, 1, 81]);
    // b would pass its share: refused, nobody pushed out.
    expect(b.acquire(() => {}, 20)).toBe('full');
    expect(refused).toHaveLength(3);
  });

  it('does not reserve bytes for a request granted at once', () => {
    const lim = limits(10, 100);
    const t = throttler(lim);
    t.update(1, podList(1), [], SELF);
    asPod(t.acquire(() => {}, 1000));
    expect(lim.pool.bytesInUse).toBe(0);
  });

  it('returns the bytes when a held request is granted or cancelled', () => {
    const lim = limits(10, 100);
    const t = throttler(lim);
    t.update(1, podList(1), [], SELF);
    const pod = asPod(t.acquire(() => {}, 0));
    const granted = asHeld(t.acquire(() => {}, 30));
    const cancelled = asHeld(t.acquire(() => {}, 50));
    expect(lim.pool.bytesInUse).toBe(80);
    t.release(pod);
    expect(lim.pool.bytesInUse).toBe(50);
    t.cancel(cancelled);
    expect(lim.pool.bytesInUse).toBe(0);
    // Cancelling again, or cancelling a granted request, returns nothing twice.
    t.cancel(cancelled);
    t.cancel(granted);
    expect(lim.pool.bytesInUse).toBe(0);
    expect(t.held).toBe(0);
  });

  it('cancels held requests at the head, middle and tail, keeping the others in order', () => {
    const grants = new Grants();
    const t = throttler(limits());
    t.update(1, podList(1), [], SELF);
    const pod = asPod(t.acquire(() => {}, 0));
    const held = [0, 1, 2, 3, 4].map((i) => asHeld(t.acquire(grants.for(`h${i}`), 0)));
    t.cancel(held[0]!);
    t.cancel(held[2]!);
    t.cancel(held[4]!);
    expect(t.held).toBe(2);
    t.release(pod);
    t.release(pod);
    t.release(pod);
    expect(grants.order.map(([label]) => label)).toEqual(['h1', 'h3']);
    expect(t.held).toBe(0);
    expect(t.inFlight).toBe(0);
    // The queue is usable again: a new request goes straight to the Pod.
    asPod(t.acquire(() => {}, 0));
  });

  it('cancels the only held request and the last ones in turn', () => {
    const grants = new Grants();
    const t = throttler(limits());
    t.update(1, podList(1), [], SELF);
    const pod = asPod(t.acquire(() => {}, 0));
    const a = asHeld(t.acquire(grants.for('a'), 0));
    t.cancel(a);
    const b = asHeld(t.acquire(grants.for('b'), 0));
    const c = asHeld(t.acquire(grants.for('c'), 0));
    t.cancel(c);
    t.cancel(b);
    expect(t.held).toBe(0);
    asHeld(t.acquire(grants.for('d'), 0));
    t.release(pod);
    expect(grants.order.map(([label]) => label)).toEqual(['d']);
  });

  it('puts a retry at the front of the held requests', () => {
    const grants = new Grants();
    const t = throttler(limits());
    t.update(1, podList(1), [], SELF);
    const pod = asPod(t.acquire(() => {}, 0));
    asHeld(t.acquire(grants.for('first'), 0));
    asHeld(t.acquire(grants.for('second'), 0));
    asHeld(t.acquire(grants.for('retry'), 0, true));
    t.release(pod);
    t.release(pod);
    t.release(pod);
    expect(grants.order.map(([label]) => label)).toEqual(['retry', 'first', 'second']);
  });

  it('grants a retry a Pod at once when one has room', () => {
    const t = throttler(limits());
    t.update(1, podList(1), [], SELF);
    asPod(t.acquire(() => {}, 0, true));
  });

  it('holds a new request behind earlier held ones', () => {
    const grants = new Grants();
    const t = throttler(limits());
    t.update(1, [], [], SELF);
    asHeld(t.acquire(grants.for('a'), 0));
    asHeld(t.acquire(grants.for('b'), 0));
    t.update(1, podList(1), [], SELF);
    expect(grants.order.map(([label]) => label)).toEqual(['a']);
    asHeld(t.acquire(grants.for('c'), 0));
    expect(t.held).toBe(2);
  });
});

describe('RevisionThrottler.update', () => {
  it('keeps the in-flight counts of Pods that stay, so CC is not exceeded after a change', () => {
    const pods = podList(3);
    const t = throttler(limits());
    t.update(1, [pods[0]!, pods[1]!], [], SELF);
    const a = asPod(t.acquire(() => {}, 0));
    const b = asPod(t.acquire(() => {}, 0));
    t.update(1, [pods[1]!, pods[2]!, pods[0]!], [], SELF);
    const c = asPod(t.acquire(() => {}, 0));
    expect(c.address).toBe(pods[2]);
    asHeld(t.acquire(() => {}, 0));
    expect(a.inFlight).toBe(1);
    expect(b.inFlight).toBe(1);
    expect(t.inFlight).toBe(3);
    // The same slot objects are kept, so a release after the change frees the right Pod.
    t.release(a);
    expect(t.held).toBe(0);
    expect(a.inFlight).toBe(1);
  });

  it('applies a new containerConcurrency to Pods that stay', () => {
    const pods = podList(1);
    const grants = new Grants();
    const t = throttler(limits());
    t.update(1, pods, [], SELF);
    const pod = asPod(t.acquire(() => {}, 0));
    asHeld(t.acquire(grants.for('a'), 0));
    asHeld(t.acquire(grants.for('b'), 0));
    t.update(2, pods, [], SELF);
    expect(grants.order).toEqual([['a', pods[0]]]);
    expect(pod.inFlight).toBe(2);
    expect(pod.capacity).toBe(2);
    t.update(1, pods, [], SELF);
    t.release(pod);
    // Still at capacity 1 with one running: b stays held.
    expect(grants.order.map(([label]) => label)).toEqual(['a']);
    t.release(pod);
    expect(grants.order.map(([label]) => label)).toEqual(['a', 'b']);
  });

  it('ignores releases from Pods removed while their requests ran', () => {
    const pods = podList(2);
    const grants = new Grants();
    const t = throttler(limits());
    t.update(1, pods, [], SELF);
    const a = asPod(t.acquire(() => {}, 0));
    const b = asPod(t.acquire(() => {}, 0));
    t.update(1, [pods[1]!], [], SELF);
    expect(a.active).toBe(false);
    expect(b.active).toBe(true);
    expect(t.podCount).toBe(1);
    asHeld(t.acquire(grants.for('held'), 0));
    t.release(a);
    expect(grants.order).toEqual([]);
    expect(t.held).toBe(1);
    expect(t.inFlight).toBe(1);
    t.release(b);
    expect(grants.order).toEqual([['held', pods[1]]]);
  });

  it('does not send more than CC to a Pod that left and came back while its requests still run', () => {
    // A ready Pod that failed one request is dropped until a probe passes (revision-backends.ts), while
    // its other requests keep running; when it returns, those still count against its CC.
    const pods = podList(2);
    const t = throttler(limits());
    t.update(2, pods, [], SELF);
    const first = asPod(t.acquire(() => {}, 0));
    const second = asPod(t.acquire(() => {}, 0));
    expect([first.address, second.address]).toEqual([pods[0], pods[0]]);
    t.update(2, [pods[1]!], [], SELF);
    t.update(2, pods, [], SELF);
    const third = asPod(t.acquire(() => {}, 0));
    expect(third.address).toBe(pods[1]);
  });

  it('releases harmlessly after every Pod is gone', () => {
    const t = throttler(limits());
    t.update(1, podList(1), [], SELF);
    const pod = asPod(t.acquire(() => {}, 0));
    t.update(1, [], [], SELF);
    expect(t.capacity).toBe(0);
    asHeld(t.acquire(() => {}, 0));
    expect(() => t.release(pod)).not.toThrow();
    expect(t.inFlight).toBe(0);
    expect(t.held).toBe(1);
  });

  it('drains held requests in arrival order when capacity appears', () => {
    const pods = podList(2);
    const grants = new Grants();
    const t = throttler(limits());
    t.update(1, [], [], SELF);
    for (const label of ['h0', 'h1', 'h2', 'h3']) asHeld(t.acquire(grants.for(label), 0));
    t.update(1, pods, [], SELF);
    expect(grants.order).toEqual([
      ['h0', pods[0]],
      ['h1', pods[1]],
    ]);
    t.update(2, pods, [], SELF);
    expect(grants.order.slice(2)).toEqual([
      ['h2', pods[0]],
      ['h3', pods[1]],
    ]);
    expect(t.held).toBe(0);
    expect(t.inFlight).toBe(4);
  });

  it('drains held requests when a new activator share gives this activator more Pods', () => {
    const pods = podList(4);
    const activators = activatorList(2);
    const grants = new Grants();
    const t = throttler(limits());
    t.update(1, pods, activators, activators[1]!);
    expect(t.podCount).toBe(2);
    asPod(t.acquire(() => {}, 0));
    asPod(t.acquire(() => {}, 0));
    asHeld(t.acquire(grants.for('h'), 0));
    t.update(1, pods, [activators[1]!], activators[1]!);
    expect(t.podCount).toBe(4);
    expect(grants.order).toEqual([['h', pods[0]]]);
  });
});

describe('RevisionThrottler grant callbacks', () => {
  it('handles a grant that releases synchronously without recursing or losing requests', () => {
    // Deep enough that a grant → release → drain recursion would overflow the stack.
    const count = 20_000;
    const t = throttler(limits(count + 1, 1 << 30));
    t.update(1, podList(1), [], SELF);
    const first = asPod(t.acquire(() => {}, 0));
    const order: number[] = [];
    let held = 0;
    for (let i = 0; i < count; i++) {
      const r = t.acquire((pod) => {
        order.push(i);
        t.release(pod);
      }, 1);
      if (r instanceof HeldRequest) held++;
    }
    expect(held).toBe(count);
    t.release(first);
    expect(order.length).toBe(count);
    expect(order.every((v, i) => v === i)).toBe(true);
    expect(t.held).toBe(0);
    expect(t.inFlight).toBe(0);
    asPod(t.acquire(() => {}, 0));
  });

  it('keeps FIFO order when a grant acquires again synchronously', () => {
    const grants = new Grants();
    const t = throttler(limits());
    t.update(1, podList(1), [], SELF);
    const pod = asPod(t.acquire(() => {}, 0));
    asHeld(
      t.acquire((granted) => {
        grants.for('a')(granted);
        // A request arriving during the grant queues behind b.
        asHeld(t.acquire(grants.for('c'), 0));
        t.release(granted);
      }, 0),
    );
    asHeld(t.acquire(grants.for('b'), 0));
    t.release(pod);
    expect(grants.order.map(([label]) => label)).toEqual(['a', 'b']);
    expect(t.held).toBe(1);
  });
});

describe('RevisionThrottler fair holding between keys', () => {
  const tenant = (t: RevisionThrottler, name: string) =>
    t.placeOf((header) => (header === 'x-tenant' ? name : undefined));

  it('places requests by the revision’s key and priority headers', () => {
    const t = throttler(limits());
    expect(t.placeOf(() => 'x')).toEqual({ key: '', priority: 0 });
    t.configure({
      ...DEFAULT_HOLDING,
      keyHeader: 'x-tenant',
      priority: {
        header: 'x-priority',
        classes: new Map([
          ['high', 0],
          ['low', 1],
        ]),
        fallback: 1,
        count: 2,
      },
    });
    const headers = (h: Record<string, string>) => (name: string) => h[name];
    expect(t.placeOf(headers({ 'x-tenant': 'acme', 'x-priority': 'high' }))).toEqual({
      key: 'acme',
      priority: 0,
    });
    expect(t.placeOf(headers({ 'x-priority': 'urgent' }))).toEqual({ key: '', priority: 1 });
  });

  it('gives two tenants at 100:1 load half the revision’s cap each, and releases them in turn', () => {
    const t = throttler(limits(10));
    t.configure({ ...DEFAULT_HOLDING, keyHeader: 'x-tenant', slowStartMs: 0 });
    t.update(1, [], [], SELF);
    const granted: string[] = [];
    let running: PodSlot | undefined;
    let refusedBig = 0;
    const ask = (name: string) =>
      t.acquire(
        (pod) => {
          granted.push(name);
          running = pod;
        },
        0,
        false,
        tenant(t, name),
        () => refusedBig++,
      );
    let heldBig = 0;
    let heldSmall = 0;
    for (let i = 0; i < 100; i++) {
      if (ask('big') !== 'full') heldBig++;
      if (i % 100 === 0 && ask('small') !== 'full') heldSmall++;
    }
    for (let i = 0; i < 10; i++) if (ask('small') !== 'full') heldSmall++;
    // The small tenant got its half, each of its requests taking the place of one of big's newest.
    expect(heldSmall).toBe(5);
    expect(t.held).toBe(10);
    expect(heldBig - refusedBig).toBe(5);
    expect(refusedBig).toBe(4);
    // Released round-robin between the tenants as a Pod frees up.
    t.update(1, podList(1), [], SELF);
    for (let i = 0; i < 3; i++) t.release(running!);
    expect(granted.slice(0, 4)).toEqual(['big', 'small', 'big', 'small']);
  });
});

describe('RevisionThrottler slow start', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ramps a new Pod from 2 by doubling over the window, then gives its full capacity', () => {
    expect(slowStartLimit(1000, 0, 700)).toBe(SLOW_START_INITIAL);
    expect(slowStartLimit(1000, 99, 700)).toBe(2);
    expect(slowStartLimit(1000, 100, 700)).toBe(4);
    expect(slowStartLimit(1000, 699, 700)).toBe(128);
    expect(slowStartLimit(1000, 700, 700)).toBe(1000);
    expect(slowStartLimit(Number.POSITIVE_INFINITY, 700, 700)).toBe(Number.POSITIVE_INFINITY);
    expect(slowStartLimit(10, 300, 700)).toBe(10);
    expect(slowStartLimit(1, 0, 700)).toBe(1);
  });

  it('releases held requests into a new Pod at the ramp’s pace, oldest first, and at once after it', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const t = new RevisionThrottler(limits(1000));
    t.configure({ ...DEFAULT_HOLDING, slowStartMs: 700 });
    t.update(0, [], [], SELF);
    const granted: number[] = [];
    for (let i = 0; i < 300; i++) asHeld(t.acquire(() => granted.push(i), 0));
    t.update(0, podList(1), [], SELF);
    expect(granted).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(100);
    expect(granted).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(500);
    expect(granted).toHaveLength(128);
    await vi.advanceTimersByTimeAsync(100);
    expect(granted).toHaveLength(300);
    expect(granted.every((v, i) => v === i)).toBe(true);
    expect(t.inFlight).toBe(300);
  });

  it('adds one request for each one the new Pod answered, doubling each round trip', () => {
    expect(slowStartLimit(1000, 0, 700, 6)).toBe(8);
    expect(slowStartLimit(10, 0, 700, 100)).toBe(10);
    const t = new RevisionThrottler(limits(1000));
    t.configure({ ...DEFAULT_HOLDING, slowStartMs: 60_000 });
    t.update(0, [], [], SELF);
    const running: PodSlot[] = [];
    for (let i = 0; i < 100; i++) asHeld(t.acquire((pod) => running.push(pod), 0));
    t.update(0, podList(1), [], SELF);
    // Each round answers every request running: 2, then 4, 8, 16 at once.
    const rounds: number[] = [];
    while (running.length > 0 && rounds.length < 4) {
      const round = running.splice(0);
      rounds.push(round.length);
      for (const pod of round) t.release(pod);
    }
    expect(rounds).toEqual([2, 4, 8, 16]);
  });

  it('also paces a Pod that joins a revision already running, and never passes containerConcurrency', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const t = new RevisionThrottler(limits(1000), () => 0);
    t.configure({ ...DEFAULT_HOLDING, slowStartMs: 700 });
    t.update(10, podList(1), [], SELF);
    await vi.advanceTimersByTimeAsync(700);
    for (let i = 0; i < 10; i++) asPod(t.acquire(() => {}, 0));
    const second: string[] = [];
    for (let i = 0; i < 30; i++) asHeld(t.acquire((pod) => second.push(pod.address), 0));
    t.update(10, podList(2), [], SELF);
    expect(second).toEqual([podList(2)[1], podList(2)[1]]);
    await vi.advanceTimersByTimeAsync(700);
    expect(second).toHaveLength(10);
    expect(t.held).toBe(20);
  });

  it('leaves a Pod unpaced when slow start is off', () => {
    const t = new RevisionThrottler(limits(1000));
    t.configure({ ...DEFAULT_HOLDING, slowStartMs: 0 });
    t.update(0, [], [], SELF);
    let granted = 0;
    for (let i = 0; i < 50; i++) t.acquire(() => granted++, 0);
    t.update(0, podList(1), [], SELF);
    expect(granted).toBe(50);
  });
});
