import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type Breaker,
  type Logger,
  plainAddress,
  type RequestFacts,
  type RequestStats,
  readFacts,
  type TunnelSet,
  UpgradeExchange,
  type Waiter,
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
  readonly tunnels: TunnelSet;
}

/**
 * Returns the queue-proxy's `upgrade` listener: websockets and other upgrades are tunnelled to the user
 * container, holding a breaker slot and counting as in flight until both sides close.
 */
export function upgradeHandler(
  ctx: UpgradeContext,
): (req: IncomingMessage, client: Duplex, head: Buffer) => void {
  return (req, client, head) => {
    ctx.drainer.touch(Date.now());
    new QueueUpgrade(ctx, req, client, head, readFacts(req.rawHeaders)).begin();
  };
}

class QueueUpgrade extends UpgradeExchange {
  private waiter: Waiter | null = null;
  private holdsSlot = false;

  constructor(
    private readonly ctx: UpgradeContext,
    req: IncomingMessage,
    client: Duplex,
    head: Buffer,
    private readonly facts: RequestFacts,
  ) {
    super(
      req,
      client,
      head,
      { ms: ctx.revisionTimeoutMs, error: 'REQUEST_TIMEOUT' },
      ctx.logger,
      ctx.tunnels,
    );
    ctx.stats.requestIn(facts.proxied);
  }

  protected admit(): void {
    const { breaker } = this.ctx;
    if (breaker === undefined) {
      this.connect();
      return;
    }
    const admission = breaker.enter(() => {
      this.waiter = null;
      this.holdsSlot = true;
      this.connect();
    });
    if (admission === 'run') {
      this.holdsSlot = true;
      this.connect();
    } else if (admission === 'full') {
      this.logger.warn({ path: this.req.url }, 'pending request queue full');
      this.reject('QUEUE_FULL');
    } else {
      this.waiter = admission;
    }
  }

  private connect(): void {
    if (this.isOver) {
      this.releaseSlot();
      return;
    }
    const headers = upstreamHeaders(this.req.rawHeaders, plainAddress(this.req.socket.remoteAddress), true);
    this.open('127.0.0.1', this.ctx.userPort, headers);
  }

  protected ended(): void {
    if (this.waiter) this.ctx.breaker?.cancel(this.waiter);
    this.waiter = null;
    this.releaseSlot();
    this.ctx.stats.requestOut(this.facts.proxied);
  }

  private releaseSlot(): void {
    if (!this.holdsSlot) return;
    this.holdsSlot = false;
    this.ctx.breaker?.release();
  }
}
