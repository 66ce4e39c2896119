import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import {
  ACTIVATOR,
  ACTIVATOR_TUNNEL,
  type ErrorSource,
  type ExchangeTimeouts,
  forwardHeaders,
  http1ErrorResponse,
  isGrpcRequest,
  type Logger,
  originForm,
  ProxyExchange,
  plainAddress,
  ReplayableBody,
  type RequestFacts,
  rawHeader,
  readFacts,
  sendError,
  sendGrpcError,
  sendText,
  splitHostPort,
  type Tracer,
  type TunnelSet,
  UpgradeExchange,
  zerogateErrorHeaders,
} from '@zerogate/core';
import type { Dispatcher } from 'undici';
import type { ActivatorMetrics } from './activator-metrics.js';
import { answerAtOnce, arrivalVerdict, type EarlyAnswerContext, HOLD } from './early-answer.js';
import type { HeldRequest } from './held-queue.js';
import {
  type ConcurrencySink,
  type ExchangeFail,
  RETRY_AFTER_SECONDS,
  RevisionAdmission,
} from './revision-admission.js';
import type { FailingListener } from './revision-health.js';
import { identifyRevision } from './revision-id.js';
import type { Revision, RevisionRegistry } from './revisions.js';
import type { PodSlot } from './throttler.js';

export type { ConcurrencySink } from './revision-admission.js';

/** Everything the activator's request path shares; built once at start. */
export interface ActivatorContext extends EarlyAnswerContext {
  readonly revisions: RevisionRegistry;
  readonly reporter: ConcurrencySink;
  /** Forwards to Pods' queue-proxies over HTTP/1.1 (an undici Agent: a keep-alive pool per Pod). */
  readonly dispatcher: Dispatcher;
  /** Forwards requests that arrived over HTTP/2 to Pods' queue-proxies over h2c (a client per Pod). */
  readonly h2c: Dispatcher;
  readonly logger: Logger;
  readonly metrics: ActivatorMetrics | undefined;
  readonly clusterDomain: string;
  /** True after SIGTERM: health checks fail so the activator leaves the load balancers first. */
  readonly shuttingDown: () => boolean;
  /** Upgraded connections (websockets) open now. */
  readonly tunnels: TunnelSet;
  /** Tracing, when it is on (docs/tracing.md). */
  readonly tracing?: Tracer | undefined;
}

/**
 * Bytes Node reads off a connection at once (libuv's read buffer, 64 KiB). A body nobody reads yet
 * stops its socket only once its stream passed the high-water mark, and the rest of that read is still
 * parsed into the stream: an HTTP/1.1 body held unread buffers up to the high-water mark plus one read.
 */
const SOCKET_READ_BYTES = 64 * 1024;

/**
 * Bytes of an HTTP/2 request body kept to send it again after a Pod refused its stream unprocessed: one
 * stream window, as much as the client sends before it waits for the Pod anyway.
 */
const REPLAY_BYTES = 64 * 1024;

/** A refused health check is the platform's 500, marked `Zerogate-Error: activator; <reason>` (docs/wire.md §6). */
const STOPPING_HEADERS = zerogateErrorHeaders('activator', 'ACTIVATOR_STOPPING');
const NOT_CONNECTED_HEADERS = zerogateErrorHeaders('activator', 'AUTOSCALER_NOT_CONNECTED');

/**
 * The activator's request handler, in the order docs/activator.md §3.1 gives; the code marks each stage
 * with its number where it happens:
 *
 * 1. health checks (`kube-probe/…`, `K-Kubelet-Probe`);
 * 2. probes (any `K-Network-Probe`);
 * 3. the revision (an unknown one: 404); then an {@link ActivatorExchange}:
 * 4. reported to the autoscaler;
 * 5. held until a Pod has room (docs/activator.md §3.3);
 * 6. forwarded over h2c for HTTP/2, else HTTP/1.1; one that never reached the app goes to another Pod;
 * 7. timeouts from arrival, holding included ({@link ProxyExchange});
 * 8. the Pod's slot released, reported out and measured, once.
 */
export class ActivatorHandler {
  constructor(private readonly ctx: ActivatorContext) {}

