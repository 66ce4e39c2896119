/**
 * Wakes from zero on the one-machine platform, the hello example and an app whose port opens 0–2 s
 * before its handler (resetting, or leaving unread, what it accepts until then, or answering only its
 * readiness path): every first request after a wake answers 2xx. A small run of the `wakes` bench scenario; needs `npm run build`.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RunSettings, ScenarioContext } from '../bench/src/scenario.js';
import { failureLines, runWakes, type Wake } from '../bench/src/scenarios/wakes.js';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../..');

describe('wakes from zero', () => {
  it('answers the first request of every wake 2xx, hello and fault-injected apps alike', async () => {
    const context = {
      settings: { repoRoot: REPO_ROOT } as RunSettings,
      progress: () => {},
    } as unknown as ScenarioContext;
    // One wake per revision: 10 hello, 10 split between the faults, all side by side.
    const report = await runWakes({ wakes: 10, revisions: 20, parallel: 6 }, context);
    const wakes = (report.data as { wakes: Wake[] }).wakes;
    expect(wakes.map((w) => w.kind).sort()).toEqual([
      ...Array<string>(10).fill('hello'),
      ...Array<string>(3).fill('path'),
      ...Array<string>(4).fill('reset'),
      ...Array<string>(3).fill('unattached'),
    ]);
    expect(failureLines(wakes)).toEqual([]);
    // Each request found its revision at zero: it woke a Pod of its own.
    expect(wakes.every((w) => w.pod !== undefined && w.pod.spawnedAt >= w.sent)).toBe(true);
  }, 90_000);
});
