/**
 * The platform's side of the control protocol with the autoscaler (`@zerogate/core`
 * `platform-protocol`): the revisions stream, the scale and mode calls, and the public-path probe.
 * Bound to 127.0.0.1 only; it is the part the Kubernetes API plays in a cluster.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  type Logger,
  PLATFORM_PATHS,
  type PlatformEvent,
  type PlatformRevision,
  sendError,
  sendText,
} from '@zerogate/core';
import { type Dispatcher, request } from 'undici';
import type { Mode, RevisionPods } from './revision-pods.js';

/** What the control server acts on. */
export interface ControlTarget {
  revision(namespace: string, name: string): RevisionPods | undefined;
  revisions(): Iterable<RevisionPods>;
  scale(revision: RevisionPods, desiredPods: number): void;
  setMode(revision: RevisionPods, mode: Mode): void;
  /** `host:port` the revision's public traffic goes to now, and the routing headers it needs. */
  publicTarget(revision: RevisionPods): { address: string; headers: Record<string, string> };
}

/** Largest control request body. */
const MAX_BODY_BYTES = 4096;
const REVISION_PATH = /^\/v1\/revisions\/([^/]+)\/([^/]+)\/(scale|mode|public(\/.*)?)$/;

/** The revision as the autoscaler sees it. */
function platformRevision(r: RevisionPods): PlatformRevision {
  return {
    namespace: r.namespace,
    name: r.name,
    annotations: r.config.annotations,
    containerConcurrency: r.config.containerConcurrency,
    readyPods: r.ready().flatMap((p) => (p.statsAddress ? [p.statsAddress] : [])),
  };
}

/** Serves the control protocol. */
export class ControlServer {
  private readonly server: Server;
  private readonly watchers = new Set<ServerResponse>();
  /** The last line sent for each revision, so unchanged revisions are not sent again. */
  private readonly sent = new Map<RevisionPods, string>();

  constructor(
    private readonly target: ControlTarget,
    private readonly dispatcher: Dispatcher,
    private readonly logger: Logger,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        logger.error({ err, path: req.url }, 'control request failed');
        if (!res.headersSent) sendError(res, 'INTERNAL');
        else res.destroy();
      });
    });
  }

  /** Listens on 127.0.0.1; resolves with the port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Tells every watcher about `revision` if what the autoscaler sees of it changed. */
  publish(revision: RevisionPods): void {
    const line = this.line(revision);
    if (this.sent.get(revision) === line) return;
    this.sent.set(revision, line);
    for (const res of this.watchers) res.write(line);
  }

  async close(): Promise<void> {
    for (const res of this.watchers) res.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
  }

  private line(revision: RevisionPods): string {
    const event: PlatformEvent = { type: 'upsert', ...platformRevision(revision) };
    return `${JSON.stringify(event)}\n`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === PLATFORM_PATHS.revisions && req.method === 'GET') {
      this.watch(res);
      return;
    }
    const match = REVISION_PATH.exec(path);
    const revision =
      match && this.target.revision(decodeURIComponent(match[1]!), decodeURIComponent(match[2]!));
    if (!match || !revision) {
      sendError(res, 'UNKNOWN_PATH');
      return;
    }
    const what = match[3]!;
    if (what.startsWith('public')) {
      await this.probePublic(revision, match[4] ?? '/', req, res);
      return;
    }
    if (req.method !== 'PUT') {
      sendError(res, 'METHOD_NOT_ALLOWED');
      return;
    }
    const body = await readJson(req);
    if (what === 'scale') {
      const n = (body as { desiredPods?: unknown } | undefined)?.desiredPods;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        sendError(res, 'INVALID_SCALE');
        return;
      }
      this.target.scale(revision, n);
    } else {
      const mode = (body as { mode?: unknown } | undefined)?.mode;
      if (mode !== 'Proxy' && mode !== 'Serve') {
        sendError(res, 'INVALID_MODE');
        return;
      }
      this.target.setMode(revision, mode);
    }
    res.writeHead(204);
    res.end();
  }

  private watch(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    for (const revision of this.target.revisions()) {
      const line = this.line(revision);
      this.sent.set(revision, line);
      res.write(line);
    }
    const synced: PlatformEvent = { type: 'synced' };
    res.write(`${JSON.stringify(synced)}\n`);
    this.watchers.add(res);
    res.on('close', () => this.watchers.delete(res));
  }

  /** Sends a GET wherever the revision's public traffic goes now and relays the answer. */
  private async probePublic(
    revision: RevisionPods,
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const { address, headers } = this.target.publicTarget(revision);
    const forwarded: Record<string, string> = { ...headers };
    for (const name of ['k-network-probe', 'user-agent']) {
      const value = req.headers[name];
      if (typeof value === 'string') forwarded[name] = value;
    }
    try {
      const answer = await request(`http://${address}${path}`, {
        headers: forwarded,
        dispatcher: this.dispatcher,
        signal: AbortSignal.timeout(5000),
      });
      const text = await answer.body.text();
      sendText(res, answer.statusCode, text);
    } catch (err) {
      this.logger.warn({ err, revision: revision.name }, 'public-path probe failed');
      sendError(res, 'PUBLIC_PATH_UNREACHABLE');
    }
  }
}

/** Reads a small JSON body; undefined when it is not JSON. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}
