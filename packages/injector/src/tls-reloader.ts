/**
 * Keeps the webhook's certificate current: a Secret mounted as a volume is updated in place (the kubelet
 * swaps a symlink), and cert-manager renews certificates long before they expire, so the files are
 * watched and the server's secure context replaced when they change, without a restart.
 */
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import type { Server } from 'node:https';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from '@zerogate/core';
import type { TlsFiles } from './config.js';

/** Options of {@link TlsReloader}. */
export interface TlsReloaderOptions {
  readonly server: Server;
  readonly certFile: string;
  readonly keyFile: string;
  /** The pair the server started with. */
  readonly current: TlsFiles;
  readonly logger: Logger;
  /** Re-read this often even without a change event (watches can miss events on some volumes); default 60 s. */
  readonly pollMs?: number;
}

/** Events of one update come in bursts (files, then the symlink): read once they settle. */
const SETTLE_MS = 100;

/** Watches the certificate and key files and installs a new pair once both read and match. */
export class TlsReloader {
  private readonly watchers: FSWatcher[] = [];
  private readonly poll: NodeJS.Timeout;
  private settle: NodeJS.Timeout | undefined;
  private current: TlsFiles;
  private stopped = false;

  constructor(private readonly options: TlsReloaderOptions) {
    this.current = options.current;
    const dirs = new Set([dirname(options.certFile), dirname(options.keyFile)]);
    for (const dir of dirs) {
      try {
        const w = watch(dir, () => this.changed());
        // A watch that fails (the directory went away) leaves the poll to notice.
        w.on('error', (err) => options.logger.warn({ err, dir }, 'cannot watch the TLS directory'));
        this.watchers.push(w);
      } catch (err) {
        options.logger.warn({ err, dir }, 'cannot watch the TLS directory; polling only');
      }
    }
    this.poll = setInterval(() => this.reload(), options.pollMs ?? 60_000);
    this.poll.unref();
  }

  /** Stops watching. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.settle);
    for (const w of this.watchers) w.close();
  }

  private changed(): void {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload(), SETTLE_MS);
  }

  /** Reads both files; installs them when they differ from the current pair and form a usable one. */
  private reload(): void {
    if (this.stopped) return;
    const { certFile, keyFile, logger, server } = this.options;
    let next: TlsFiles;
    try {
      next = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
    } catch (err) {
      logger.warn({ err }, 'cannot read the TLS files; keeping the current certificate');
      return;
    }
    if (next.cert.equals(this.current.cert) && next.key.equals(this.current.key)) return;
    try {
      // Between the two files' updates the pair may not match: keep the old one until it does.
      createSecureContext(next);
      server.setSecureContext({ cert: next.cert, key: next.key });
    } catch (err) {
      logger.warn({ err }, 'the TLS files do not form a usable pair yet; keeping the current certificate');
      return;
    }
    this.current = next;
    logger.info({ certFile }, 'reloaded the TLS certificate');
  }
}
