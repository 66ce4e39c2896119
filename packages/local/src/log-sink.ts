/**
 * Where the platform's log lines go: pino's JSON turned into short human lines, written to stdout
 * (plain mode) or kept for the live table's event pane (terminal mode), and always appended to a file of bounded size.
 */
import { SyncLogFile } from './log-file.js';

const LEVELS: Record<string, string> = {
  debug: 'DEBUG',
  info: 'INFO ',
  warn: 'WARN ',
  error: 'ERROR',
  fatal: 'FATAL',
};
const SKIPPED = new Set(['level', 'time', 'msg', 'component', 'pid', 'hostname']);

/** One pino JSON line as `HH:MM:SS LEVEL message key=value …`. */
export function humanLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
  const fields = Object.entries(entry)
    .filter(([k]) => !SKIPPED.has(k))
    .map(([k, v]) => {
      if (k === 'err' && v && typeof v === 'object')
        return `err=${JSON.stringify((v as { message?: string }).message ?? '')}`;
      return `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
    });
  return [time, LEVELS[String(entry.level)] ?? String(entry.level), String(entry.msg ?? ''), ...fields]
    .join(' ')
    .trimEnd();
}

/** A pino destination. */
export class LogSink {
  /** The latest lines, newest last, for the table's event pane. */
  readonly recent: string[] = [];
  private file: SyncLogFile | undefined;

  constructor(
    private readonly toStdout: boolean,
    private readonly keep = 8,
  ) {}

  /** Also append every line to `path` from now on. */
  appendTo(path: string): void {
    this.file = new SyncLogFile(path);
  }

  write(chunk: string): void {
    for (const json of chunk.split('\n')) {
      if (json === '') continue;
      const line = humanLine(json);
      if (this.file && !this.file.write(`${line}\n`)) this.file = undefined;
      if (this.toStdout) process.stdout.write(`${line}\n`);
      this.recent.push(line);
      if (this.recent.length > this.keep) this.recent.shift();
    }
  }
}
