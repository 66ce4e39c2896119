import { describe, expect, it } from 'vitest';
import { nextHost } from './pod-network.js';

describe('nextHost', () => {
  it('goes on after the last address handed out rather than reusing a freed lower one', () => {
    expect(nextHost(new Set(), 1)).toBe(2);
    expect(nextHost(new Set([2, 3]), 3)).toBe(4);
    // 2 was freed just now: 5 comes first.
    expect(nextHost(new Set([3, 4]), 4)).toBe(5);
  });

  it('wraps around past 254 and skips addresses in use', () => {
    expect(nextHost(new Set([2, 3]), 254)).toBe(4);
    expect(nextHost(new Set([254]), 253)).toBe(2);
  });

  it('fails when all 253 addresses are in use', () => {
    const all = new Set(Array.from({ length: 253 }, (_, i) => i + 2));
    expect(() => nextHost(all, 100)).toThrow('the Pod range is full');
  });
});
