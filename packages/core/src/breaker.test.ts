import { describe, expect, it } from 'vitest';
import { type Admission, Breaker, Waiter } from './breaker.js';

/** Enters `n` requests, recording each admission's label in `admitted` when its waiter is admitted. */
function enterMany(breaker: Breaker, n: number, admitted: number[], first = 0): Admission[] {
  const out: Admission[] = [];
  for (let i = first; i < first + n; i++) out.push(breaker.enter(() => admitted.push(i)));
  return out;
}

describe('Breaker', () => {
  it('runs requests up to capacity at once', () => {
    const breaker = new Breaker({ capacity: 3, queueDepth: 0 });
    expect(enterMany(breaker, 3, [])).toEqual(['run', 'run', 'run']);
    expect(breaker.inFlight).toBe(3);
    expect(breaker.queued).toBe(0);
  });

  it('queues requests beyond capacity up to queueDepth, then rejects', () => {
    const breaker = new Breaker({ capacity: 2, queueDepth: 3 });
    const admissions = enterMany(breaker, 6, []);
    expect(admissions.slice(0, 2)).toEqual(['run', 'run']);
    for (const a of admissions.slice(2, 5)) expect(a).toBeInstanceOf(Waiter);
    expect(admissions[5]).toBe('full');
    expect(breaker.inFlight).toBe(2);
    expect(breaker.queued).toBe(3);
  });

  it('rejects at once when queueDepth is 0 and every slot is taken', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 0 });
    expect(breaker.enter(() => {})).toBe('run');
    expect(breaker.enter(() => {})).toBe('full');
    expect(breaker.queued).toBe(0);
  });

  it.each([1, 2, 5, 10])('admits 11×CC requests with CC=%i and a 10×CC queue; the next is full', (cc) => {
    const breaker = new Breaker({ capacity: cc, queueDepth: 10 * cc });
    const admissions = enterMany(breaker, 11 * cc, []);
    expect(admissions.filter((a) => a === 'run')).toHaveLength(cc);
    expect(admissions.filter((a) => a instanceof Waiter)).toHaveLength(10 * cc);
    expect(breaker.enter(() => {})).toBe('full');
    expect(breaker.enter(() => {})).toBe('full');
    expect(breaker.inFlight + breaker.queued).toBe(11 * cc);
  });

  it('does not count a rejected request', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 1 });
    breaker.enter(() => {});
    breaker.enter(() => {});
    expect(breaker.enter(() => {})).toBe('full');
    breaker.release();
    breaker.release();
    expect(breaker.inFlight).toBe(0);
    expect(breaker.queued).toBe(0);
  });

  it('admits waiters strictly in arrival order, one per release', () => {
    const breaker = new Breaker({ capacity: 2, queueDepth: 5 });
    const admitted: number[] = [];
    enterMany(breaker, 7, admitted);
    expect(admitted).toEqual([]);
    breaker.release();
    expect(admitted).toEqual([2]);
    breaker.release();
    breaker.release();
    expect(admitted).toEqual([2, 3, 4]);
    breaker.release();
    breaker.release();
    expect(admitted).toEqual([2, 3, 4, 5, 6]);
    expect(breaker.inFlight).toBe(2);
    expect(breaker.queued).toBe(0);
  });

  it('hands a freed slot to the oldest waiter rather than to a newcomer', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 2 });
    const admitted: number[] = [];
    enterMany(breaker, 2, admitted);
    breaker.release();
    expect(admitted).toEqual([1]);
    // The slot went to the waiter, so a newcomer must queue.
    expect(breaker.enter(() => admitted.push(9))).toBeInstanceOf(Waiter);
    expect(breaker.inFlight).toBe(1);
  });

  it('keeps FIFO order for waiters that queue after earlier ones were admitted', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 2 });
    const admitted: number[] = [];
    enterMany(breaker, 3, admitted);
    breaker.release();
    enterMany(breaker, 1, admitted, 3);
    breaker.release();
    breaker.release();
    expect(admitted).toEqual([1, 2, 3]);
  });

  it('cancels a waiter in the middle of the queue: its place frees and it is never admitted', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 3 });
    const admitted: number[] = [];
    const admissions = enterMany(breaker, 4, admitted);
    expect(breaker.enter(() => {})).toBe('full');
    expect(breaker.cancel(admissions[2] as Waiter)).toBe(true);
    expect(breaker.queued).toBe(2);
    expect(breaker.enter(() => admitted.push(4))).toBeInstanceOf(Waiter);
    for (let i = 0; i < 4; i++) breaker.release();
    expect(admitted).toEqual([1, 3, 4]);
  });

  it('cancels the head of the queue', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 3 });
    const admitted: number[] = [];
    const admissions = enterMany(breaker, 4, admitted);
    expect(breaker.cancel(admissions[1] as Waiter)).toBe(true);
    breaker.release();
    expect(admitted).toEqual([2]);
    breaker.release();
    breaker.release();
    expect(admitted).toEqual([2, 3]);
  });

  it('cancels the tail of the queue, after which new waiters still join in order', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 3 });
    const admitted: number[] = [];
    const admissions = enterMany(breaker, 4, admitted);
    expect(breaker.cancel(admissions[3] as Waiter)).toBe(true);
    enterMany(breaker, 1, admitted, 4);
    for (let i = 0; i < 4; i++) breaker.release();
    expect(admitted).toEqual([1, 2, 4]);
  });

  it('cancels the only waiter, leaving an empty queue that accepts new waiters', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 1 });
    const admitted: number[] = [];
    const admissions = enterMany(breaker, 2, admitted);
    expect(breaker.cancel(admissions[1] as Waiter)).toBe(true);
    expect(breaker.queued).toBe(0);
    enterMany(breaker, 1, admitted, 2);
    breaker.release();
    expect(admitted).toEqual([2]);
  });

  it('returns false when cancelling a waiter that was already admitted, and changes nothing', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 2 });
    const admitted: number[] = [];
    const admissions = enterMany(breaker, 3, admitted);
    breaker.release();
    expect(admitted).toEqual([1]);
    expect(breaker.cancel(admissions[1] as Waiter)).toBe(false);
    expect(breaker.inFlight).toBe(1);
    expect(breaker.queued).toBe(1);
    breaker.release();
    expect(admitted).toEqual([1, 2]);
  });

  it('returns false when cancelling the same waiter twice', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 2 });
    const admissions = enterMany(breaker, 3, []);
    expect(breaker.cancel(admissions[1] as Waiter)).toBe(true);
    expect(breaker.cancel(admissions[1] as Waiter)).toBe(false);
    expect(breaker.queued).toBe(1);
  });

  it('returns inFlight and queued to 0 once everything is released', () => {
    const breaker = new Breaker({ capacity: 3, queueDepth: 30 });
    const admitted: number[] = [];
    const admissions = enterMany(breaker, 33, admitted);
    breaker.cancel(admissions[10] as Waiter);
    breaker.cancel(admissions[20] as Waiter);
    // Every request that ran or was admitted releases once.
    for (let i = 0; i < 31; i++) breaker.release();
    expect(admitted).toHaveLength(28);
    expect(breaker.inFlight).toBe(0);
    expect(breaker.queued).toBe(0);
    expect(breaker.enter(() => {})).toBe('run');
  });

  it('ignores a release with nothing running', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 0 });
    breaker.release();
    expect(breaker.inFlight).toBe(0);
    expect(breaker.enter(() => {})).toBe('run');
    expect(breaker.enter(() => {})).toBe('full');
  });

  it.each([
    { capacity: 0, queueDepth: 0 },
    { capacity: -1, queueDepth: 0 },
    { capacity: 1.5, queueDepth: 0 },
    { capacity: Number.NaN, queueDepth: 0 },
    { capacity: Number.POSITIVE_INFINITY, queueDepth: 0 },
    { capacity: 1, queueDepth: -1 },
    { capacity: 1, queueDepth: 0.5 },
    { capacity: 1, queueDepth: Number.NaN },
  ])('rejects %o with a RangeError', (options) => {
    expect(() => new Breaker(options)).toThrow(RangeError);
  });

  it('names the bad option in its error', () => {
    expect(() => new Breaker({ capacity: 0, queueDepth: 0 })).toThrow(/capacity/);
    expect(() => new Breaker({ capacity: 1, queueDepth: -2 })).toThrow(/queueDepth/);
  });

  it('exposes its limits', () => {
    const breaker = new Breaker({ capacity: 4, queueDepth: 40 });
    expect(breaker.capacity).toBe(4);
    expect(breaker.queueDepth).toBe(40);
  });
});
