import { describe, expect, it } from 'vitest';
import {
  accountFault,
  badRefusals,
  classifyError,
  classifyStatus,
  HELD,
  mergeTallies,
  type RequestRecord,
  refusalFaults,
  tally,
} from './outcomes.js';

const rec = (sentAt: number, doneAt: number, outcome: string, retryAfter?: boolean): RequestRecord => ({
  sentAt,
  doneAt,
  outcome,
  ...(retryAfter === undefined ? {} : { retryAfter }),
});

describe('classifyStatus', () => {
  it('folds 2xx together and keeps every other status', () => {
    expect(classifyStatus(200)).toBe('2xx');
    expect(classifyStatus(204)).toBe('2xx');
    expect(classifyStatus(502)).toBe('502');
    expect(classifyStatus(101)).toBe('101');
  });
});

describe('classifyError', () => {
  it('maps socket codes, walking cause', () => {
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('reset');
    expect(classifyError(new Error('wrapped', { cause: { code: 'UND_ERR_SOCKET' } }))).toBe('reset');
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('refused');
    expect(classifyError(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toBe('timeout');
    expect(classifyError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }))).toBe('timeout');
    expect(classifyError(new Error('something else'))).toBe('error');
  });
});

describe('tally', () => {
  it('orders 2xx, statuses ascending, then the error classes', () => {
    const t = tally(['reset', '503', '2xx', '502', '2xx', HELD, 'timeout']);
    expect([...t]).toEqual([
      ['2xx', 2],
      ['502', 1],
      ['503', 1],
      [HELD, 1],
      ['reset', 1],
      ['timeout', 1],
    ]);
  });

  it('merges tallies', () => {
    expect([...mergeTallies(tally(['2xx']), tally(['2xx', '502']))]).toEqual([
      ['2xx', 2],
      ['502', 1],
    ]);
  });
});

describe('accountFault', () => {
  const records = [
    rec(0, 10, '2xx'),
    rec(90, 120, '502'), // in flight at the fault (100): excused under sent-after-fault
    rec(110, 130, 'reset'), // sent after the fault: lost
    rec(140, 150, '2xx'),
    rec(160, 170, '2xx'),
  ];

  it('counts only failures sent after the fault as lost under sent-after-fault', () => {
    const a = accountFault(records, 100, 'sent-after-fault');
    expect(a.sent).toBe(5);
    expect(a.lost).toBe(1);
    expect(a.failedInFlight).toBe(1);
    expect(a.firstSuccessMs).toBe(50);
    expect(a.steadyMs).toBe(30);
    expect(a.outcomes.get('2xx')).toBe(3);
  });

  it('counts every failure under all', () => {
    expect(accountFault(records, 100, 'all').lost).toBe(2);
  });

  it('reports steady at 0 when nothing failed after the fault, and never when the run ends failing', () => {
    expect(accountFault([rec(0, 5, '2xx'), rec(200, 210, '2xx')], 100, 'all').steadyMs).toBe(0);
    const failing = accountFault([rec(0, 5, '2xx'), rec(200, 210, '2xx'), rec(220, 230, '502')], 100, 'all');
    expect(failing.steadyMs).toBeUndefined();
    expect(accountFault([rec(0, 5, '2xx'), rec(200, 210, '502')], 100, 'all').firstSuccessMs).toBeUndefined();
  });
});

describe('badRefusals', () => {
  it('accepts only immediate 503s with Retry-After, ignoring successes and held requests', () => {
    const records = [
      rec(0, 5, '2xx'),
      rec(0, 10, '503', true),
      rec(0, 2000, '503', true), // too slow
      rec(0, 10, '503', false), // no Retry-After
      rec(0, 10, '502', true), // wrong status
      rec(0, 10, 'reset'),
      rec(0, 5000, HELD),
    ];
    expect(badRefusals(records, 1000)).toBe(4);
    expect(refusalFaults(records, 1000)).toEqual({ otherAnswer: 2, noRetryAfter: 1, late: 1 });
  });
});
