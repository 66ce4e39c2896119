import { describe, expect, it } from 'vitest';
import { crowdDelayMs, DEFAULT_CROWD_EXP, parseCrowdSettings } from './crowd-delay.js';

describe('parseCrowdSettings', () => {
  it('is off without the variables', () => {
    expect(parseCrowdSettings({})).toBeUndefined();
  });

  it('reads the base delay and the exponent, 1.5 by default', () => {
    expect(parseCrowdSettings({ HELLO_CROWDED_MS: '0.2' })).toEqual({ ms: 0.2, exp: DEFAULT_CROWD_EXP });
    expect(parseCrowdSettings({ HELLO_CROWDED_MS: '1', HELLO_CROWDED_EXP: '2' })).toEqual({ ms: 1, exp: 2 });
  });

  it('names each variable whose value is wrong', () => {
    expect(() => parseCrowdSettings({ HELLO_CROWDED_MS: 'fast' })).toThrow(/HELLO_CROWDED_MS/);
    expect(() => parseCrowdSettings({ HELLO_CROWDED_MS: '0' })).toThrow(/HELLO_CROWDED_MS/);
    expect(() => parseCrowdSettings({ HELLO_CROWDED_MS: '' })).toThrow(/HELLO_CROWDED_MS/);
    expect(() => parseCrowdSettings({ HELLO_CROWDED_MS: '1', HELLO_CROWDED_EXP: '-1' })).toThrow(
      /HELLO_CROWDED_EXP/,
    );
    expect(() => parseCrowdSettings({ HELLO_CROWDED_EXP: '2' })).toThrow(/without HELLO_CROWDED_MS/);
  });
});

describe('crowdDelayMs', () => {
  it('grows faster than the load: ms × in-flight^exp', () => {
    const settings = { ms: 0.2, exp: 1.5 };
    expect(crowdDelayMs(settings, 1)).toBeCloseTo(0.2);
    expect(crowdDelayMs(settings, 4)).toBeCloseTo(1.6);
    expect(crowdDelayMs(settings, 100)).toBeCloseTo(200);
    // A burst of n at once costs more per request than the same n two at a time.
    expect(crowdDelayMs(settings, 100) / 100).toBeGreaterThan(crowdDelayMs(settings, 2) / 2);
  });

  it('counts at least the request itself', () => {
    expect(crowdDelayMs({ ms: 3, exp: 2 }, 0)).toBe(3);
  });
});
