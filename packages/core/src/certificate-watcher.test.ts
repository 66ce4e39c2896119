import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { eventually } from '../../../test/support/http.js';
import { type CertificatePair, CertificateWatcher } from './certificate-watcher.js';
import { createLogger } from './logger.js';

const logger = createLogger({ level: 'silent', base: {} });

/** Waits for `check` to hold, polling. */
function until(check: () => boolean): Promise<void> {
  return vi.waitFor(() => expect(check()).toBe(true), { timeout: 2000, interval: 5 });
}
const dirs: string[] = [];
const watchers: CertificateWatcher[] = [];

afterEach(() => {
  for (const w of watchers.splice(0)) w.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A folder with `tls.crt` and `tls.key`, and a watcher installing what passes `usable`; `tried` lists
 * every pair offered to it, `warnings` what it logged.
 */
function setup(options: { intervalMs?: number; usable?: (pair: CertificatePair) => boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-watch-'));
  dirs.push(dir);
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  writeFileSync(certFile, 'cert 1');
  writeFileSync(keyFile, 'key 1');
  const installed: string[] = [];
  const tried: string[] = [];
  const warnings: string[] = [];
  const watcher = new CertificateWatcher({
    certFile,
    keyFile,
    current: { cert: readFileSync(certFile), key: readFileSync(keyFile) },
    install: (pair) => {
      tried.push(`${pair.cert}|${pair.key}`);
      if (options.usable && !options.usable(pair)) throw new Error('key values mismatch');
      installed.push(`${pair.cert}|${pair.key}`);
    },
    logger: pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg) }),
    intervalMs: options.intervalMs,
  });
  watchers.push(watcher);
  return { dir, certFile, keyFile, installed, tried, warnings, watcher };
}

describe('CertificateWatcher', () => {
  it('installs the pair once both files changed and settled', async () => {
    const { certFile, keyFile, installed } = setup();
    writeFileSync(certFile, 'cert 2');
    writeFileSync(keyFile, 'key 2');
    expect(await eventually(() => installed.length > 0, 2000)).toBe(true);
    // Installs happen in order: once a later change is in, the first one was installed just once.
    writeFileSync(certFile, 'cert 3');
    await until(() => installed.length > 1);
    expect(installed).toEqual(['cert 2|key 2', 'cert 3|key 2']);
  });

  it('keeps the current pair while the new one is unusable, then installs it', async () => {
    const { certFile, keyFile, installed, tried } = setup({ usable: (p) => String(p.key).endsWith('3') });
    writeFileSync(certFile, 'cert 3');
    // The half-changed pair was offered and refused.
    await until(() => tried.includes('cert 3|key 1'));
    expect(installed).toEqual([]);
    writeFileSync(keyFile, 'key 3');
    expect(await eventually(() => installed.length > 0, 2000)).toBe(true);
    expect(installed).toEqual(['cert 3|key 3']);
  });

  it('keeps the current pair when the files vanish', async () => {
    const { certFile, installed, warnings } = setup({ intervalMs: 50 });
    rmSync(certFile);
    await until(() => warnings.includes('cannot read the certificate; keeping the current one'));
    expect(installed).toEqual([]);
  });

  it('re-reads periodically when the folder cannot be watched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zerogate-watch-'));
    dirs.push(dir);
    // The folder does not exist yet, so there is nothing to watch: only the periodic check sees it come.
    const folder = join(dir, 'later');
    const installed: string[] = [];
    watchers.push(
      new CertificateWatcher({
        certFile: join(folder, 'tls.crt'),
        keyFile: join(folder, 'tls.key'),
        current: { cert: Buffer.from('cert 1'), key: Buffer.from('key 1') },
        install: (pair) => installed.push(`${pair.cert}|${pair.key}`),
        logger,
        intervalMs: 50,
      }),
    );
    mkdirSync(folder);
    writeFileSync(join(folder, 'tls.crt'), 'cert 4');
    writeFileSync(join(folder, 'tls.key'), 'key 4');
    expect(await eventually(() => installed.length > 0, 2000)).toBe(true);
    expect(installed).toEqual(['cert 4|key 4']);
  });

  it('does nothing once stopped', async () => {
    const { certFile, keyFile, installed, watcher } = setup({ intervalMs: 50 });
    watcher.stop();
    // A watcher still running on the same files sees the change; by then the stopped one did nothing.
    const live: string[] = [];
    watchers.push(
      new CertificateWatcher({
        certFile,
        keyFile,
        current: { cert: readFileSync(certFile), key: readFileSync(keyFile) },
        install: (pair) => live.push(`${pair.cert}|${pair.key}`),
        logger,
        intervalMs: 50,
      }),
    );
    writeFileSync(certFile, 'cert 5');
    writeFileSync(keyFile, 'key 5');
    await until(() => live.includes('cert 5|key 5'));
    expect(installed).toEqual([]);
  });
});
