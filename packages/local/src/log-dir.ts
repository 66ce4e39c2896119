/**
 * The folder the platform keeps its logs in (`--logs DIR`): each start writes into a folder of its own
 * under it, named for the time it started, with `latest` pointing at the newest; only the newest
 * {@link KEPT_RUNS} runs are kept, so the folder stays bounded (each file in it is bounded by its
 * rotation).
 */
import { mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Runs whose logs are kept; older run folders are removed at a start. */
export const KEPT_RUNS = 10;

/** The default log folder, relative to the config file's folder. */
export const DEFAULT_LOG_DIR = '.zerogate/logs';

/** Run folders are named `run-<UTC time>-<pid>`; nothing else in the folder is touched. */
const RUN_FOLDER = /^run-\d{8}T\d{6}Z-\d+$/;

/** The log folder cannot be made or written. */
export class LogDirError extends Error {
  constructor(dir: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    super(`--logs: cannot write logs to ${dir}: ${code}`, { cause });
    this.name = 'LogDirError';
  }
}

/**
 * Makes `root` (and its parents) and a new run folder in it, points `latest` at it, removes the run
 * folders past {@link KEPT_RUNS}; returns the run folder. Throws a {@link LogDirError} naming `--logs`
 * when any of it cannot be made.
 */
export function prepareLogDir(root: string, now = new Date(), pid = process.pid): string {
  const dir = resolve(root);
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const run = join(dir, `run-${stamp}-${pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    mkdirSync(run);
  } catch (err) {
    throw new LogDirError(dir, err);
  }
  pointLatest(dir, run);
  const runs = readdirSync(dir)
    .filter((name) => RUN_FOLDER.test(name))
    .sort();
  for (const old of runs.slice(0, Math.max(0, runs.length - KEPT_RUNS))) {
    rmSync(join(dir, old), { recursive: true, force: true });
  }
  return run;
}

/** Replaces `latest` in one step, so a reader never finds it missing. */
function pointLatest(dir: string, run: string): void {
  const temporary = join(dir, `.latest-${process.pid}`);
  try {
    symlinkSync(run.slice(dir.length + 1), temporary);
    renameSync(temporary, join(dir, 'latest'));
  } catch {
    // A folder that takes no symbolic links still keeps the logs; only the shortcut is missing.
    try {
      unlinkSync(temporary);
    } catch {
      // Never made.
    }
  }
}
