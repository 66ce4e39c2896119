import { describe, expect, it } from 'vitest';
import {
  type FairnessResult,
  fairnessTable,
  type HoldingResult,
  holdingTargetRows,
  listenOverflows,
  type PacedWakeResult,
  pacedWakeTable,
  smallRefused,
  summarize,
  type TimedAnswer,
  timedFrom,
  type WakeRun,
} from './activator-holding.js';

const ok = (ms: number): TimedAnswer => ({ status: 200, ms });
/** 1, 2, … `n` ms, all 200. */
const series = (n: number) => Array.from({ length: n }, (_, i) => ok(i + 1));

describe('summarize', () => {
  it('picks p50, p99 and max by nearest rank', () => {
    const s = summarize(series(200));
    expect(s).toEqual({ count: 200, ok: 200, non200: 0, p50: 100, p99: 198, max: 200 });
    // With 10 answers p99 is the slowest.
    expect(summarize(series(10))).toMatchObject({ p50: 5, p99: 10, max: 10 });
  });

  it('counts refusals and failures as non-200, and times only the answers that came', () => {
    const s = summarize([ok(5), { status: 503, ms: 1 }, { status: 0, ms: Number.NaN }, ok(7)]);
    expect(s).toEqual({ count: 4, ok: 2, non200: 2, p50: 5, p99: 7, max: 7 });
  });

  it('has no percentiles without answers', () => {
    expect(summarize([])).toEqual({
      count: 0,
      ok: 0,
      non200: 0,
      p50: undefined,
      p99: undefined,
      max: undefined,
    });
  });
});

describe('listenOverflows', () => {
  it("reads TcpExt's ListenOverflows from /proc/net/netstat's text", () => {
    const netstat = [
      'TcpExt: SyncookiesSent ListenOverflows ListenDrops',
      'TcpExt: 3 26197 26200',
      'IpExt: InNoRoutes',
      'IpExt: 0',
      '',
    ].join('\n');
    expect(listenOverflows(netstat)).toBe(26197);
    expect(listenOverflows('IpExt: InNoRoutes\nIpExt: 0\n')).toBeUndefined();
  });
});

describe('timedFrom', () => {
  it('times each answer from the reference, a failed one as not timed', () => {
    expect(
      timedFrom(
        [
          { status: 200, body: 'hello', headAt: 1_250 },
          { status: 0, body: '', headAt: Number.NaN },
        ],
        1_000,
      ),
    ).toEqual([ok(250), { status: 0, ms: Number.NaN }]);
  });
});

const fairness = (overrides: Partial<FairnessResult> = {}): FairnessResult => {
  const small = series(10).map((a) => ok(a.ms * 10));
  return {
    heldTotalCap: 1_000,
    flooded: {
      sent: 5_000,
      held: 1_000,
      refusedAtOnce: 4_000,
      heldBesideSmall: 990,
      refusedForSmall: 10,
      failed: 0,
      arrivalMs: 2_000,
      cpuSeconds: 1.5,
      listenOverflows: 0,
    },
    small: {
      sent: 10,
      held: 10,
      answers: small,
      summary: summarize(small),
      writtenToResponse: summarize(small),
    },
    alone: series(200).map((a) => ok(a.ms / 100)),
    duringFlood: series(200).map((a) => ok(a.ms / 50)),
    duringFloodArrival: 200,
    floodArrivalMs: 2_100,
    podStartMs: 150,
    otherCpuPercent: 2,
    ...overrides,
  };
};

const wakeRun = (slowStart: string | undefined, scale: number, refused = 0): WakeRun => {
  const answers = series(500).map((a, i) =>
    i < refused ? { status: 503, ms: a.ms * scale } : ok(a.ms * scale),
  );
  return {
    revision: slowStart === undefined ? 'crowded-paced-00001' : 'crowded-unpaced-00001',
    slowStart,
    answers,
    summary: summarize(answers),
    podStartMs: 150,
  };
};

const paced = (onScale: number, offScale: number, refused = 0): PacedWakeResult => ({
  requests: 500,
  crowd: { ms: 0.2, exp: 1.5 },
  on: wakeRun(undefined, onScale, refused),
  off: wakeRun('0s', offScale),
  otherCpuPercent: 1,
});

describe('fairnessTable', () => {
  it('names both revisions: A’s flood held and refused, B’s three measures with their percentiles', () => {
    const table = fairnessTable(fairness());
    expect(table.title).toContain('revision A flooded at zero, revision B beside it');
    expect(table.title).toContain('ACTIVATOR_MAX_HELD_TOTAL=1,000');
    expect(table.rows).toEqual([
      [
        'A: at zero, one connection each',
        '5,000',
        '1,000 (990 beside B)',
        '–',
        '4,010 (4,000 at once, 10 for B)',
        '–',
        '–',
        '–',
      ],
      [
        'B: at zero during the flood, Pod ready → response',
        '10',
        '10',
        '10',
        '0',
        '50.000',
        '100.000',
        'met',
      ],
      ['B: the same, endpoint written → response', '10', '10', '10', '0', '50.000', '100.000', 'met'],
      ['B: ready Pod, sequential, alone', '200', '–', '200', '0', '1.000', '1.980', 'met'],
      ['B: ready Pod, sequential, during a flood of A', '200', '–', '200', '0', '2.000', '3.960', 'met'],
    ]);
  });

  it('says MISSED on a row where a request of B was refused', () => {
    const during = [...series(199), { status: 503, ms: 1 }];
    expect(fairnessTable(fairness({ duringFlood: during })).rows[4]?.slice(3)).toEqual([
      '199',
      '1',
      '99.000',
      '197.000',
      'MISSED',
    ]);
  });
});

describe('pacedWakeTable', () => {
  it('puts slow start on and off side by side, with on ÷ off', () => {
    const table = pacedWakeTable(paced(1, 4));
    expect(table.title).toContain('500 requests held at zero');
    expect(table.title).toContain('0.2 ms × in-flight^1.5');
    expect(table.rows).toEqual([
      ['on (default, 1s)', '500', '500', '0', '250.0', '495.0', '500.0'],
      ['off (zerogate.dev/slow-start: 0s)', '500', '500', '0', '1000.0', '1980.0', '2000.0'],
      ['on ÷ off', '–', '–', '–', '0.25×', '0.25×', '0.25×'],
    ]);
  });
});

describe('holdingTargetRows', () => {
  const holding = (f: FairnessResult, p: PacedWakeResult): HoldingResult => ({ fairness: f, pacedWake: p });

  it('meets every target when no B request is refused and slow start lowers p99 without dropping any', () => {
    expect(holdingTargetRows(holding(fairness(), paced(1, 4)))).toEqual([
      ['no request of B refused during A’s flood', '0 of 410', '0', 'met'],
      ['paced wake: p99 with slow start ÷ without', '0.25×', '< 1.00×', 'met'],
      ['paced wake: non-200 answers, slow start on and off', '0 of 1,000', '0', 'met'],
    ]);
  });

  it('misses them otherwise', () => {
    const small = [...series(9), { status: 0, ms: Number.NaN }];
    const f = fairness({
      small: {
        sent: 10,
        held: 10,
        answers: small,
        summary: summarize(small),
        writtenToResponse: summarize(small),
      },
    });
    expect(smallRefused(f)).toEqual({ sent: 410, refused: 1 });
    expect(holdingTargetRows(holding(f, paced(4, 4, 2))).map((row) => [row[1], row[3]])).toEqual([
      ['1 of 410', 'MISSED'],
      ['1.00×', 'MISSED'],
      ['2 of 1,000', 'MISSED'],
    ]);
  });
});
