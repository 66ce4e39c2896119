import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RunSettings, ScenarioContext } from '../scenario.js';
import { runColdStart } from './cold-start.js';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

describe('cold-start scenario', () => {
  // The stages come from the activator's and the autoscaler's log lines and the platform's Pod timeline:
  // one real trial shows that every line and mark the bench reads is still written as it expects.
  it('measures every stage of a real cold start from the components’ own log lines', async () => {
    const context = {
      settings: { repoRoot: REPO_ROOT } as RunSettings,
      progress: () => {},
    } as unknown as ScenarioContext;
    const report = await runColdStart(1, context);
    const trials = (report.data as { trials: { status: number }[] }).trials;
    expect(trials.map((t) => t.status)).toEqual([200]);
    const [table] = report.tables;
    const unmeasured = table!.rows.filter((row) => row[3] !== '1').map((row) => row[0]);
    expect(unmeasured, 'stages with no measurement').toEqual([]);
  }, 60_000);
});
