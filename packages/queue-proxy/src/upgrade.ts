import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type Breaker,
  ERRORS,
  type Logger,
  plainAddress,
  type RequestStats,
  readFacts,
} from '@zerogate/core';
import type { Drainer } from './drain.js';
import { upstreamHeaders } from './request-head.js';

/** What the upgrade path shares with the rest of the queue-proxy. */
export interface UpgradeContext {
  readonly userPort: number;
  readonly breaker: Breaker | undefined;
  readonly stats: RequestStats;
  readonly drainer: Drainer;
  readonly logger: Logger;
  readonly revisionTimeoutMs: number;
}

/**
 * Proxies upgraded connections (websockets) as a byte tunnel to the user container. The connection
 * holds a breaker slot and counts as in flight until both sides close. The revision timeout applies
 * only until the app starts answering: once the 101 is on its way the tunnel is never cut by a request
 * timeout (our fix of Knative #16169, #16638); on shutdown open tunnels get a bounded grace instead.
 */
export class UpgradeProxy {
  private readonly open = new Set<Duplex>();

  constructor(private readonly ctx: UpgradeContext) {}

  /** Tunnels currently open. */
  get size(): number {
    return this.open.size;
  }

  /** An `upgrade` listener for the serving server. */
  readonly handle = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const { ctx } = this;
    const facts = readFacts(req.rawHeaders);
    ctx.drainer.touch(Date.now());
    ctx.stats.requestIn(facts.proxied);
    this.open.add(client);
    let upstream: Socket | null = null;
    let holdsSlot = false;
    let finished = false;
    let timer: NodeJS.Timeout | null = null;
    let answered = false;

    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      if (waiter !== null && typeof waiter === 'object') ctx.breaker?.cancel(waiter);
      if (holdsSlot) ctx.breaker?.release();
      holdsSlot = false;
      ctx.stats.requestOut(facts.proxied);
      this.open.delete(client);
      client.destroy();
      upstream?.destroy();
    };
    const reject = (status: number, body: string): void => {
      if (!client.destroyed) {
        client.end(
          `HTTP/1.1 ${status} ${status === 503 ? 'Service Unavailable' : 'Gateway Timeout'}\r\n` +
            `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
            `Connection: close\r\n\r\n${body}`,
        );
      }
      finish();
    };

    client.on('error', finish);
    client.on('close', finish);
    if (ctx.revisionTimeoutMs > 0) {
      timer = setTimeout(() => {
        ctx.logger.warn({ path: req.url }, 'upgrade request timed out before the app answered');
        reject(504, ERRORS.REQUEST_TIMEOUT.body);
      }, ctx.revisionTimeoutMs);
    }

    const open = (): void => {
      if (finished) {
        if (holdsSlot) ctx.breaker?.release();
        holdsSlot = false;
        return;
      }
      const headLines = [`${req.method} ${req.url} HTTP/1.1`];
      const headers = upstreamHeaders(req.rawHeaders, plainAddress(req.socket.remoteAddress), true);
      for (let i = 0; i < headers.length; i += 2) headLines.push(`${headers[i]}: ${headers[i + 1]}`);
      upstream = connect({ host: '127.0.0.1', port: ctx.userPort });
      upstream.setNoDelay(true);
      upstream.write(`${headLines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.once('data', () => {
        // The app answered: from here on only the two peers end the tunnel.
        answered = true;
        if (timer) clearTimeout(timer);
        timer = null;
      });
      upstream.on('error', (err) => {
        if (!answered) {
          ctx.logger.error({ err, path: req.url }, 'error reverse proxying upgrade');
          reject(502, ERRORS.UPSTREAM_FAILED.body);
        } else finish();
      });
      upstream.on('close', finish);
      upstream.pipe(client);
      client.pipe(upstream);
    };

    let waiter: ReturnType<Breaker['enter']> | null = null;
    if (ctx.breaker === undefined) {
      open();
      return;
    }
    waiter = ctx.breaker.enter(() => {
      waiter = null;
      holdsSlot = true;
      open();
    });
    if (waiter === 'run') {
      waiter = null;
      holdsSlot = true;
      open();
    } else if (waiter === 'full') {
      waiter = null;
      ctx.logger.warn({ path: req.url }, 'pending request queue full');
      reject(503, ERRORS.QUEUE_FULL.body);
    }
  };

  /** Closes every open tunnel (after the shutdown grace). */
  closeAll(): void {
    for (const socket of this.open) socket.destroy();
  }
}
