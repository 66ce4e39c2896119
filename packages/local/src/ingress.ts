/**
 * The platform's ingress: one port, requests routed by Host to a revision, then sent to the activator
 * (Proxy mode, or no Pod ready) with the revision named in Knative's routing headers, or straight to
 * the least busy ready Pod's queue-proxy (Serve mode). A request that never reached a Pod's app (the
 * connection to the Pod was refused, or its queue-proxy answered `K-Request-Not-Sent`) goes to another
 * ready Pod, or to the activator when there is none, and the Pod is left out until it passes a probe
 * again, so a Pod or its app going away costs only the requests it had accepted. A request
 * whose connection to the activator failed (it is restarting) is held here until the activator answers
 * again or its revision serves from a ready Pod, bounded by the revision's timeout, so the activator
 * going away costs only the requests it had already accepted.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type ErrorSource,
  forwardHeaders,
  http1ErrorResponse,
  INGRESS,
  INGRESS_TUNNEL,
  type Logger,
  originForm,
  ProxyExchange,
  plainAddress,
  type RateLimitedLogger,
  rateLimitLogs,
  readFacts,
  sendError,
  splitHostPort,
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

/** Attempts on Pods of a request that never reached one; the next goes through the activator. */
const MAX_ATTEMPTS = 3;
/** How often the ingress asks an unreachable activator whether it is back (and re-checks Serve mode). */
export const ACTIVATOR_PROBE_INTERVAL_MS = 50;
/** A probe that gets no answer within this long counts as failed. */
const ACTIVATOR_PROBE_TIMEOUT_MS = 1000;
/** Requests held while the activator is unreachable; past it, 503 with Retry-After. */
export const MAX_HELD_FOR_ACTIVATOR = 10_000;
/** The kubelet's probe of a queue-proxy: 200 once its app passes the readiness probe. */
const POD_PROBE_HEADERS = { 'user-agent': 'kube-probe/zerogate-ingress', 'k-network-probe': 'queue' };
/** The probe Knative's autoscaler sends to find the activator in the path; it answers `200 activator`. */
const ACTIVATOR_PROBE_HEADERS = { 'k-network-probe': 'activator', 'user-agent': 'zerogate-ingress' };

/** Where one attempt goes. */
interface Target {
  readonly address: string;
  readonly viaActivator: boolean;
}

/** A request waiting at the ingress for the activator to come back. */
interface HeldForActivator {
  readonly revision: RevisionPods;
  /** Sends it again (the activator answered, or the revision has a ready Pod in Serve mode). */
  resume(): void;
  /** Ends it with 502: it failed on an activator that still answers, so it may have been accepted. */
  lost(): void;
}

