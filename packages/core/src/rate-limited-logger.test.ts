import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { rateLimitLogs } from './rate-limited-logger.js';

/** A pino logger writing its JSON lines into `lines`. */
function collecting(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug', base: null, timestamp: false, formatters: { level: (label) => ({ level: label }) } },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('rateLimitLogs', () => {
  it('writes `burst` lines of a message per interval, then one line with the count suppressed', () => {
    const { logger, lines } = collecting();
    const log = rateLimitLogs(logger, { burst: 3, intervalMs: 10_000 });
    for (let i = 0; i < 1000; i++) log.warn({ revision: `r${i}` }, 'request for an unknown revision');
    expect(lines.map((l) => l.revision)).toEqual(['r0', 'r1', 'r2']);
    vi.advanceTimersByTime(9999);
    expect(lines).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({
      level: 'warn',
      msg: 'suppressed 997 similar messages',
      suppressed: 997,
      message: 'request for an unknown revision',
      intervalSeconds: 10,
    });
    // A new interval begins with the next line.
    log.warn({ revision: 'again' }, 'request for an unknown revision');
    expect(lines[4]).toMatchObject({ revision: 'again' });
  });

  it('counts each message and level on its own', () => {
    const { logger, lines } = collecting();
    const log = rateLimitLogs(logger, { burst: 1, intervalMs: 1000 });
    log.warn('a');
    log.warn('a');
    log.warn({ x: 1 }, 'b');
    log.error('a');
    log.error('a');
    expect(lines.map((l) => `${l.level} ${l.msg}`)).toEqual(['warn a', 'warn b', 'error a']);
    vi.advanceTimersByTime(1000);
    expect(lines.slice(3).map((l) => `${l.level} ${l.message} ${l.suppressed}`)).toEqual([
      'warn a 1',
      'error a 1',
    ]);
  });

  it('writes no summary for an interval that suppressed nothing', () => {
    const { logger, lines } = collecting();
    const log = rateLimitLogs(logger, { burst: 2, intervalMs: 1000 });
    log.warn('a');
    log.warn('a');
    vi.advanceTimersByTime(5000);
    expect(lines).toHaveLength(2);
  });

  it('leaves other levels alone', () => {
    const { logger, lines } = collecting();
    const log = rateLimitLogs(logger, { burst: 1, intervalMs: 1000 });
    for (let i = 0; i < 10; i++) log.info('served');
    log.debug('detail');
    expect(lines).toHaveLength(11);
  });

  it('reports what is suppressed at once on flushSuppressed, and keeps no timer', () => {
    const { logger, lines } = collecting();
    const log = rateLimitLogs(logger, { burst: 1, intervalMs: 10_000 });
    log.error('e');
    log.error('e');
    log.error('e');
    log.flushSuppressed();
    expect(lines[1]).toMatchObject({ level: 'error', suppressed: 2, message: 'e' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses a limit that would write nothing', () => {
    const { logger } = collecting();
    expect(() => rateLimitLogs(logger, { burst: 0, intervalMs: 1000 })).toThrow(/burst/);
    expect(() => rateLimitLogs(logger, { burst: 1, intervalMs: 0 })).toThrow(/intervalMs/);
  });
});
