import { describe, expect, it } from 'vitest';
import { parseCpuList, parseCpuRoles } from './pinning.js';
import { parseCommonSettings, parseConnections } from './settings.js';

describe('parseCommonSettings', () => {
  const defaults = {
    duration: '8',
    warmup: '2',
    connections: '1,10,100',
    cpus: '0,0,1',
    pin: true,
    summary: true,
  };

  it('parses the defaults', () => {
    expect(parseCommonSettings(defaults)).toEqual({
      durationSeconds: 8,
      warmupSeconds: 2,
      connections: [1, 10, 100],
      roles: { load: 0, app: 0, proxy: 1 },
      pin: true,
      summary: true,
    });
  });

  it('names every bad option in one error', () => {
    expect(() => parseCommonSettings({ ...defaults, duration: 'x', connections: '0', cpus: '0,1' })).toThrow(
      /--duration[\s\S]*--connections[\s\S]*--cpus/,
    );
  });

  it('honours --no-pin and --no-summary', () => {
    const settings = parseCommonSettings({ ...defaults, pin: false, summary: false });
    expect(settings.pin).toBe(false);
    expect(settings.summary).toBe(false);
  });
});

describe('parseConnections', () => {
  it('drops duplicates and keeps order', () => {
    expect(parseConnections('10, 1,10')).toEqual([10, 1]);
  });
});

describe('CPU lists', () => {
  it('expands kernel CPU lists', () => {
    expect(parseCpuList('0-2,5\n')).toEqual([0, 1, 2, 5]);
    expect(() => parseCpuList('3-1')).toThrow(/invalid CPU list/);
  });

  it('parses load,app,proxy roles', () => {
    expect(parseCpuRoles('1,1,0')).toEqual({ load: 1, app: 1, proxy: 0 });
    expect(() => parseCpuRoles('0,1')).toThrow(/--cpus/);
  });
});
