/**
 * The platform's ingress: one port, requests routed by Host to a revision, then sent to the activator
 * (Proxy mode, or no Pod ready) with the revision named in Knative's routing headers, or straight to
 * the least busy ready Pod's queue-proxy (Serve mode). A request whose connection to a Pod failed
 * before it was sent goes to the activator instead, so a Pod going away costs no request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  forwardHeaders,
  INGRESS,
  INGRESS_TUNNEL,
  type Logger,
  originForm,
  ProxyExchange,
  plainAddress,
  readFacts,
  sendText,
  type TunnelSet,
  UpgradeExchange,
} from '@zerogate/core';
import type { Dispatcher } from 'undici';
import type { RevisionPods } from './revision-pods.js';
import type { Routes } from './routes.js';

/** What the ingress shares across requests. */
export interface IngressContext {
  readonly routes: Routes;
  /** `host:port` of the activator's HTTP port (it takes h2c there too). */
  readonly activatorAddress: () => string;
  readonly dispatcher: Dispatcher;
  readonly h2c: Dispatcher;
  readonly logger: Logger;
  readonly tunnels: TunnelSet;
  /** Requests that are not for a revision (`/zerogate/…`); returns true when it answered. */
  readonly local: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** Per-revision counters the status shows. */
export interface RevisionTraffic {
  inFlight: number;
  /** Requests received since start. */
  received: number;
}

const MAX_ATTEMPTS = 3;

/** Where one attempt goes. */
interface Target {
  readonly address: string;
  readonly viaActivator: boolean;
}

/** Sends requests to revisions. */
export class Ingress {
  private readonly traffic = new Map<RevisionPods, RevisionTraffic>();
  /** Requests the ingress has open on each Pod, for least-busy choice. */
  private readonly podLoad = new Map<string, number>();
  private rotation = 0;

  constructor(private readonly ctx: IngressContext) {}

  /** The counters of `revision`. */
  trafficOf(revision: RevisionPods): RevisionTraffic {
    let t = this.traffic.get(revision);
    if (!t) {
      t = { inFlight: 0, received: 0 };
      this.traffic.set(revision, t);
    }
    return t;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const revision = this.ctx.routes.resolve(
      req.headers.host ?? (req.headers[':authority'] as string | undefined),
    );
    if (!revision) {
      if (this.ctx.local(req, res)) return;
      this.ctx.logger.warn({ host: req.headers.host, path: req.url }, 'no route for host');
      sendText(res, 404, `no service answers to host ${JSON.stringify(req.headers.host ?? '')}\n`);
      return;
    }
    new IngressExchange(this, revision, req, res, this.ctx, Date.now()).begin();
  };

  readonly upgrade = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const revision = this.ctx.routes.resolve(req.headers.host);
    if (!revision) {
      client.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    new IngressUpgrade(this, revision, req, client, head, this.ctx).begin();
  };

  /** Where the next attempt of a request for `revision` goes. */
  target(revision: RevisionPods, podFailed: boolean): Target {
    if (revision.mode === 'Serve' && !podFailed) {
      const pod = this.leastBusy(revision);
      if (pod !== undefined) return { address: pod, viaActivator: false };
    }
    return { address: this.ctx.activatorAddress(), viaActivator: true };
  }

  /** Counts a request in on `target`; {@link release} counts it out. */
  acquire(target: Target): void {
    if (!target.viaActivator) this.podLoad.set(target.address, (this.podLoad.get(target.address) ?? 0) + 1);
  }

  release(target: Target): void {
    if (target.viaActivator) return;
    const n = (this.podLoad.get(target.address) ?? 1) - 1;
    if (n <= 0) this.podLoad.delete(target.address);
    else this.podLoad.set(target.address, n);
  }

