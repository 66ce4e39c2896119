import { describe, expect, it } from 'vitest';
import { DISTURBED_PERCENT, DISTURBED_RETRIES, disturbanceNote, quietestRun } from './quiet-run.js';

/** A measurement that returns the given disturbances in turn. */
function scripted(percents: readonly number[]) {
  let calls = 0;
  const measure = async () => ({ attempt: calls, otherCpuPercent: percents[calls++] ?? 0 });
  return { measure, calls: () => calls };
}

describe('quietestRun', () => {
  const progress = () => undefined;

  it('measures once on a quiet machine', async () => {
    const run = scripted([2]);
    expect(await quietestRun(run.measure, progress)).toEqual({ attempt: 0, otherCpuPercent: 2 });
    expect(run.calls()).toBe(1);
  });

  it('repeats a disturbed run until one is quiet', async () => {
    const run = scripted([40, 3]);
    expect(await quietestRun(run.measure, progress)).toEqual({ attempt: 1, otherCpuPercent: 3 });
  });

  it('keeps the quietest attempt after the last retry', async () => {
    const run = scripted([40, 20, 30, 1]);
    expect(await quietestRun(run.measure, progress)).toEqual({ attempt: 1, otherCpuPercent: 20 });
    expect(run.calls()).toBe(1 + DISTURBED_RETRIES);
  });
});

describe('disturbanceNote', () => {
  it('says all was quiet, or names the disturbed runs', () => {
    expect(disturbanceNote([])).toContain(`under ${DISTURBED_PERCENT}%`);
    expect(disturbanceNote(['a at 1 (13%)'])).toMatch(/^WARNING: .*a at 1 \(13%\)/);
  });
});
