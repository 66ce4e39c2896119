/**
 * The platform's own pages on the ingress port, under `/zerogate/`: the status document
 * (`GET /zerogate/status`), a live dashboard (`/zerogate/`, plain HTML and a small script from the
 * package's `dashboard/` folder), the stream of status snapshots it draws from (`GET /zerogate/events`,
 * server-sent events, one snapshot a second and soon after a Pod changes) and the tail of a log
 * (`GET /zerogate/logs/<name>?bytes=N`).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Logger, sendError, zerogateErrorHeaders } from '@zerogate/core';
import { readLogTail } from './log-file.js';
import type { PlatformStatus } from './status.js';

/** The path prefix of the platform's own pages. */
export const DASHBOARD_PATH = '/zerogate/';
/** The status document. */
export const STATUS_PATH = '/zerogate/status';
/** The stream of status snapshots (server-sent events). */
export const EVENTS_PATH = '/zerogate/events';
/** The log tails: `/zerogate/logs/<name>` reads `<log folder>/<name>.log`. */
export const LOGS_PATH = '/zerogate/logs/';

/** Event streams open at once; past it a new one gets 503 with Retry-After. */
export const MAX_EVENT_CLIENTS = 32;
/** A log tail's default and largest size. */
export const LOG_TAIL_DEFAULT_BYTES = 16 * 1024;
export const LOG_TAIL_MAX_BYTES = 256 * 1024;
/** A Pod change is sent this soon, at most this often, between the snapshots of each second. */
const CHANGE_DELAY_MS = 200;
/** A stream whose client reads slower than this much is buffered for it is closed (the browser reconnects). */
const MAX_STREAM_BUFFER_BYTES = 1024 * 1024;
/** What a browser waits before reconnecting a closed stream, and a refused client before trying again. */
const RETRY_MS = 2000;
const RETRY_HEADERS = { 'retry-after': String(RETRY_MS / 1000) };
/** A log name: a Pod's `<Pod>.<container>` or a component's; no path separators. */
const LOG_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9-]+)?$/;

const STATIC_FOLDER = fileURLToPath(new URL('../dashboard/', import.meta.url));
const STATIC_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/zerogate/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/zerogate/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/zerogate/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};
/** Everything the page loads comes from here: no inline script, nothing from elsewhere. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:";

/** What the dashboard reads. */
export interface DashboardOptions {
  readonly status: () => PlatformStatus;
  /** The folder of every log file. */
  readonly logDir: string;
  readonly logger: Logger;
  readonly maxClients?: number;
}

/** Serves the platform's own pages and streams. */
export class Dashboard {
  private readonly clients = new Set<ServerResponse>();
  private readonly files = new Map<string, { body: Buffer; type: string }>();
  private readonly maxClients: number;
  private changeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: DashboardOptions) {
    this.maxClients = options.maxClients ?? MAX_EVENT_CLIENTS;
    for (const [path, { file, type }] of Object.entries(STATIC_FILES)) {
      this.files.set(path, { body: readFileSync(join(STATIC_FOLDER, file)), type });
    }
  }

  /** Event streams open now. */
  get streams(): number {
    return this.clients.size;
  }

  /** Answers a request for one of its paths and returns true; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path === '/zerogate') {
      this.refuse(req, res, 308, 'see /zerogate/\n', { location: DASHBOARD_PATH });
      return true;
    }
    const file = this.files.get(path);
    const known =
      file !== undefined || path === STATUS_PATH || path === EVENTS_PATH || path.startsWith(LOGS_PATH);
    if (!known) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.refuse(req, res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return true;
    }
    if (file) this.sendStatic(req, res, file);
    else if (path === STATUS_PATH) this.sendJson(req, res, `${JSON.stringify(this.options.status())}\n`);
    else if (path === EVENTS_PATH) this.openStream(req, res);
    else void this.sendLogTail(req, res, path.slice(LOGS_PATH.length), url.slice(query + 1 || url.length));
    return true;
  }

  /** Sends a snapshot to every stream now. */
  push(): void {
    clearTimeout(this.changeTimer);
    this.changeTimer = undefined;
    if (this.clients.size === 0 || this.closed) return;
    const frame = `data: ${JSON.stringify(this.options.status())}\n\n`;
    for (const res of this.clients) {
      if (res.writableLength > MAX_STREAM_BUFFER_BYTES) {
        this.options.logger.warn({ buffered: res.writableLength }, 'dashboard stream too slow; closing it');
        res.destroy();
        continue;
      }
      res.write(frame);
    }
  }

  /** Something changed (a Pod): sends a snapshot soon, so a change shows before the next second's. */
  changed(): void {
    if (this.changeTimer || this.clients.size === 0 || this.closed) return;
    this.changeTimer = setTimeout(() => this.push(), CHANGE_DELAY_MS);
    this.changeTimer.unref();
  }

  /** Ends every stream and refuses new ones (shutdown). */
  close(): void {
    this.closed = true;
    clearTimeout(this.changeTimer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private openStream(req: IncomingMessage, res: ServerResponse): void {
    if (this.closed || this.clients.size >= this.maxClients) {
      // The platform's 503 on the ingress port: marked `Zerogate-Error: ingress; <reason>` (docs/wire.md §6).
      const code = this.closed ? 'SHUTTING_DOWN' : 'TOO_MANY_STREAMS';
      this.options.logger.warn(
        { path: req.url, method: req.method, status: 503 },
        'dashboard request refused',
      );
      sendError(res, code, zerogateErrorHeaders('ingress', code, RETRY_HEADERS), String(this.maxClients));
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    res.write(`retry: ${RETRY_MS}\n\ndata: ${JSON.stringify(this.options.status())}\n\n`);
  }

  private async sendLogTail(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    query: string,
  ): Promise<void> {
    // Logs may hold what an app prints of its requests: only this machine may read them, whatever
    // address the ingress binds.
    if (!isLoopback(req.socket.remoteAddress)) {
      this.refuse(req, res, 403, 'logs are served to this machine only\n');
      return;
    }
    if (!LOG_NAME.test(name)) {
      this.refuse(req, res, 400, 'a log name is a Pod and container (hello-00001-1.app) or a component\n');
      return;
    }
    const bytesText = new URLSearchParams(query).get('bytes');
    const bytes = bytesText === null ? LOG_TAIL_DEFAULT_BYTES : Number(bytesText);
    if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > LOG_TAIL_MAX_BYTES) {
      this.refuse(req, res, 400, `bytes must be an integer in [1, ${LOG_TAIL_MAX_BYTES}]\n`);
      return;
    }
    let text: string | undefined;
    try {
      text = await readLogTail(join(this.options.logDir, `${name}.log`), bytes);
    } catch (err) {
      this.options.logger.warn({ err, log: name }, 'log tail could not be read');
    }
    if (text === undefined) {
      this.refuse(req, res, 404, `no log ${name}\n`);
      return;
    }
    if (res.destroyed) return;
    const body = Buffer.from(text);
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': body.length,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private sendStatic(req: IncomingMessage, res: ServerResponse, file: { body: Buffer; type: string }): void {
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': file.body.length,
      'cache-control': 'no-cache',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  private sendJson(req: IncomingMessage, res: ServerResponse, body: string): void {
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** A short answer to a request it will not serve, with one (rate-limited) log line. */
  private refuse(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ): void {
    if (status !== 308)
      this.options.logger.warn({ path: req.url, method: req.method, status }, 'dashboard request refused');
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

/** Whether `address` is this machine's (127.0.0.0/8 or ::1, as IPv4 or IPv4-mapped IPv6). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}
