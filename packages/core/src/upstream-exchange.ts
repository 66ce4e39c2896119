import { type ErrorCode, type ErrorSource, ZerogateError } from './errors.js';
import type { Logger } from './logger.js';

/** Not yet sent upstream (waiting for admission, or between attempts). */
export const WAITING = 0;
/** Sent upstream; the response is being relayed. */
export const RUNNING = 1;
/** Ended: answered, timed out, failed or abandoned by the client. */
export const DONE = 2;

/** What a queue-proxy's `K-Request-Not-Sent` answer becomes (made once: it is never thrown). */
export const NOT_SENT = new ZerogateError('REQUEST_NOT_SENT');
const NOT_SENT_RETRY_AFTER = { 'retry-after': '1' };

/**
 * What every proxied request shares, whichever way its bytes move ({@link ProxyExchange} on node:http
 * and undici, `RelayExchange` on raw sockets): the subclass's admission (`admit`, then a forward), one
 * `ended` call, the default answer to a failed upstream, and whether our queue-proxy's not-sent marker
 * counts.
 */
export abstract class UpstreamExchange {
  /** {@link WAITING}, {@link RUNNING}, {@link DONE}, or a state of the subclass's own. */
  protected state = WAITING;
  /** A timeout ended this exchange. */
  protected timedOut = false;

  constructor(
    protected readonly logger: Logger,
    protected readonly arrivedAt: number,
  ) {}

  /** Decides when and where the request goes: eventually a forward, `fail`, or nothing if it ended. */
  protected abstract admit(): void;

  /** Called exactly once when the exchange is over; `completed` when the whole response was written. */
  protected abstract ended(completed: boolean): void;

  /**
   * Ends the exchange with a coded error response (the client connection stays usable when it can);
   * `detail` fills in the body's `<…>` part.
   */
  protected abstract fail(code: ErrorCode, headers?: Record<string, string>, detail?: string): void;

  /** The request's target, for logs. */
  protected abstract get path(): string | undefined;

  /**
   * The upstream failed before the response started. `sent` is false when the request provably never
   * reached the app ({@link wasSent}), so a subclass may retry it elsewhere. Default: 502, or 503 with
   * `Retry-After` for a queue-proxy's `REQUEST_NOT_SENT`.
   */
  protected upstreamFailed(err: Error, _sent: boolean): void {
    if (err === NOT_SENT) {
      this.fail('REQUEST_NOT_SENT', NOT_SENT_RETRY_AFTER);
      return;
    }
    this.logger.error({ err, path: this.path }, 'error reverse proxying request');
    this.fail('UPSTREAM_FAILED');
  }

  /**
   * True when the upstream is one of our queue-proxies (the activator, the ingress), whose answer marked
   * `K-Request-Not-Sent` means the app never saw the request: it is read off and reaches
   * {@link upstreamFailed} as not sent, unless body bytes were already sent. Elsewhere the marker is
   * removed from the response: an app cannot forge it.
   */
  protected get upstreamMarksNotSent(): boolean {
    return false;
  }

  /** True once the exchange ended; an admission granted after that must be handed back. */
  protected get isOver(): boolean {
    return this.state === DONE;
  }

  /**
   * The component named in the `Zerogate-Error` header of the coded 5xx this exchange answers itself
   * (docs/wire.md §6); none by default.
   */
  protected get errorSource(): ErrorSource | undefined {
    return undefined;
  }

  /**
   * The `Server-Timing` value this component adds to the response as it starts (docs/wire.md §1), or
   * undefined for a request that did not wait: the one check a request that did not wait pays.
   */
  protected responseTiming(): string | undefined {
    return undefined;
  }
}
