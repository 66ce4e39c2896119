import { describe, expect, it } from 'vitest';
import { DEFAULT_HOLDING, holdingSettings } from './revision-settings.js';

describe('holdingSettings', () => {
  it('gives the defaults without annotations: no keys, no priorities, slow start on', () => {
    expect(holdingSettings(undefined)).toEqual({ settings: DEFAULT_HOLDING, problems: [] });
    expect(DEFAULT_HOLDING.slowStartMs).toBeGreaterThan(0);
  });

  it('reads keys, priorities, the wait bound and the slow-start window', () => {
    const { settings, problems } = holdingSettings({
      'zerogate.dev/hold-key-header': 'X-Tenant',
      'zerogate.dev/priority-header': 'X-Priority',
      'zerogate.dev/priority-classes': 'high, normal ,low',
      'zerogate.dev/priority-default': 'normal',
      'zerogate.dev/priority-max-wait': '2s',
      'zerogate.dev/slow-start': '0s',
    });
    expect(problems).toEqual([]);
    expect(settings.keyHeader).toBe('x-tenant');
    expect(settings.priority?.header).toBe('x-priority');
    expect([...(settings.priority?.classes ?? [])]).toEqual([
      ['high', 0],
      ['normal', 1],
      ['low', 2],
    ]);
    expect(settings.priority?.fallback).toBe(1);
    expect(settings.maxWaitMs).toBe(2000);
    expect(settings.slowStartMs).toBe(0);
  });

  it('puts requests of unknown or missing priority in the lowest class unless a default is named', () => {
    const { settings } = holdingSettings({
      'zerogate.dev/priority-header': 'x-priority',
      'zerogate.dev/priority-classes': 'high,low',
    });
    expect(settings.priority?.fallback).toBe(1);
  });

  it('reports each malformed annotation by name and keeps its default', () => {
    const { settings, problems } = holdingSettings({
      'zerogate.dev/hold-key-header': 'x tenant',
      'zerogate.dev/priority-header': 'x-priority',
      'zerogate.dev/priority-classes': 'only',
      'zerogate.dev/slow-start': 'soon',
      'zerogate.dev/priority-max-wait': '-1s',
    });
    expect(settings).toEqual(DEFAULT_HOLDING);
    expect(problems).toEqual([
      'zerogate.dev/hold-key-header: "x tenant" is not a header name',
      'zerogate.dev/priority-classes: "only" must list two or more distinct values, highest first',
      'zerogate.dev/priority-max-wait: "-1s" is not a duration such as 500ms or 2s',
      'zerogate.dev/slow-start: "soon" is not a duration such as 500ms or 2s',
    ]);
  });

  it('reports classes without a header, and a default that is not a class', () => {
    expect(holdingSettings({ 'zerogate.dev/priority-classes': 'a,b' }).problems).toEqual([
      'zerogate.dev/priority-classes: set without zerogate.dev/priority-header',
    ]);
    expect(
      holdingSettings({
        'zerogate.dev/priority-header': 'x-p',
        'zerogate.dev/priority-classes': 'a,b',
        'zerogate.dev/priority-default': 'c',
      }).problems,
    ).toEqual(['zerogate.dev/priority-default: "c" is not one of the classes']);
  });
});
