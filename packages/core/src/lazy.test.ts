import { describe, expect, it } from 'vitest';
import { lazy } from './lazy.js';

describe('lazy', () => {
  it('runs its loader on the first call, not before, and only once', () => {
    let loads = 0;
    const value = lazy(() => {
      loads++;
      return { loaded: loads };
    });
    expect(loads).toBe(0);
    const first = value();
    expect(loads).toBe(1);
    expect(value()).toBe(first);
    expect(loads).toBe(1);
  });

  it('keeps a falsy value once loaded', () => {
    let loads = 0;
    const value = lazy(() => {
      loads++;
      return undefined;
    });
    expect(value()).toBeUndefined();
    expect(value()).toBeUndefined();
    expect(loads).toBe(1);
  });

  it('tries again after a loader that threw', () => {
    let loads = 0;
    const value = lazy(() => {
      loads++;
      if (loads === 1) throw new Error('not yet');
      return 'ready';
    });
    expect(() => value()).toThrow('not yet');
    expect(value()).toBe('ready');
    expect(value()).toBe('ready');
    expect(loads).toBe(2);
  });
});
