import type { FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from './logger.js';
import { nodeFs } from './node-builtins.js';

/** A certificate chain and its private key, PEM. */
export interface CertificatePair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Options of {@link CertificateWatcher}. */
export interface CertificateWatcherOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** The pair in use now. */
  readonly current: CertificatePair;
  /** Puts a new pair in use; throws when the pair is not usable (then the current one stays). */
  readonly install: (pair: CertificatePair) => void;
  readonly logger: Logger;
  /** Re-read this often even without a change event; default {@link RELOAD_INTERVAL_MS}. */
  readonly intervalMs?: number;
}

/** Knative's queue-proxy re-reads its certificate every minute (`pkg/queue/certificate/watcher.go`). */
export const RELOAD_INTERVAL_MS = 60_000;
/** One Secret update is a burst of events (new files, then the `..data` symlink swap): read once it settles. */
const SETTLE_MS = 100;

/**
 * Keeps a server's certificate current, as Knative's `CertWatcher` does for the queue-proxy's TLS port:
 * the Secret behind the files is rotated in place (the kubelet swaps the volume's `..data` symlink), so
 * the folder is watched, and re-read every minute in case a volume misses events. A pair that differs
 * from the current one is installed once both files read and belong together; until then, and when the
 * files vanish, the current pair stays.
 */
export class CertificateWatcher {
  private readonly watchers: FSWatcher[] = [];
  private readonly ticker: NodeJS.Timeout;
  private settle: NodeJS.Timeout | undefined;
  private current: CertificatePair;
  private stopped = false;

  constructor(private readonly options: CertificateWatcherOptions) {
    this.current = options.current;
    for (const dir of new Set([dirname(options.certFile), dirname(options.keyFile)])) {
      try {
        const watcher = nodeFs.watch(dir, () => this.changed());
        // A watch that fails (the folder went away) leaves the periodic check to notice.
        watcher.on('error', (err) =>
          options.logger.warn({ err, dir }, 'cannot watch the certificate folder'),
        );
        this.watchers.push(watcher);
      } catch (err) {
        options.logger.warn({ err, dir }, 'cannot watch the certificate folder; checking periodically only');
      }
    }
    this.ticker = setInterval(() => this.reload(), options.intervalMs ?? RELOAD_INTERVAL_MS);
    this.ticker.unref();
  }

  /** Stops watching. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.ticker);
    clearTimeout(this.settle);
    for (const watcher of this.watchers) watcher.close();
  }

  private changed(): void {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload(), SETTLE_MS);
    this.settle.unref();
  }

  /** Reads both files and installs them when they differ from the current pair and form a usable one. */
  private reload(): void {
    if (this.stopped) return;
    const { certFile, keyFile, logger, install } = this.options;
    let next: CertificatePair;
    try {
      next = { cert: nodeFs.readFileSync(certFile), key: nodeFs.readFileSync(keyFile) };
    } catch (err) {
      logger.warn({ err }, 'cannot read the certificate; keeping the current one');
      return;
    }
    if (next.cert.equals(this.current.cert) && next.key.equals(this.current.key)) return;
    try {
      // Between the two files' updates they may not belong together: keep the old pair until they do.
      install(next);
    } catch (err) {
      logger.warn(
        { err, certFile, keyFile },
        'the new certificate is not usable yet; keeping the current one',
      );
      return;
    }
    this.current = next;
    logger.info({ certFile, keyFile }, 'certificate and key changed on disk and were reloaded');
  }
}
