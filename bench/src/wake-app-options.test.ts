import { describe, expect, it } from 'vitest';
import { drawDelay, parseWakeAppOptions } from './wake-app-options.js';

describe('parseWakeAppOptions', () => {
  it('reads the port, the fault and the delay range, with defaults for the host and the delay', () => {
    expect(parseWakeAppOptions({ PORT: '8080', WAKE_FAULT: 'reset' })).toEqual({
      port: 8080,
      host: '127.0.0.1',
      fault: 'reset',
      delayMs: [0, 2000],
    });
    expect(
      parseWakeAppOptions({
        PORT: '1',
        HOST: '127.1.0.2',
        WAKE_FAULT: 'unattached',
        WAKE_FAULT_DELAY_MS: '250',
      }),
    ).toEqual({ port: 1, host: '127.1.0.2', fault: 'unattached', delayMs: [250, 250] });
    expect(
      parseWakeAppOptions({ PORT: '9', WAKE_FAULT: 'reset', WAKE_FAULT_DELAY_MS: '10-20' }).delayMs,
    ).toEqual([10, 20]);
    expect(parseWakeAppOptions({ PORT: '9', WAKE_FAULT: 'path' }).fault).toBe('path');
  });

  it('names every bad variable in one error', () => {
    expect(() =>
      parseWakeAppOptions({ PORT: '0', WAKE_FAULT: 'crash', WAKE_FAULT_DELAY_MS: '20-10' }),
    ).toThrow(
      /PORT must be a TCP port, got "0"; WAKE_FAULT must be one of reset, unattached, path, got "crash"; WAKE_FAULT_DELAY_MS must be/,
    );
    expect(() => parseWakeAppOptions({ WAKE_FAULT: 'reset' })).toThrow(
      /PORT must be a TCP port, got undefined/,
    );
    expect(() => parseWakeAppOptions({ PORT: '80', WAKE_FAULT: 'reset', WAKE_FAULT_DELAY_MS: '1s' })).toThrow(
      /WAKE_FAULT_DELAY_MS must be N or MIN-MAX milliseconds.*"1s"/,
    );
    expect(() =>
      parseWakeAppOptions({ PORT: '80', WAKE_FAULT: 'reset', WAKE_FAULT_DELAY_MS: '0-60001' }),
    ).toThrow(/WAKE_FAULT_DELAY_MS/);
  });
});

describe('drawDelay', () => {
  it('draws uniformly from the range, both ends included', () => {
    expect(drawDelay([0, 2000], () => 0)).toBe(0);
    expect(drawDelay([0, 2000], () => 0.999_999_9)).toBe(2000);
    expect(drawDelay([100, 200], () => 0.5)).toBe(150);
    expect(drawDelay([7, 7], () => 0.3)).toBe(7);
  });
});
