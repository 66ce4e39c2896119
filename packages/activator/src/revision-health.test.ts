import { describe, expect, it } from 'vitest';
import { type FailingListener, RevisionHealth } from './revision-health.js';

function listener(): FailingListener & { refused: string[] } {
  const refused: string[] = [];
  return { refused, revisionFailing: (detail) => refused.push(detail) };
}

describe('RevisionHealth', () => {
  it('refuses while the source says failing and no Pod is usable, naming the revision and the reason', () => {
    const health = new RevisionHealth('hello-00002');
    health.update(undefined, 0, 0);
    expect(health.refusing).toBeUndefined();
    health.update('app exited with code 1 (3 times)', 0, 0);
    expect(health.refusing).toBe('hello-00002 failing: app exited with code 1 (3 times)');
    // A usable Pod (probed before the source caught up) serves: nothing is refused.
    health.update('app exited with code 1 (3 times)', 1, 0);
    expect(health.refusing).toBeUndefined();
    health.update(undefined, 0, 0);
    expect(health.refusing).toBeUndefined();
  });

  it('ends every held request once when the revision turns failing, and no released one', () => {
    const health = new RevisionHealth('r');
    const a = listener();
    const b = listener();
    const c = listener();
    health.hold(a);
    health.hold(b);
    health.hold(c);
    health.release(c);
    health.update('x', 0, 0);
    expect(a.refused).toEqual(['r failing: x']);
    expect(b.refused).toEqual(['r failing: x']);
    expect(c.refused).toEqual([]);
    expect(health.holding).toBe(0);
    health.update('x', 0, 0);
    expect(a.refused).toHaveLength(1);
  });

  it('does not end held requests while a Pod is usable', () => {
    const health = new RevisionHealth('r');
    const a = listener();
    health.update(undefined, 1, 0);
    health.hold(a);
    health.update('x', 1, 0);
    expect(a.refused).toEqual([]);
    // The last usable Pod goes: the failure now refuses it.
    health.update('x', 0, 0);
    expect(a.refused).toEqual(['r failing: x']);
  });

  it('starts a wake at the first request without a usable Pod and measures it when one is usable', () => {
    const health = new RevisionHealth('r');
    health.woke(1000);
    health.woke(1500);
    expect(health.wokenAt).toBe(1000);
    health.update(undefined, 1, 1800);
    expect(health.wokenAt).toBeUndefined();
    expect(health.lastWake).toBe(800);
    // With a usable Pod, a request starts no wake.
    health.woke(2000);
    expect(health.wokenAt).toBeUndefined();
  });
});
