import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Child } from './child.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'child-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('Child', () => {
  it('returns before the process is started, which happens off the event loop, then reports its lines, log and exit', async () => {
    const lines: string[] = [];
    const logFile = join(dir, 'c.log');
    const child = new Child({
      argv: [
        process.execPath,
        '-e',
        'console.log("one"); console.log("two"); console.error("err"); process.exit(3)',
      ],
      env: process.env,
      logFile,
      onLine: (line) => lines.push(line),
    });
    // The start is on another thread: nothing of it is known on this turn.
    expect(child.pid).toBeUndefined();
    expect(await child.exited).toEqual({ code: 3, signal: null });
    expect(child.pid).toBeGreaterThan(0);
    expect(lines).toEqual(['one', 'two']);
    await expect.poll(() => readFileSync(logFile, 'utf8')).toContain('err');
    expect(readFileSync(logFile, 'utf8')).toContain('one\ntwo\n');
  });

  it('sends a signal asked for before the process started once it has', async () => {
    const child = new Child({
      argv: [process.execPath, '-e', 'setTimeout(() => {}, 60_000)'],
      env: process.env,
      logFile: join(dir, 'c.log'),
    });
    child.signal('SIGTERM');
    expect(await child.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('stops with SIGTERM, then SIGKILL past the grace period', async () => {
    let up = false;
    const child = new Child({
      argv: [
        process.execPath,
        '-e',
        'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)',
      ],
      env: process.env,
      logFile: join(dir, 'c.log'),
      onLine: (line) => {
        if (line === 'up') up = true;
      },
    });
    // Its SIGTERM handler is set once it says so.
    await expect.poll(() => up).toBe(true);
    expect(await child.stop(300)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(child.running).toBe(false);
  });

  it('reports a program that cannot be started as exit code 127, with the reason in its log', async () => {
    const logFile = join(dir, 'c.log');
    const child = new Child({ argv: [join(dir, 'no-such-program')], env: process.env, logFile });
    expect(await child.exited).toEqual({ code: 127, signal: null });
    await expect.poll(() => readFileSync(logFile, 'utf8')).toContain('cannot start');
  });
});
