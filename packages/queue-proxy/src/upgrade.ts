import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type Breaker,
  BreakerSlot,
  type Drainer,
  type Logger,
  plainAddress,
  type RequestFacts,
  type RequestStats,
  readFacts,
  type TunnelSet,
  UpgradeExchange,
} from '@zerogate/core';
import { upstreamHeaders } from './request-head.js';

/** What the upgrade path shares with the rest of the queue-proxy. */
export interface UpgradeContext {
  readonly userHost: string;
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
  private slot: BreakerSlot | undefined;

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
    this.slot = new BreakerSlot(breaker);
    if (!this.slot.acquire(() => this.connect())) {
      this.logger.warn({ path: this.req.url }, 'pending request queue full');
      this.reject('QUEUE_FULL');
    }
  }

  private connect(): void {
    if (this.isOver) {
      this.slot?.release();
      return;
    }
    const headers = upstreamHeaders(this.req.rawHeaders, plainAddress(this.req.socket.remoteAddress), true);
    this.open(this.ctx.userHost, this.ctx.userPort, headers);
  }

  protected ended(): void {
    this.slot?.release();
    this.ctx.stats.requestOut(this.facts.proxied);
  }
}
