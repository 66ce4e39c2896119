import { describe, expect, it } from 'vitest';
import { memoryTargetRows } from './activator.js';
import { type MemoryResult, memoryTable } from './activator-memory.js';

const reading = (rssMiB: number, anonMiB: number, pssMiB: number) => ({
  rssKiB: rssMiB * 1024,
  rssAnonKiB: anonMiB * 1024,
  pssKiB: pssMiB * 1024,
});

describe('activator memory figures', () => {
  it('judges idle RSS at most 60 MiB and 10,000 held under 150 MiB', () => {
    const met: MemoryResult = {
      idle: reading(60, 20, 30),
      held: reading(149.9, 100, 110),
      heldRequests: 10_000,
    };
    expect(memoryTargetRows(met).map((row) => [row[1], row[2], row[3]])).toEqual([
      ['60.0 MiB', '≤ 60 MiB', 'met'],
      ['149.9 MiB', '< 150 MiB', 'met'],
    ]);
    const missed: MemoryResult = {
      idle: reading(60.1, 20, 30),
      held: reading(150, 100, 110),
      heldRequests: 10_000,
    };
    expect(memoryTargetRows(missed).map((row) => row[3])).toEqual(['MISSED', 'MISSED']);
  });

  it('tabulates both readings and what one held request costs, in KiB', () => {
    const table = memoryTable({
      idle: reading(70, 20, 30),
      held: reading(120, 60, 75),
      heldRequests: 10_000,
    });
    expect(table.rows).toEqual([
      ['idle, revision at zero', '70.0', '20.0', '30.0'],
      ['10,000 requests held', '120.0', '60.0', '75.0'],
      ['per held request, KiB', '5.1', '4.1', '4.6'],
    ]);
  });
});
