import type { Logger } from './logger.js';

/** How many warnings or errors of one kind a rate-limited logger writes per interval. */
export interface LogRateLimit {
  /** Lines written per message per interval; the rest are counted. Default 5. */
  readonly burst: number;
  /** The interval, from the first line of a message; at its end the count suppressed is logged. Default 10 s. */
  readonly intervalMs: number;
}

/** Five lines per message per ten seconds. */
export const DEFAULT_LOG_RATE_LIMIT: LogRateLimit = { burst: 5, intervalMs: 10_000 };

/** A logger whose warnings and errors are rate-limited; see {@link rateLimitLogs}. */
export type RateLimitedLogger = Logger & {
  /** Logs the counts suppressed so far at once and ends every interval (on shutdown). */
  flushSuppressed(): void;
};

type Level = 'warn' | 'error';

/** One message's interval: lines written and suppressed since it began. */
interface Window {
  readonly level: Level;
  readonly msg: string;
  written: number;
  suppressed: number;
  timer: NodeJS.Timeout;
}

/**
 * Wraps `logger` so that its `warn` and `error` lines, keyed by level and message text, are written at
 * most `burst` times per `intervalMs`; past that they are counted, and when the interval ends one line
 * at the same level says how many were suppressed: `suppressed K similar messages`, with the message
 * as `message` and the count as `suppressed`. Other levels pass through untouched.
 *
 * Why: a client can trigger a per-request warning (an unknown revision, a full queue) as fast as it can
 * send, and a proxy writing one line per request turns that into megabytes of log a second. The counts
 * keep the evidence; the interval bounds the cost.
 */
export function rateLimitLogs(
  logger: Logger,
  limit: LogRateLimit = DEFAULT_LOG_RATE_LIMIT,
): RateLimitedLogger {
  if (!(limit.burst >= 1) || !(limit.intervalMs > 0)) {
    throw new RangeError(`rateLimitLogs: burst must be ≥ 1 and intervalMs > 0, got ${JSON.stringify(limit)}`);
  }
  const windows = new Map<string, Window>();
  const close = (key: string, w: Window): void => {
    windows.delete(key);
    clearTimeout(w.timer);
    if (w.suppressed > 0) {
      logger[w.level](
        { suppressed: w.suppressed, message: w.msg, intervalSeconds: limit.intervalMs / 1000 },
        `suppressed ${w.suppressed} similar messages`,
      );
    }
  };
  const limited = (level: Level) =>
    function (this: unknown, ...args: unknown[]): void {
      const msg = typeof args[0] === 'string' ? args[0] : typeof args[1] === 'string' ? args[1] : '';
      const key = `${level} ${msg}`;
      const w = windows.get(key);
      if (w === undefined) {
        const timer = setTimeout(() => close(key, windows.get(key)!), limit.intervalMs);
        timer.unref();
        windows.set(key, { level, msg, written: 1, suppressed: 0, timer });
      } else if (w.written < limit.burst) {
        w.written++;
      } else {
        w.suppressed++;
        return;
      }
      (logger[level] as (...a: unknown[]) => void)(...args);
    };
  // Everything else (info, debug, child, level, flush) is the wrapped logger's own.
  const wrapper = Object.create(logger) as RateLimitedLogger;
  Object.defineProperties(wrapper, {
    warn: { value: limited('warn') },
    error: { value: limited('error') },
    flushSuppressed: {
      value: () => {
        for (const [key, w] of [...windows]) close(key, w);
      },
    },
  });
  return wrapper;
}
