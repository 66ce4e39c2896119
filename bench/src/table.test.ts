import { describe, expect, it } from 'vitest';
import { fixed, formatMarkdownTable, formatTextTable, NONE, signed, type Table, times } from './table.js';

const table: Table = {
  title: '1 connection',
  headers: ['target', 'req/s', 'p50 ms'],
  align: ['left', 'right', 'right'],
  rows: [
    ['direct', '29471', '0.029'],
    ['queue-proxy cc10', '4309', '0.175'],
  ],
};

describe('number formatting', () => {
  it('fixes decimals and marks missing figures', () => {
    expect(fixed(1.23456, 3)).toBe('1.235');
    expect(fixed(undefined, 1)).toBe(NONE);
    expect(fixed(Number.NaN, 1)).toBe(NONE);
  });

  it('signs deltas', () => {
    expect(signed(0.1234, 3)).toBe('+0.123');
    expect(signed(-0.5, 1)).toBe('-0.5');
    expect(signed(-0.00001, 3)).toBe('-0.000');
    expect(signed(undefined, 3)).toBe(NONE);
  });

  it('writes ratios with a times sign', () => {
    expect(times(0.8512)).toBe('0.85×');
    expect(times(undefined)).toBe(NONE);
  });
});

describe('formatTextTable', () => {
  it('pads columns to a fixed width, numbers to the right', () => {
    expect(formatTextTable(table).split('\n')).toEqual([
      '1 connection',
      'target            req/s  p50 ms',
      '────────────────  ─────  ──────',
      'direct            29471   0.029',
      'queue-proxy cc10   4309   0.175',
    ]);
  });
});

describe('formatMarkdownTable', () => {
  it('renders aligned GitHub Markdown with right-aligned number columns', () => {
    expect(formatMarkdownTable(table).split('\n')).toEqual([
      '| target           | req/s | p50 ms |',
      '| ---------------- | ----: | -----: |',
      '| direct           | 29471 |  0.029 |',
      '| queue-proxy cc10 |  4309 |  0.175 |',
    ]);
  });

  it('escapes pipes in cells', () => {
    const md = formatMarkdownTable({ title: '', headers: ['a'], align: ['left'], rows: [['x|y']] });
    expect(md).toContain('x\\|y');
  });
});
