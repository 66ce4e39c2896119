import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunSettings, ScenarioContext } from '../scenario.js';
import { Supervisor } from '../supervisor.js';
import { percentile, runStartup, STARTUP_TARGET_MS, startupScenario, verdict } from './startup.js';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

describe('startup scenario', () => {
  let supervisor: Supervisor | undefined;
  afterEach(async () => {
    await supervisor?.stopAll();
    supervisor = undefined;
  });

  it('takes nearest-rank percentiles', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentile([], 50)).toBeUndefined();
  });

  it('says met at or under the target and missed over it, only where the target applies', () => {
    expect(verdict(STARTUP_TARGET_MS, true)).toBe('met');
    expect(verdict(STARTUP_TARGET_MS + 0.1, true)).toBe('missed');
    expect(verdict(10, false)).toBe('–');
    expect(verdict(undefined, true)).toBe('–');
  });

  it('refuses a trial count out of range, naming the option', () => {
    const settings = { repoRoot: REPO_ROOT } as RunSettings;
    expect(() => startupScenario.prepare({ trials: '2' }, settings)).toThrow(/--trials/);
    expect(() => startupScenario.prepare({ trials: 'x' }, settings)).toThrow(/--trials/);
  });

  // The built queue-proxy and activator are started for real: the row of each is a measured start.
  it('times real starts of the queue-proxy and the activator to their first ready answer', async () => {
    supervisor = new Supervisor();
    const context = {
      settings: { repoRoot: REPO_ROOT } as RunSettings,
      supervisor,
      progress: () => {},
    } as unknown as ScenarioContext;
    const report = await runStartup(2, context);
    const [table] = report.tables;
    expect(table!.rows.map((row) => row[0])).toEqual(['queue-proxy', 'activator']);
    for (const row of table!.rows) {
      expect(Number(row[1])).toBeGreaterThan(0);
      expect(['met', 'missed']).toContain(row[5]);
    }
    const data = report.data as { startsMs: Record<string, number[]>; otherCpuPercent: number };
    expect(data.otherCpuPercent).toBeGreaterThanOrEqual(0);
    const starts = data.startsMs;
    expect(starts['queue-proxy']).toHaveLength(2);
    expect(starts['activator']).toHaveLength(2);
  }, 60_000);
});
