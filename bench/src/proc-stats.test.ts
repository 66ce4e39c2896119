import { describe, expect, it } from 'vitest';
import {
  descendants,
  parseBusyTicks,
  parseProcStat,
  parsePssKiB,
  parseRssAnonKiB,
  parseVmRssKiB,
  readPssKiB,
  readTree,
  totalTicks,
} from './proc-stats.js';

describe('parseProcStat', () => {
  it('reads ppid and CPU times', () => {
    const line =
      '3897 (node) S 3895 3895 2617 0 -1 4194304 99 0 0 0 120 35 7 3 20 0 11 0 38216 3133440 361 0 0\n';
    expect(parseProcStat(line)).toEqual({
      pid: 3897,
      comm: 'node',
      ppid: 3895,
      utime: 120,
      stime: 35,
      cutime: 7,
      cstime: 3,
    });
  });

  it('copes with spaces and parentheses in the command name', () => {
    const stat = parseProcStat('42 (my (odd) proc) R 1 42 42 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1');
    expect(stat.comm).toBe('my (odd) proc');
    expect(stat.ppid).toBe(1);
    expect(totalTicks(stat)).toBe(11);
  });

  it('rejects a malformed line', () => {
    expect(() => parseProcStat('garbage')).toThrow(/malformed/);
  });
});

describe('parseRssAnonKiB', () => {
  it('finds the RssAnon line, not RssFile or VmRSS', () => {
    const status = 'VmRSS:\t   75812 kB\nRssAnon:\t   31200 kB\nRssFile:\t   44612 kB\n';
    expect(parseRssAnonKiB(status)).toBe(31200);
  });

  it('returns undefined when absent', () => {
    expect(parseRssAnonKiB('Name:\tkworker\n')).toBeUndefined();
  });
});

describe('parsePssKiB', () => {
  const rollup =
    '55b2c1f01000-7ffc03284000 ---p 00000000 00:00 0                          [rollup]\n' +
    'Rss:               75812 kB\nPss:               41234 kB\nPss_Dirty:         30112 kB\n' +
    'Pss_Anon:          30112 kB\nPss_File:          11122 kB\nPss_Shmem:             0 kB\n' +
    'Shared_Clean:      44612 kB\nSwapPss:               0 kB\n';

  it('finds the Pss line of smaps_rollup, not Pss_Anon, Pss_File or SwapPss', () => {
    expect(parsePssKiB(rollup)).toBe(41234);
  });

  it('returns undefined when absent', () => {
    expect(parsePssKiB('Rss:  12 kB\nPss_Anon:  3 kB\n')).toBeUndefined();
  });
});

describe('readPssKiB and readTree', () => {
  it('reads this process’s PSS, above zero and at most its RSS, only when asked', () => {
    const pss = readPssKiB(process.pid);
    expect(pss).toBeGreaterThan(0);
    const tree = readTree(process.pid, true);
    expect(tree.pssKiB).toBeGreaterThan(0);
    expect(tree.pssKiB).toBeLessThanOrEqual(tree.rssKiB);
    expect(readTree(process.pid).pssKiB).toBeUndefined();
  });

  it('gives undefined for a process that is gone', () => {
    expect(readPssKiB(2 ** 30)).toBeUndefined();
    expect(readTree(2 ** 30, true)).toMatchObject({ pids: [], rssKiB: 0, pssKiB: undefined });
  });
});

describe('parseVmRssKiB', () => {
  it('finds the VmRSS line', () => {
    expect(parseVmRssKiB('Name:\tnode\nVmPeak:\t 9 kB\nVmRSS:\t   75812 kB\nRssAnon:\t 1 kB\n')).toBe(75812);
  });

  it('returns undefined when absent (kernel threads, zombies)', () => {
    expect(parseVmRssKiB('Name:\tkworker\nState:\tI (idle)\n')).toBeUndefined();
  });
});

describe('parseBusyTicks', () => {
  it('sums user, nice, system and steal, leaving out idle, iowait and interrupts', () => {
    expect(parseBusyTicks('cpu  100 2 30 9999 50 7 11 5 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n')).toBe(137);
  });

  it('rejects text that is not /proc/stat', () => {
    expect(() => parseBusyTicks('intr 1 2 3')).toThrow(/malformed/);
  });
});

describe('descendants', () => {
  it('walks the whole tree below the root and nothing else', () => {
    const parents = new Map([
      [10, 1],
      [11, 10],
      [12, 11],
      [13, 10],
      [20, 1],
    ]);
    expect(descendants(10, parents).sort()).toEqual([10, 11, 12, 13]);
    expect(descendants(20, parents)).toEqual([20]);
  });
});
