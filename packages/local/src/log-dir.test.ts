import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KEPT_RUNS, LogDirError, prepareLogDir } from './log-dir.js';

describe('prepareLogDir', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes the folder and a run folder in it, with latest pointing at the newest run', () => {
    dir = mkdtempSync(join(tmpdir(), 'zerogate-log-dir-'));
    const root = join(dir, 'a', 'b');
    const first = prepareLogDir(root, new Date('2026-01-02T03:04:05.678Z'), 42);
    expect(basename(first)).toBe('run-20260102T030405Z-42');
    const second = prepareLogDir(root, new Date('2026-01-02T03:04:06Z'), 42);
    expect(readlinkSync(join(root, 'latest'))).toBe(basename(second));
    expect(existsSync(first)).toBe(true);
  });

  it(`keeps the newest ${KEPT_RUNS} runs and leaves everything else in the folder alone`, () => {
    dir = mkdtempSync(join(tmpdir(), 'zerogate-log-dir-'));
    mkdirSync(join(dir, 'mine'));
    writeFileSync(join(dir, 'notes.txt'), 'x');
    for (let i = 0; i < KEPT_RUNS + 3; i++) prepareLogDir(dir, new Date(Date.UTC(2026, 0, 1, 0, 0, i)), 7);
    const runs = readdirSync(dir).filter((n) => n.startsWith('run-'));
    expect(runs).toHaveLength(KEPT_RUNS);
    expect(runs.sort()[0]).toBe('run-20260101T000003Z-7');
    expect(existsSync(join(dir, 'mine'))).toBe(true);
    expect(existsSync(join(dir, 'notes.txt'))).toBe(true);
  });

  it('names --logs when the folder cannot be made', () => {
    dir = mkdtempSync(join(tmpdir(), 'zerogate-log-dir-'));
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => prepareLogDir(join(dir, 'file', 'logs'))).toThrow(LogDirError);
    expect(() => prepareLogDir(join(dir, 'file', 'logs'))).toThrow(/^--logs: cannot write logs to .*ENOTDIR/);
  });
});