  /** Handles one request; suitable as a `request` listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const { ctx } = this;
    const facts = readFacts(req.rawHeaders);
    // 1. health checks
    if (facts.userAgent.startsWith('kube-probe/') || facts.kubeletProbeHeader) {
      this.healthCheck(res);
      return;
    }
    // 2. probes
    if (facts.networkProbe !== undefined) {
      this.networkProbe(facts, res);
      return;
    }
    // 3. the revision
    const ref = identifyRevision(facts.revision, facts.namespace, facts.host, ctx.clusterDomain);
    const revision = ref && ctx.revisions.get(ref.namespace, ref.name);
    if (!revision) {
      const name = ref ? `${ref.namespace}/${ref.name}` : (facts.host ?? '');
      ctx.logger.warn({ revision: name, path: req.url }, 'request for an unknown revision');
      // A gRPC client maps HTTP 404 to UNIMPLEMENTED, which reads as a missing method: a gRPC call gets
      // NOT_FOUND instead, trailers-only, as every other refusal of a gRPC call is answered.
      const quoted = JSON.stringify(name);
      if (isGrpcRequest(req.headers['content-type'])) {
        sendGrpcError(res, 'UNKNOWN_REVISION', undefined, quoted);
      } else {
        sendError(res, 'UNKNOWN_REVISION', undefined, quoted);
      }
      return;
    }
    // Without a usable Pod, a failing revision refuses and a browser may get the waiting page (docs/activator.md §10).
    const arrivedAt = Date.now();
    const verdict = arrivalVerdict(revision, req.method, req.rawHeaders, arrivedAt);
    if (verdict !== HOLD) {
      answerAtOnce(ctx, revision, verdict, req, res, arrivedAt);
      return;
    }
    // 4–8: `begin` arms the timeouts (7), then asks `admit` (5).
    new ActivatorExchange(ctx, revision, req, res, facts, arrivedAt).begin();
  };

  /** Handles an upgrade (websocket): held like any request, then tunnelled to a Pod's queue-proxy. */
  readonly upgrade = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const { ctx } = this;
    const facts = readFacts(req.rawHeaders);
    const ref = identifyRevision(facts.revision, facts.namespace, facts.host, ctx.clusterDomain);
    const revision = ref && ctx.revisions.get(ref.namespace, ref.name);
    if (!revision) {
      client.end(http1ErrorResponse('UPGRADE_UNKNOWN_REVISION'));
      return;
    }
    new ActivatorUpgrade(ctx, revision, req, client, head).begin();
  };

  /** Kubelet probes: 500 until the autoscaler connection was established, and after SIGTERM. */
  private healthCheck(res: ServerResponse): void {
    if (this.ctx.shuttingDown()) sendError(res, 'ACTIVATOR_STOPPING', STOPPING_HEADERS);
    else if (!this.ctx.reporter.everConnected)
      sendError(res, 'AUTOSCALER_NOT_CONNECTED', NOT_CONNECTED_HEADERS);
    else {
      res.writeHead(200, { 'content-length': 0 });
      res.end();
    }
  }

  /** `K-Network-Probe: probe` echoes the hash; `activator` answers `activator`; anything else is 400. */
  private networkProbe(facts: RequestFacts, res: ServerResponse): void {
    if (facts.networkProbe === 'probe') {
      if (facts.networkHash === '') sendError(res, 'PROBE_HASH_MISSING');
      else {
        res.writeHead(200, { 'k-network-hash': facts.networkHash, 'content-length': 0 });
        res.end();
      }
    } else if (facts.networkProbe === 'activator') {
      sendText(res, 200, 'activator');
    } else {
      sendError(res, 'UNEXPECTED_PROBE', undefined, JSON.stringify(facts.networkProbe));
    }
  }
}

/**
 * One request through the activator on node:http and undici: its {@link RevisionAdmission} reports it
 * to the autoscaler, holds it until a Pod has room and releases the Pod at the end; {@link ProxyExchange}
 * relays it and runs the timeouts. A request whose connection to the Pod failed before anything was sent
 * is retried on another Pod.
 */
class ActivatorExchange extends ProxyExchange implements FailingListener {
  private readonly admission: RevisionAdmission;
  /** An HTTP/2 request's body, kept for a retry once it started flowing to a Pod. */
  private replayable: ReplayableBody | undefined;

  /** A request that never reached an app is sent again; a Pod that refused is probed before reuse. */
  protected override get upstreamMarksNotSent(): boolean {
    return true;
  }

  constructor(
    private readonly ctx: ActivatorContext,
    revision: Revision,
    req: IncomingMessage,
    res: ServerResponse,
    private readonly facts: RequestFacts,
    arrivedAt: number,
  ) {
    super(req, res, revisionTimeouts(revision), ctx.logger, arrivedAt);
    // 4. reported to the autoscaler
    this.admission = new RevisionAdmission(ctx, revision);
  }

  protected override get errorSource(): ErrorSource {
    return 'activator';
  }

  /** `Server-Timing` for a held or throttled request (docs/activator.md §7.2). */
  protected override responseTiming(): string | undefined {
    return this.admission.responseTiming();
  }

  /** 5. held until a Pod has room */
  protected admit(): void {
    this.admission.admit(this, (pod) => this.send(pod), this.heldBytes(), this.req.rawHeaders, this.failWith);
  }

  /** Held while its revision turned out failing: refused at once (docs/activator.md §10.1). */
  revisionFailing(detail: string): void {
    if (!this.isOver) this.admission.refuseFailing(detail, this.failWith);
  }

  private readonly failWith: ExchangeFail = (code, headers, detail) => this.fail(code, headers, detail);

