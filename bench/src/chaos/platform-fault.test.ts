import { describe, expect, it } from 'vitest';
import { loggedSince } from './platform-fault.js';

describe('loggedSince', () => {
  it('counts the lines each log grew by, new files included', () => {
    const before = new Map([
      ['activator.log', 10],
      ['platform.log', 4],
    ]);
    const after = new Map([
      ['activator.log', 12],
      ['platform.log', 4],
      ['chaos-00001-3.queue-proxy.log', 5],
    ]);
    expect(loggedSince(before, after)).toEqual({
      total: 7,
      text: 'activator 2, chaos-00001-3.queue-proxy 5',
    });
    expect(loggedSince(before, before)).toEqual({ total: 0, text: 'none' });
  });
});
