import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogFile, readLogTail, SyncLogFile } from './log-file.js';

describe('LogFile', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const fresh = () => {
    dir = mkdtempSync(join(tmpdir(), 'zerogate-log-file-'));
    return join(dir, 'pod.app.log');
  };

  it('appends to what a file already holds', async () => {
    const path = fresh();
    writeFileSync(path, 'before\n');
    const log = new LogFile(path, 1000);
    log.write('after\n');
    await log.end();
    expect(readFileSync(path, 'utf8')).toBe('before\nafter\n');
  });

  it('keeps at most twice its bound: the newest lines in the file, the ones before in <file>.1', async () => {
    const path = fresh();
    const log = new LogFile(path, 100);
    for (let i = 0; i < 100; i++) log.write(`line ${String(i).padStart(3, '0')}\n`);
    await log.end();
    const current = readFileSync(path, 'utf8');
    const older = readFileSync(`${path}.1`, 'utf8');
    expect(current.length).toBeLessThanOrEqual(100);
    expect(older.length).toBeLessThanOrEqual(100);
    expect(current.endsWith('line 099\n')).toBe(true);
    // Nothing lost or reordered across the two files' boundary.
    const lines = (older + current).trimEnd().split('\n');
    const numbers = lines.map((l) => Number(l.slice(5)));
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i));
  });
});

describe('readLogTail', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the last bytes from a line start, reaching into the rotated file when the current one is short', async () => {
    dir = mkdtempSync(join(tmpdir(), 'zerogate-log-tail-'));
    const path = join(dir, 'x.log');
    writeFileSync(`${path}.1`, 'aaaa\nbbbb\ncccc\n');
    writeFileSync(path, 'dddd\n');
    expect(await readLogTail(path, 12)).toBe('cccc\ndddd\n');
    expect(await readLogTail(path, 100)).toBe('aaaa\nbbbb\ncccc\ndddd\n');
    expect(await readLogTail(path, 3)).toBe('dddd\n'.slice(2));
    expect(await readLogTail(join(dir, 'none.log'), 10)).toBeUndefined();
  });
});

describe('SyncLogFile', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is on disk at once and rotates at its bound', () => {
    dir = mkdtempSync(join(tmpdir(), 'zerogate-sync-log-'));
    const path = join(dir, 'platform.log');
    const log = new SyncLogFile(path, 20);
    expect(log.write('0123456789\n')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('0123456789\n');
    log.write('abcdefghij\n');
    expect(readFileSync(path, 'utf8')).toBe('abcdefghij\n');
    expect(readFileSync(`${path}.1`, 'utf8')).toBe('0123456789\n');
    expect(new SyncLogFile(join(dir, 'no', 'such', 'dir.log')).write('x\n')).toBe(false);
  });
});
