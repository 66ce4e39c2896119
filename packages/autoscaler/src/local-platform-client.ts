/**
 * The autoscaler's side of the one-machine platform's control protocol (`@zerogate/core`
 * `platform-protocol`): the platform's revisions as a {@link RevisionSource}, and its scale and mode
 * calls as a {@link LocalPlatform} for the {@link LocalActuator}.
 */
import type { Logger, PlatformEvent } from '@zerogate/core';
import { Backoff, PLATFORM_PATHS, resolveBackoff, type WatchBackoff } from '@zerogate/core';
import { type Dispatcher, request } from 'undici';
import { ActuatorError, type Mode, type RevisionRef } from './actuator.js';
import type { LocalPlatform } from './actuator-local.js';
import type { RevisionListener } from './revision-watcher.js';

/** Where revisions come from: the Kubernetes API or the one-machine platform. */
export interface RevisionSource {
  /** Resolves once the initial state was delivered, or the first attempt failed and retries run. */
  start(listener: RevisionListener): Promise<void>;
  /** Stops watching; nothing is delivered afterwards. */
  stop(): Promise<void>;
}

/** Time allowed for one control call. */
const CALL_TIMEOUT_MS = 5000;

/** Sends the autoscaler's scale and mode decisions to the platform. */
export class HttpLocalPlatform implements LocalPlatform {
  constructor(
    private readonly baseUrl: string,
    private readonly dispatcher?: Dispatcher,
  ) {}

  setDesiredPods(rev: RevisionRef, n: number): Promise<void> {
    return this.put(rev, 'scale', { desiredPods: n }, 'ERR_ACTUATOR_SCALE');
  }

  setMode(rev: RevisionRef, mode: Mode): Promise<void> {
    return this.put(rev, 'mode', { mode }, 'ERR_ACTUATOR_MODE');
  }

  activatorUrl(rev: RevisionRef): string {
    return `${this.baseUrl}${PLATFORM_PATHS.revision(rev.namespace, rev.name)}/public`;
  }

  private async put(
    rev: RevisionRef,
    what: 'scale' | 'mode',
    body: object,
    code: 'ERR_ACTUATOR_SCALE' | 'ERR_ACTUATOR_MODE',
  ): Promise<void> {
    const url = `${this.baseUrl}${PLATFORM_PATHS.revision(rev.namespace, rev.name)}/${what}`;
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw new ActuatorError(code, rev, `platform ${what} call failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (status >= 300)
      throw new ActuatorError(code, rev, `platform answered ${status} to ${what}: ${text.trim()}`);
  }
}

/** Options of {@link PlatformRevisionSource}. */
export interface PlatformRevisionSourceOptions {
  readonly baseUrl: string;
  readonly logger: Logger;
  /** Reconnect delays after the stream fails; default `DEFAULT_BACKOFF` of `@zerogate/core`. */
  readonly backoff?: Partial<WatchBackoff>;
}

/**
 * Follows the platform's revisions stream, reconnecting with backoff. After a reconnect the platform
 * sends its whole state again; revisions it no longer lists are removed once it says `synced`.
 */
export class PlatformRevisionSource implements RevisionSource {
  private readonly baseUrl: string;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private readonly aborter = new AbortController();
  private listener: RevisionListener | undefined;
  /** Revisions delivered and not removed, by `<namespace>/<name>`. */
  private readonly known = new Set<string>();
  private loop: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;

  constructor(options: PlatformRevisionSourceOptions) {
    this.baseUrl = options.baseUrl;
    this.logger = options.logger;
    const backoff = resolveBackoff('PlatformRevisionSource', options.backoff);
    // A connection that lasted the longest delay ends a streak of failures.
    this.backoff = new Backoff({ ...backoff, resetAfterMs: backoff.maxMs });
  }

  start(listener: RevisionListener): Promise<void> {
    if (this.listener) throw new Error('PlatformRevisionSource was already started');
    this.listener = listener;
    return new Promise((resolve) => {
      this.loop = this.run(resolve);
    });
  }

  async stop(): Promise<void> {
    this.aborter.abort();
    clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    await this.loop;
  }

  private async run(firstAttemptDone: () => void): Promise<void> {
    while (!this.aborter.signal.aborted) {
      const openedAt = Date.now();
      try {
        await this.follow(firstAttemptDone);
        if (this.aborter.signal.aborted) return;
        this.logger.warn('platform revisions stream ended; reconnecting');
      } catch (err) {
        if (this.aborter.signal.aborted) return;
        this.logger.warn({ err }, 'platform revisions stream failed; reconnecting');
      }
      firstAttemptDone();
      this.backoff.ran(Date.now() - openedAt);
      const delay = this.backoff.next();
      await new Promise<void>((resolve) => {
        this.wakeRetry = resolve;
        this.retryTimer = setTimeout(resolve, delay);
      });
    }
  }

  /** Reads one connection of the stream to its end. */
  private async follow(synced: () => void): Promise<void> {
    const res = await request(`${this.baseUrl}${PLATFORM_PATHS.revisions}`, {
      signal: this.aborter.signal,
      bodyTimeout: 0,
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`platform answered ${res.statusCode}`);
    }
    const listed = new Set<string>();
    let syncing = true;
    let partial = '';
    res.body.setEncoding('utf8');
    for await (const chunk of res.body as AsyncIterable<string>) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        const event = JSON.parse(line) as PlatformEvent;
        if (event.type === 'synced') {
          for (const key of this.known) if (!listed.has(key)) this.remove(key);
          syncing = false;
          synced();
        } else if (event.type === 'upsert') {
          const key = `${event.namespace}/${event.name}`;
          if (syncing) listed.add(key);
          // Revisions listed on the first sync were there before this autoscaler: they keep the scale
          // the platform runs them at (zero when it starts) instead of taking the initial scale.
          const existing = !this.known.has(key) && syncing;
          this.known.add(key);
          this.listener?.upsert(event.namespace, event.name, {
            annotations: event.annotations,
            containerConcurrency: event.containerConcurrency,
            readyPods: event.readyPods,
            existing,
          });
        } else if (event.type === 'remove') {
          this.remove(`${event.namespace}/${event.name}`);
        }
      }
    }
  }

  private remove(key: string): void {
    if (!this.known.delete(key)) return;
    const slash = key.indexOf('/');
    this.listener?.remove(key.slice(0, slash), key.slice(slash + 1));
  }
}
