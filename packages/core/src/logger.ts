import { type Logger, pino } from 'pino';

export type { Logger };

/** Levels accepted in config, Knative's zap names included (`warn` ≈ zap `warn`, `dpanic`/`panic` → fatal). */
const ZAP_TO_PINO: Record<string, string> = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  dpanic: 'fatal',
  panic: 'fatal',
  fatal: 'fatal',
  silent: 'silent',
};

/** Maps a zap or pino level name to pino's; undefined for names neither knows. */
export function pinoLevel(name: string): string | undefined {
  return ZAP_TO_PINO[name.trim().toLowerCase()];
}

/** Creates the root JSON logger of a component, writing to stdout; children carry request context. */
export function createLogger(options: { level: string; base: Record<string, unknown> }): Logger {
  return pino({
    level: options.level,
    base: options.base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
