/**
 * What a request for a revision without a usable Pod gets at once instead of being held
 * (docs/activator.md §10): a failing revision's 503 naming why, or, for a browser asking a revision that
 * opted in, the waiting page. Both paths decide with {@link arrivalVerdict}; the raw relay leaves these
 * requests to node:http, which answers them with {@link answerAtOnce}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, isGrpcRequest, type Logger, sendError, sendGrpcError } from '@zerogate/core';
import type { ActivatorMetrics } from './activator-metrics.js';
import type { ActivatorRequestLog } from './activator-request-log.js';
import type { ConcurrencySink } from './revision-admission.js';
import { REVISION_FAILING_HEADERS } from './revision-health.js';
import type { Revision } from './revisions.js';
import { acceptOf, prefersHtml, type WaitingPage, waitingTimes } from './waiting-page.js';

/** Held (or forwarded) as usual. */
export const HOLD = 0;
/** Refused: the revision is failing (`REVISION_FAILING`). */
export const REFUSE = 1;
/** Answered with the waiting page. */
export const WAITING_PAGE = 2;

/** What {@link arrivalVerdict} decided. */
export type ArrivalVerdict = typeof HOLD | typeof REFUSE | typeof WAITING_PAGE;

/**
 * Decides what a request arriving for `revision` gets: held as usual while a Pod is usable (one
 * comparison on the hot path); otherwise the wake starts (for the waiting page's elapsed time), a
 * failing revision refuses, and a `GET` preferring HTML for a revision with the waiting page gets it.
 */
export function arrivalVerdict(
  revision: Revision,
  method: string | undefined,
  rawHeaders: readonly string[],
  now: number,
): ArrivalVerdict {
  const { health } = revision;
  if (health.usable > 0) return HOLD;
  health.woke(now);
  if (health.refusing !== undefined) return REFUSE;
  if (revision.waitingPage && method === 'GET' && prefersHtml(acceptOf(rawHeaders))) return WAITING_PAGE;
  return HOLD;
}

/** What answering at once needs; built once at start. */
export interface EarlyAnswerContext {
  readonly reporter: ConcurrencySink;
  readonly metrics: ActivatorMetrics | undefined;
  readonly logger: Logger;
  readonly waitingPage: WaitingPage;
  readonly requestLog?: ActivatorRequestLog | undefined;
}

/** The waiting page's headers that never change. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'zerogate-error': 'activator; waiting-page',
} as const;

/**
 * Answers a request {@link arrivalVerdict} did not hold, on node:http. It is reported to the autoscaler
 * all the same (arrival and end at once): the first one pokes a revision at zero, so a failing revision
 * is tried again and a waiting page's Pod is on its way.
 */
export function answerAtOnce(
  ctx: EarlyAnswerContext,
  revision: Revision,
  verdict: typeof REFUSE | typeof WAITING_PAGE,
  req: IncomingMessage,
  res: ServerResponse,
  arrivedAt: number,
): void {
  const { namespace, name } = revision;
  ctx.reporter.requestIn(namespace, name);
  let status: number;
  let size = 0;
  if (verdict === REFUSE) {
    const detail = revision.health.refusing ?? `${name} failing`;
    ctx.logger.warn(
      { revision: name, namespace, reason: revision.info.failing },
      'revision failing: request refused',
    );
    if (isGrpcRequest(req.headers['content-type'])) {
      sendGrpcError(res, 'REVISION_FAILING', REVISION_FAILING_HEADERS, detail);
      status = 200;
    } else {
      sendError(res, 'REVISION_FAILING', REVISION_FAILING_HEADERS, detail);
      status = 503;
      size = Buffer.byteLength(errorBody('REVISION_FAILING', detail));
    }
  } else {
    const { health } = revision;
    const { elapsedMs, refreshMs } = waitingTimes(arrivedAt, health.wokenAt ?? arrivedAt, health.lastWake);
    const body = ctx.waitingPage.render({
      revision: name,
      namespace,
      elapsedMs: String(elapsedMs),
      elapsedSeconds: (elapsedMs / 1000).toFixed(1),
      refreshMs: String(refreshMs),
      refreshSeconds: String(Math.ceil(refreshMs / 1000)),
    });
    res.writeHead(503, {
      ...PAGE_HEADERS,
      'retry-after': String(Math.ceil(refreshMs / 1000)),
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
    status = 503;
    size = Buffer.byteLength(body);
  }
  ctx.reporter.requestOut(namespace, name);
  const seconds = (Date.now() - arrivedAt) / 1000;
  ctx.metrics?.observe(revision, status, seconds);
  ctx.requestLog?.write(req, revision, status, size, seconds);
}