  /** 6. forwarded */
  private send(pod: PodSlot): void {
    this.admission.revision.health.release(this);
    if (!this.admission.sending(pod, this.isOver)) return;
    const { req } = this;
    const http2 = this.isHttp2;
    const headers = forwardHeaders(req.rawHeaders, plainAddress(req.socket.remoteAddress), ACTIVATOR, http2);
    if (this.admission.traced) this.admission.injectTrace(headers);
    // The protocol is kept hop by hop: gRPC needs HTTP/2 (and its trailers) all the way to the app.
    this.forward(http2 ? this.ctx.h2c : this.ctx.dispatcher, {
      origin: `http://${pod.address}`,
      path: originForm(req.url ?? '/'),
      method: req.method ?? 'GET',
      headers,
      body: this.body(http2),
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /**
   * The body for this attempt. An HTTP/2 body starts flowing as soon as its stream opens, before the Pod
   * may refuse the stream unprocessed: its first {@link REPLAY_BYTES} are kept, so that it can be sent
   * again elsewhere (docs/activator.md §3.6). An HTTP/1.1 body is only read once its connection is up.
   */
  private body(http2: boolean): Readable | null {
    if (!this.hasBody(this.facts.hasBody)) return null;
    if (!http2) return this.req;
    this.replayable ??= new ReplayableBody(this.req, REPLAY_BYTES);
    return this.replayable.attempt() ?? null;
  }

  /** An HTTP/2 body read into a refused attempt can be sent again while it was kept whole. */
  protected override get canSendAgain(): boolean {
    return this.replayable ? this.replayable.replayable : super.canSendAgain;
  }

  protected override upstreamFailed(err: Error, sent: boolean): void {
    if (this.admission.failed(err, sent) && this.canSendAgain) this.retry();
    // Never sent, no retry left (or its body is no longer whole): the client may send it again.
    else if (!sent) this.fail('REQUEST_NOT_SENT', { 'retry-after': RETRY_AFTER_SECONDS });
    else super.upstreamFailed(err, sent);
  }

  /** 8. the Pod's slot released, reported out and measured: once, however the exchange ended. */
  protected ended(completed: boolean): void {
    this.admission.revision.health.release(this);
    const status = completed || this.timedOut ? this.res.statusCode : 499;
    this.admission.end(status, this.arrivedAt, this.req, this.responseLength);
  }

  /**
   * Body bytes this request may hold in memory while waiting: its stream's high-water mark plus one
   * socket read (128 KiB with Node 24's 64 KiB default; the rest stays in the client's TCP window), less
   * when the body is shorter. An HTTP/2 body is bounded lower still, by its stream's 64 KiB window.
   */
  private heldBytes(): number {
    if (!this.hasBody(this.facts.hasBody)) return 0;
    const limit = this.req.readableHighWaterMark + SOCKET_READ_BYTES;
    return this.facts.contentLength >= 0 ? Math.min(this.facts.contentLength, limit) : limit;
  }
}

/** A revision's request timeouts (docs/activator.md §3.7), from arrival, holding included. */
export function revisionTimeouts(revision: Revision): ExchangeTimeouts {
  const { info } = revision;
  return {
    totalMs: info.timeoutSeconds * 1000,
    responseStartMs: info.responseStartTimeoutSeconds * 1000,
    idleMs: info.idleTimeoutSeconds * 1000,
    error: 'ACTIVATOR_TIMEOUT',
  };
}

/** A websocket through the activator: held until a Pod has room, then a tunnel holding that Pod's slot. */
class ActivatorUpgrade extends UpgradeExchange {
  private pod: PodSlot | null = null;
  private held: HeldRequest<PodSlot> | null = null;

  constructor(
    private readonly ctx: ActivatorContext,
    private readonly revision: Revision,
    req: IncomingMessage,
    client: Duplex,
    head: Buffer,
  ) {
    super(
      req,
      client,
      head,
      { ms: revision.info.timeoutSeconds * 1000, error: 'ACTIVATOR_TIMEOUT' },
      ctx.logger,
      ctx.tunnels,
    );
    ctx.reporter.requestIn(revision.namespace, revision.name);
  }

  protected override get errorSource(): ErrorSource {
    return 'activator';
  }

  protected admit(): void {
    const { throttler } = this.revision;
    const overloaded = (): void => {
      this.held = null;
      this.reject('ACTIVATOR_OVERLOADED', { 'retry-after': RETRY_AFTER_SECONDS });
    };
    const place = throttler.placeOf((name) => rawHeader(this.req.rawHeaders, name));
    const result = throttler.acquire((pod) => this.connect(pod), 0, false, place, overloaded);
    if (result === 'full') overloaded();
    else if ('address' in result) this.connect(result);
    else this.held = result;
  }

  private connect(pod: PodSlot): void {
    this.held = null;
    if (this.isOver) {
      this.revision.throttler.release(pod);
      return;
    }
    this.pod = pod;
    // Pod addresses are checked `host:port` when they enter (endpoint sources).
    const { host, port } = splitHostPort(pod.address)!;
    const headers = forwardHeaders(
      this.req.rawHeaders,
      plainAddress(this.req.socket.remoteAddress),
      ACTIVATOR_TUNNEL,
    );
    this.open(host, port, headers);
  }

  protected ended(): void {
    if (this.held) this.revision.throttler.cancel(this.held);
    this.held = null;
    if (this.pod) this.revision.throttler.release(this.pod);
    this.pod = null;
    this.ctx.reporter.requestOut(this.revision.namespace, this.revision.name);
  }
}
