import { describe, expect, it } from 'vitest';
import { parseDurationOrSeconds, parseGoDuration } from './go-duration.js';

describe('parseGoDuration', () => {
  it.each([
    ['60s', 60_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    ['0', 0],
    ['0.3m', 18_000],
    ['-2s', -2000],
    ['+2s', 2000],
    ['1h2m3s4ms', 3_723_004],
  ])('parses %s', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it('reads sub-millisecond units as fractions of a millisecond', () => {
    expect(parseGoDuration('1500us')).toBeCloseTo(1.5, 12);
    expect(parseGoDuration('1500µs')).toBeCloseTo(1.5, 12);
    expect(parseGoDuration('1500μs')).toBeCloseTo(1.5, 12);
    expect(parseGoDuration('2000000ns')).toBeCloseTo(2, 12);
  });

  it.each([
    '',
    '60',
    '1.5',
    's',
    '1x',
    '1m 30s',
    '--1s',
    ' 2s',
    '1d',
  ])('rejects %j, as Go does: a bare number other than 0 has no unit', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});

describe('parseDurationOrSeconds', () => {
  it.each([
    ['0', 0],
    ['5', 5000],
    ['1.5', 1500],
    ['300ms', 300],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h2m3s4ms', 3_723_004],
    ['0s', 0],
    [' 2s ', 2000],
  ])('parses %j as %d ms: a bare number is seconds', (text, ms) => {
    expect(parseDurationOrSeconds(text)).toBe(ms);
  });

  it.each([
    '',
    ' ',
    's',
    '-1s',
    '-5',
    '+1s',
    '1x',
    '1s2',
    'ms',
    '1 s',
    'abc',
    '1s 2s',
    '1d',
  ])('rejects %j', (text) => {
    expect(parseDurationOrSeconds(text)).toBeUndefined();
  });
});