  private leastBusy(revision: RevisionPods): string | undefined {
    const ready = revision.ready();
    if (ready.length === 0) return undefined;
    // Start the scan at a rotating index so ties are spread evenly.
    const start = this.rotation++ % ready.length;
    let best: string | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (let i = 0; i < ready.length; i++) {
      const address = ready[(start + i) % ready.length]!.servingAddress;
      if (address === undefined) continue;
      const load = this.podLoad.get(address) ?? 0;
      if (load < bestLoad) {
        best = address;
        bestLoad = load;
      }
    }
    return best;
  }
}

/** The headers of one attempt: the client's, rewritten for the hop, plus the revision for the activator. */
function attemptHeaders(
  req: IncomingMessage,
  revision: RevisionPods,
  target: Target,
  tunnel: boolean,
): string[] {
  const headers = forwardHeaders(
    req.rawHeaders,
    plainAddress(req.socket.remoteAddress),
    tunnel ? INGRESS_TUNNEL : INGRESS,
    !tunnel && req.httpVersionMajor === 2,
  );
  if (target.viaActivator) {
    headers.push('knative-serving-revision', revision.name, 'knative-serving-namespace', revision.namespace);
  }
  return headers;
}

/** One request through the ingress. */
class IngressExchange extends ProxyExchange {
  private target: Target | null = null;
  private attempts = 0;
  private readonly traffic: RevisionTraffic;

  constructor(
    private readonly ingress: Ingress,
    private readonly revision: RevisionPods,
    req: IncomingMessage,
    res: ServerResponse,
    private readonly ctx: IngressContext,
    arrivedAt: number,
  ) {
    // The activator and the queue-proxy enforce the revision's timeouts; this one only bounds a
    // request the hops behind lost track of.
    super(
      req,
      res,
      {
        totalMs: (revision.config.timeoutSeconds + 30) * 1000,
        responseStartMs: 0,
        idleMs: 0,
        error: 'REQUEST_TIMEOUT',
      },
      ctx.logger,
      arrivedAt,
    );
    this.traffic = ingress.trafficOf(revision);
    this.traffic.inFlight++;
    this.traffic.received++;
  }

  protected admit(): void {
    const target = this.ingress.target(this.revision, this.attempts > 0);
    this.target = target;
    this.attempts++;
    this.ingress.acquire(target);
    const http2 = this.isHttp2;
    this.forward(http2 ? this.ctx.h2c : this.ctx.dispatcher, {
      origin: `http://${target.address}`,
      path: originForm(this.req.url ?? '/'),
      method: this.req.method ?? 'GET',
      headers: attemptHeaders(this.req, this.revision, target, false),
      body: this.hasBody(readFacts(this.req.rawHeaders).hasBody) ? this.req : null,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  protected override upstreamFailed(err: Error, sent: boolean): void {
    const target = this.target;
    if (target) this.ingress.release(target);
    this.target = null;
    if (!sent && this.attempts < MAX_ATTEMPTS) {
      this.logger.warn(
        { err, target: target?.address, revision: this.revision.name },
        'upstream unreachable; retrying through the activator',
      );
      this.retry();
      return;
    }
    super.upstreamFailed(err, sent);
  }

  protected ended(): void {
    if (this.target) this.ingress.release(this.target);
    this.target = null;
    this.traffic.inFlight--;
  }
}

/** A websocket through the ingress: a tunnel to the activator or a Pod. */
class IngressUpgrade extends UpgradeExchange {
  private target: Target | null = null;
  private readonly traffic: RevisionTraffic;

  constructor(
    private readonly ingress: Ingress,
    private readonly revision: RevisionPods,
    req: IncomingMessage,
    client: Duplex,
    head: Buffer,
    ctx: IngressContext,
  ) {
    super(
      req,
      client,
      head,
      { ms: revision.config.timeoutSeconds * 1000, error: 'REQUEST_TIMEOUT' },
      ctx.logger,
      ctx.tunnels,
    );
    this.traffic = ingress.trafficOf(revision);
    this.traffic.inFlight++;
    this.traffic.received++;
  }

  protected admit(): void {
    const target = this.ingress.target(this.revision, false);
    this.target = target;
    this.ingress.acquire(target);
    const colon = target.address.lastIndexOf(':');
    this.open(
      target.address.slice(0, colon),
      Number(target.address.slice(colon + 1)),
      attemptHeaders(this.req, this.revision, target, true),
    );
  }

  protected ended(): void {
    if (this.target) this.ingress.release(this.target);
    this.target = null;
    this.traffic.inFlight--;
  }
}