/** Sends requests to revisions. */
export class Ingress {
  private readonly traffic = new Map<RevisionPods, RevisionTraffic>();
  /** Requests the ingress has open on each Pod, for least-busy choice. */
  private readonly podLoad = new Map<string, number>();
  private rotation = 0;
  /** Warnings a client can trigger, rate-limited per message. */
  readonly logger: RateLimitedLogger;
  /** True from a refused connection to the activator until it answers a probe again. */
  private activatorDown = false;
  /** Requests held while the activator is down, in arrival order. */
  private readonly heldForActivator = new Set<HeldForActivator>();
  /** Replayable requests whose connection to the activator broke: held until a probe says whether it died. */
  private readonly suspects = new Set<HeldForActivator>();
  /** Connections to the activator refused this outage (each request fails on it at most once). */
  private refusedThisOutage = 0;
  private downSince = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  /** Pods a request never reached (refused, or `K-Request-Not-Sent`): skipped until they pass a probe. */
  private readonly failingPods = new Map<string, RevisionPods>();
  private podProbeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: IngressContext) {
    this.logger = rateLimitLogs(ctx.logger);
  }

  /** False while the activator refuses connections: requests for it are held instead of sent. */
  get activatorReachable(): boolean {
    return !this.activatorDown;
  }

  /** Requests held now because the activator is (or may be) unreachable. */
  get heldCount(): number {
    return this.heldForActivator.size + this.suspects.size;
  }

  /**
   * A connection to the activator was refused (nothing was sent): from now on requests for it are
   * held, and the activator is probed until it answers.
   */
  activatorRefused(err: Error): void {
    this.refusedThisOutage++;
    this.markDown(err);
  }

  /** Holds a request until the activator is back; false when the ingress holds as many as it may. */
  hold(request: HeldForActivator): boolean {
    if (this.heldCount >= MAX_HELD_FOR_ACTIVATOR) return false;
    this.heldForActivator.add(request);
    return true;
  }

  /**
   * A replayable request (no body, a safe method) broke on its connection to the activator before any
   * response: held while the activator is probed. If the activator is gone the request is sent again
   * when it is back (a request written as the activator died cannot be told from one it accepted, and
   * HTTP lets a client repeat such a request); if it still answers, the request is lost (502).
   */
  activatorLost(request: HeldForActivator): boolean {
    if (this.activatorDown) return this.hold(request);
    if (this.heldCount >= MAX_HELD_FOR_ACTIVATOR) return false;
    this.suspects.add(request);
    this.scheduleProbe();
    return true;
  }

  /** Withdraws a held request (it ended: timed out, or its client left). */
  unhold(request: HeldForActivator): void {
    this.heldForActivator.delete(request);
    this.suspects.delete(request);
  }

  /** Stops probing (the platform is shutting down). */
  close(): void {
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    clearTimeout(this.podProbeTimer);
    this.podProbeTimer = undefined;
  }

  /**
   * A request never reached the app of the Pod at `address`: no request goes there until the Pod's
   * queue-proxy answers a kubelet-style probe again (or the Pod leaves the revision).
   */
  podFailed(address: string, revision: RevisionPods): void {
    if (this.failingPods.has(address)) return;
    this.failingPods.set(address, revision);
    this.ctx.logger.warn(
      { pod: address, revision: revision.name },
      'pod unreachable; left out until it passes a probe',
    );
    this.schedulePodProbe();
  }

  /** True while the Pod at `address` is left out. */
  isFailing(address: string): boolean {
    return this.failingPods.has(address);
  }

  private schedulePodProbe(): void {
    if (this.podProbeTimer || this.failingPods.size === 0) return;
    this.podProbeTimer = setTimeout(() => void this.probeFailingPods(), ACTIVATOR_PROBE_INTERVAL_MS);
    this.podProbeTimer.unref();
  }

  private async probeFailingPods(): Promise<void> {
    await Promise.all(
      [...this.failingPods].map(async ([address, revision]) => {
        if (!revision.ready().some((pod) => pod.servingAddress === address)) {
          // The Pod left (or is not ready): the platform's own probe decides when it is back.
          this.failingPods.delete(address);
          return;
        }
        if (await this.probePod(address)) {
          this.failingPods.delete(address);
          this.ctx.logger.info({ pod: address, revision: revision.name }, 'pod passes its probe again');
        }
      }),
    );
    this.podProbeTimer = undefined;
    this.schedulePodProbe();
  }

  private async probePod(address: string): Promise<boolean> {
    try {
      const res = await this.ctx.dispatcher.request({
        origin: `http://${address}`,
        path: '/',
        method: 'GET',
        headers: POD_PROBE_HEADERS,
        headersTimeout: ACTIVATOR_PROBE_TIMEOUT_MS,
        bodyTimeout: ACTIVATOR_PROBE_TIMEOUT_MS,
      });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

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
      this.logger.warn({ host: req.headers.host, path: req.url }, 'no route for host');
      sendError(res, 'NO_ROUTE', undefined, JSON.stringify(req.headers.host ?? ''));
      return;
    }
    new IngressExchange(this, revision, req, res, this.ctx, Date.now()).begin();
  };

  readonly upgrade = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const revision = this.ctx.routes.resolve(req.headers.host);
    if (!revision) {
      client.end(http1ErrorResponse('NO_ROUTE', undefined, JSON.stringify(req.headers.host ?? '')));
      return;
    }
    new IngressUpgrade(this, revision, req, client, head, this.ctx).begin();
  };

  private markDown(err: unknown): void {
    if (this.activatorDown) return;
    this.activatorDown = true;
    this.downSince = Date.now();
    this.ctx.logger.warn(
      { err, activator: this.ctx.activatorAddress() },
      'activator unreachable; holding its requests until it answers again',
    );
    for (const request of this.suspects) this.heldForActivator.add(request);
    this.suspects.clear();
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.probeTimer) return;
    this.probeTimer = setTimeout(() => void this.probeActivator(), ACTIVATOR_PROBE_INTERVAL_MS);
    this.probeTimer.unref();
  }

  private async probeActivator(): Promise<void> {
    // A revision that switched to Serve with a ready Pod needs no activator.
    for (const request of [...this.heldForActivator]) {
      if (request.revision.mode === 'Serve' && this.leastBusy(request.revision) !== undefined) {
        this.heldForActivator.delete(request);
        request.resume();
      }
    }
    let failure: unknown;
    try {
      const res = await this.ctx.dispatcher.request({
        origin: `http://${this.ctx.activatorAddress()}`,
        path: '/',
        method: 'GET',
        headers: ACTIVATOR_PROBE_HEADERS,
        headersTimeout: ACTIVATOR_PROBE_TIMEOUT_MS,
        bodyTimeout: ACTIVATOR_PROBE_TIMEOUT_MS,
      });
      const body = await res.body.text();
      if (res.statusCode !== 200 || body !== 'activator')
        failure = new Error(`activator probe answered ${res.statusCode}`);
    } catch (err) {
      failure = err;
    }
    this.probeTimer = undefined;
    if (failure !== undefined) {
      this.markDown(failure);
      this.scheduleProbe();
      return;
    }
    const lost = [...this.suspects];
    this.suspects.clear();
    for (const request of lost) request.lost();
    if (!this.activatorDown) return;
    this.activatorDown = false;
    const held = [...this.heldForActivator];
    this.heldForActivator.clear();
    this.ctx.logger.info(
      {
        activator: this.ctx.activatorAddress(),
        downMs: Date.now() - this.downSince,
        refused: this.refusedThisOutage,
        held: held.length,
      },
      'activator answers again; sending the requests held for it',
    );
    this.refusedThisOutage = 0;
    for (const request of held) request.resume();
  }

  /** Where the next attempt of a request for `revision` goes; `viaActivator` forces the activator. */
  target(revision: RevisionPods, viaActivator: boolean): Target {
    if (revision.mode === 'Serve' && !viaActivator) {
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

  /** Requests the ingress has open on the Pod whose queue-proxy serves at `address` (Serve mode). */
  podInFlight(address: string): number {
    return this.podLoad.get(address) ?? 0;
  }

  /** The least busy ready Pod of `revision` not left out, or undefined when there is none. */
  leastBusy(revision: RevisionPods): string | undefined {
    const ready = revision.ready();
    if (ready.length === 0) return undefined;
    // Start the scan at a rotating index so ties are spread evenly.
    const start = this.rotation++ % ready.length;
    let best: string | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (let i = 0; i < ready.length; i++) {
      const address = ready[(start + i) % ready.length]!.servingAddress;
      if (address === undefined || this.failingPods.has(address)) continue;
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

/** Methods HTTP lets a client repeat after a broken connection (RFC 9110 §9.2.2), as Go's transport does. */
const REPLAYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** One request through the ingress. */
class IngressExchange extends ProxyExchange implements HeldForActivator {
  protected override get errorSource(): ErrorSource {
    return 'ingress';
  }

  /** A queue-proxy's `K-Request-Not-Sent` answer is retried like a refused connection. */
  protected override get upstreamMarksNotSent(): boolean {
    return true;
  }

  private target: Target | null = null;
  /** Attempts sent to Pods; past {@link MAX_ATTEMPTS} the request goes through the activator. */
  private podAttempts = 0;
  /** Set when the connection to the activator broke mid-request; the next admission asks the ingress. */
  private brokeOnActivator: Error | null = null;
  private replayed = false;
  private heldTimer: NodeJS.Timeout | null = null;
  private readonly traffic: RevisionTraffic;

  constructor(
    private readonly ingress: Ingress,
    readonly revision: RevisionPods,
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
      ingress.logger,
      arrivedAt,
    );
    this.traffic = ingress.trafficOf(revision);
    this.traffic.inFlight++;
    this.traffic.received++;
  }

  protected admit(): void {
    const broke = this.brokeOnActivator;
    if (broke) {
      this.brokeOnActivator = null;
      if (this.ingress.activatorLost(this)) this.armHeldTimer();
      else super.upstreamFailed(broke, true);
      return;
    }
    const target = this.ingress.target(this.revision, this.podAttempts >= MAX_ATTEMPTS);
    if (target.viaActivator && !this.ingress.activatorReachable) {
      if (this.ingress.hold(this)) this.armHeldTimer();
      else this.fail('ACTIVATOR_OVERLOADED', { 'retry-after': '1' });
      return;
    }
    this.target = target;
    if (!target.viaActivator) this.podAttempts++;
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

  /** Bounds the wait for the activator by the revision's timeout from arrival, as the activator would. */
  private armHeldTimer(): void {
    const left = this.arrivedAt + this.revision.config.timeoutSeconds * 1000 - Date.now();
    this.heldTimer = setTimeout(onHeldTimeout, Math.max(0, left), this);
  }

  private clearHeldTimer(): void {
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = null;
  }

  resume(): void {
    this.clearHeldTimer();
    if (this.isOver) return;
    this.admit();
  }

  lost(): void {
    this.clearHeldTimer();
    if (this.isOver) return;
    this.logger.error({ path: this.req.url }, 'error reverse proxying request: the activator lost it');
    this.fail('UPSTREAM_FAILED');
  }

  /** The revision's timeout passed while the request was held for the activator. */
  heldTimedOut(): void {
    this.heldTimer = null;
    this.ingress.unhold(this);
    if (this.isOver) return;
    this.timedOut = true;
    this.fail('REQUEST_TIMEOUT');
  }

  protected override upstreamFailed(err: Error, sent: boolean): void {
    const target = this.target;
    if (target) this.ingress.release(target);
    this.target = null;
    if (target?.viaActivator) {
      if (!sent) {
        // Never sent again to the activator that refused it: held until a probe finds it back.
        this.ingress.activatorRefused(err);
        this.retry();
        return;
      }
      if (!this.replayed && this.replayable()) {
        this.replayed = true;
        this.brokeOnActivator = err;
        this.retry();
        return;
      }
    } else if (target && (!sent || (!this.replayed && this.replayable()))) {
      // The app never saw it: another ready Pod, else the activator, which holds it until one is ready.
      // A safe request without a body that broke before any answer (a connection reset as the Pod's
      // queue-proxy died) is sent again once, as Go's transport does (RFC 9110 §9.2.2).
      if (sent) this.replayed = true;
      this.ingress.podFailed(target.address, this.revision);
      this.retry();
      return;
    }
    super.upstreamFailed(err, sent);
  }

  /** A request without a body and with a safe method: sending it twice is harmless (RFC 9110 §9.2.2). */
  private replayable(): boolean {
    return (
      REPLAYABLE_METHODS.has(this.req.method ?? 'GET') &&
      !this.hasBody(readFacts(this.req.rawHeaders).hasBody)
    );
  }

  protected ended(): void {
    this.clearHeldTimer();
    this.ingress.unhold(this);
    if (this.target) this.ingress.release(this.target);
    this.target = null;
    this.traffic.inFlight--;
  }
}

function onHeldTimeout(exchange: IngressExchange): void {
  exchange.heldTimedOut();
}

/**
 * A websocket through the ingress: a tunnel to the activator or a Pod. While the activator is known to
 * be unreachable it waits at the ingress as a request does (bounded by the upgrade's own timeout).
 */
class IngressUpgrade extends UpgradeExchange implements HeldForActivator {
  private target: Target | null = null;
  private readonly traffic: RevisionTraffic;

  protected override get errorSource(): ErrorSource {
    return 'ingress';
  }

  constructor(
    private readonly ingress: Ingress,
    readonly revision: RevisionPods,
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
      ingress.logger,
      ctx.tunnels,
    );
    this.traffic = ingress.trafficOf(revision);
    this.traffic.inFlight++;
    this.traffic.received++;
  }

  protected admit(): void {
    const target = this.ingress.target(this.revision, false);
    if (target.viaActivator && !this.ingress.activatorReachable) {
      if (!this.ingress.hold(this)) this.reject('ACTIVATOR_OVERLOADED', { 'retry-after': '1' });
      return;
    }
    this.target = target;
    this.ingress.acquire(target);
    const { host, port } = splitHostPort(target.address)!;
    this.open(host, port, attemptHeaders(this.req, this.revision, target, true));
  }

  resume(): void {
    if (!this.isOver) this.admit();
  }

  lost(): void {
    if (!this.isOver) this.reject('UPSTREAM_FAILED');
  }

  protected ended(): void {
    this.ingress.unhold(this);
    if (this.target) this.ingress.release(this.target);
    this.target = null;
    this.traffic.inFlight--;
  }
}
