/**
 * Many raw-ish HTTP requests at once on connections of their own, each recorded as answered, refused or
 * still held, for the flood scenarios. Nothing here waits for a held request to end: the caller reads
 * the records, then {@link Flood.abort}s what is still open.
 */
import { spawnSync } from 'node:child_process';
import { type ClientRequest, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { classifyError, classifyStatus, HELD, type RequestRecord } from './outcomes.js';

/** One request of a flood. */
interface Pending {
  readonly req: ClientRequest;
  /** When the connection was made and the request written; its creation time until then. */
  sentAt: number;
  record?: RequestRecord;
}

/** Options of a flood. */
export interface FloodOptions {
  readonly port: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly count: number;
  /** A body sent with each request (POST), or none (GET). */
  readonly body?: Buffer;
  /** Requests started together before a short pause, so the listen backlog is not what refuses. */
  readonly batch?: number;
}

/** A flood in progress. */
export class Flood {
  readonly #pending: Pending[] = [];

  private constructor() {}

  /** Sends every request of the flood; resolves once all were started. */
  static async send(options: FloodOptions): Promise<Flood> {
    const flood = new Flood();
    const batch = options.batch ?? 100;
    for (let i = 0; i < options.count; i++) {
      flood.#start(options);
      if ((i + 1) % batch === 0) await new Promise((r) => setTimeout(r, 20));
    }
    return flood;
  }

  #start(options: FloodOptions): void {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body) headers['content-length'] = String(options.body.length);
    const req = request({
      host: '127.0.0.1',
      port: options.port,
      method: options.body ? 'POST' : 'GET',
      path: '/',
      headers,
      agent: false,
    });
    const pending: Pending = { req, sentAt: performance.now() };
    this.#pending.push(pending);
    // Timed from the connection, so this process's own backlog of connections to make is not counted
    // against the server's answer.
    req.on('socket', (socket) =>
      socket.once('connect', () => {
        pending.sentAt = performance.now();
      }),
    );
    req.on('response', (res) => {
      pending.record ??= {
        sentAt: pending.sentAt,
        doneAt: performance.now(),
        outcome: classifyStatus(res.statusCode ?? 0),
        retryAfter: res.headers['retry-after'] !== undefined,
      };
      res.resume();
    });
    req.on('error', (err) => {
      pending.record ??= { sentAt: pending.sentAt, doneAt: performance.now(), outcome: classifyError(err) };
    });
    if (options.body) req.write(options.body);
    req.end();
  }

  /** Every request: answered or failed as recorded, and {@link HELD} for those still open. */
  records(): RequestRecord[] {
    const now = performance.now();
    return this.#pending.map((p) => p.record ?? { sentAt: p.sentAt, doneAt: now, outcome: HELD });
  }

  /** Closes every connection still open. */
  abort(): void {
    for (const p of this.#pending) {
      p.record ??= { sentAt: p.sentAt, doneAt: performance.now(), outcome: HELD };
      p.req.destroy();
    }
  }
}

/** The soft limit on open files of processes started from here (`ulimit -n`); 1024 if unknown. */
export function openFileLimit(): number {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const value = Number(out.stdout.trim());
  return Number.isInteger(value) && value > 0 ? value : out.stdout.trim() === 'unlimited' ? 1 << 20 : 1024;
}
