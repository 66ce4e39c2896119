/**
 * The activator's request path on the raw HTTP/1.1 relay (docs/activator.md §3.6): plain HTTP/1.1
 * requests for a known revision, held and forwarded as activator-handler.ts's list says, their bytes
 * moved between raw sockets; health checks, probes, gRPC, unknown revisions and everything the relay
 * does not take stay on node:http through {@link ActivatorHandler}.
 */
import {
  ACTIVATOR,
  type ErrorSource,
  forwardHeaders,
  isGrpcRequest,
  type RelayClient,
  RelayExchange,
  type RelayRequest,
  type RelayRoute,
  readFacts,
  splitHostPort,
  UpstreamConnections,
} from '@zerogate/core';
import { revisionTimeouts } from './activator-handler.js';
import { arrivalVerdict, HOLD } from './early-answer.js';
import {
  type AdmissionContext,
  type ExchangeFail,
  RETRY_AFTER_SECONDS,
  RevisionAdmission,
} from './revision-admission.js';
import type { FailingListener } from './revision-health.js';
import { identifyRevision } from './revision-id.js';
import type { Revision, RevisionRegistry } from './revisions.js';
import type { PodSlot } from './throttler.js';

/**
 * Body bytes a held request may keep in memory: what the relay holds before it stops reading the client
 * (64 KiB) plus one socket read (64 KiB), less when the body is shorter; the same as the node:http path.
 */
const HELD_BODY_BYTES = 128 * 1024;

/** Everything the relayed request path shares; built once at start. */
export interface ActivatorRelayContext extends AdmissionContext {
  readonly revisions: RevisionRegistry;
  readonly clusterDomain: string;
  readonly pods: PodConnections;
}

/** Keep-alive connections to each Pod's queue-proxy, made on first use. */
export class PodConnections {
  private readonly byAddress = new Map<string, UpstreamConnections>();

  /** The connections to the Pod at `address` (`host:port`, checked when it entered). */
  get(address: string): UpstreamConnections {
    let connections = this.byAddress.get(address);
    if (connections === undefined) {
      const { host, port } = splitHostPort(address)!;
      connections = new UpstreamConnections(host, port);
      this.byAddress.set(address, connections);
    }
    return connections;
  }

  /** Closes every connection to every Pod. */
  close(): void {
    for (const connections of this.byAddress.values()) connections.close();
    this.byAddress.clear();
  }
}

/** Takes the plain HTTP/1.1 requests for known revisions: stages 1–3 decided, then an exchange. */
export class ActivatorRelayRoute implements RelayRoute {
  constructor(private readonly ctx: ActivatorRelayContext) {}

  take(client: RelayClient, request: RelayRequest): RelayExchange | undefined {
    const facts = readFacts(request.head.rawHeaders);
    // 1–2. health checks and probes, and gRPC's trailers-only refusals, are node:http's.
    if (
      facts.userAgent.startsWith('kube-probe/') ||
      facts.kubeletProbeHeader ||
      facts.networkProbe !== undefined ||
      isGrpcRequest(facts.contentType)
    )
      return undefined;
    // 3. the revision: an unknown one is answered 404 (and logged) on node:http.
    const ref = identifyRevision(facts.revision, facts.namespace, facts.host, this.ctx.clusterDomain);
    const revision = ref && this.ctx.revisions.get(ref.namespace, ref.name);
    if (!revision) return undefined;
    // Without a usable Pod, a failing revision's refusal and the waiting page are node:http's (docs/activator.md §10).
    const arrivedAt = Date.now();
    if (arrivalVerdict(revision, request.head.method, request.head.rawHeaders, arrivedAt) !== HOLD) {
      return undefined;
    }
    const bytes = request.head.body === 'none' ? 0 : bodyBytes(facts.contentLength);
    return new ActivatorRelayExchange(this.ctx, revision, client, request, bytes, arrivedAt);
  }
}

/** What a body may hold in memory while held: {@link HELD_BODY_BYTES}, less when it is declared shorter. */
function bodyBytes(contentLength: number): number {
  return contentLength >= 0 ? Math.min(contentLength, HELD_BODY_BYTES) : HELD_BODY_BYTES;
}

/**
 * One relayed request through the activator: its {@link RevisionAdmission} reports, holds and releases
 * it; {@link RelayExchange} moves it to the Pod's queue-proxy under the revision's timeouts. An attempt
 * that never reached an app (a refused connection, the queue-proxy's `K-Request-Not-Sent`) goes to
 * another Pod.
 */
class ActivatorRelayExchange extends RelayExchange implements FailingListener {
  private readonly admission: RevisionAdmission;

  constructor(
    private readonly ctx: ActivatorRelayContext,
    revision: Revision,
    client: RelayClient,
    request: RelayRequest,
    private readonly holdsBytes: number,
    arrivedAt: number,
  ) {
    super(client, request, revisionTimeouts(revision), ctx.logger, arrivedAt);
    // 4. reported to the autoscaler
    this.admission = new RevisionAdmission(ctx, revision);
  }

  protected override get upstreamMarksNotSent(): boolean {
    return true;
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
    const { head } = this.request;
    this.admission.admit(this, (pod) => this.send(pod), this.holdsBytes, head.rawHeaders, this.failWith);
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
    const { head, peer } = this.request;
    const headers = forwardHeaders(head.rawHeaders, peer, ACTIVATOR);
    if (this.admission.traced) this.admission.injectTrace(headers);
    this.forward(this.ctx.pods.get(pod.address), headers);
  }

  protected override upstreamFailed(err: Error, sent: boolean): void {
    if (this.admission.failed(err, sent)) this.retry();
    // Never sent, no retry left: the client may send it again.
    else if (!sent) this.fail('REQUEST_NOT_SENT', { 'retry-after': RETRY_AFTER_SECONDS });
    else super.upstreamFailed(err, sent);
  }

  /** 8. the Pod's slot released, reported out and measured: once, however the exchange ended. */
  protected ended(completed: boolean): void {
    this.admission.revision.health.release(this);
    const status = completed || this.timedOut ? this.status : 499;
    this.admission.end(status, this.arrivedAt, this, this.responseLength);
  }
}
