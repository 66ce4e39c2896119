/**
 * Coded errors for every failure a client can see, each carrying the HTTP status and the body text
 * Knative answers with, so the mapping from failure to response lives in exactly one table.
 */

/** Declares each coded failure: its HTTP status and the short text body sent to the client. */
export const ERRORS = {
  /** The breaker's queue is full (`pkg/queue/breaker.go` ErrRequestQueueFull, written by http.Error). */
  QUEUE_FULL: { status: 503, body: 'pending request queue full\n' },
  /** The revision timeout or the response-start timeout passed before the response began (`timeout.go`). */
  REQUEST_TIMEOUT: { status: 504, body: 'request timeout' },
  /** The activator's revision timeout passed before the response began. */
  ACTIVATOR_TIMEOUT: { status: 504, body: 'activator request timeout' },
  /** The activator holds as many requests (or body bytes) as it may; the client should retry. */
  ACTIVATOR_OVERLOADED: { status: 503, body: 'activator overloaded: too many requests held\n' },
  /** The request names no revision the activator knows. */
  UNKNOWN_REVISION: { status: 404, body: 'unknown revision\n' },
  /** A path a side port does not serve (Go's `http.NotFound`, as Knative's muxes answer). */
  NOT_FOUND: { status: 404, body: '404 page not found\n' },
  /** The user container refused, reset or otherwise failed the connection. */
  UPSTREAM_FAILED: { status: 502, body: 'upstream connection failed\n' },
  /**
   * The user container refused the connection, so the request never reached it (Zerogate's addition:
   * Knative answers 502). Sent with `Retry-After` and `K-Request-Not-Sent` (docs/wire.md §1).
   */
  REQUEST_NOT_SENT: { status: 503, body: 'request not sent: the app refused the connection\n' },
  /** A probe arrived while draining (`pkg:network/handlers/drain.go`). */
  SHUTTING_DOWN: { status: 503, body: 'shutting down\n' },
  /** A `K-Network-Probe: probe` request without a hash. */
  PROBE_HASH_MISSING: {
    status: 400,
    body: 'a probe request must contain a non-empty "K-Network-Hash" header\n',
  },
  /** A health probe whose `K-Network-Probe` value is not the expected one; the value is appended. */
  UNEXPECTED_PROBE: { status: 400, body: 'unexpected probe header value: ' },
  /** Malformed HTTP from the client. */
  BAD_REQUEST: { status: 400, body: 'bad request\n' },
  /** A request head not complete within the header timeout (Node's `headersTimeout` answer). */
  HEADER_TIMEOUT: { status: 408, body: 'request header timeout\n' },
  /** Request headers larger than the server accepts. */
  HEADERS_TOO_LARGE: { status: 431, body: 'request header fields too large\n' },
  /** The request failed inside the proxy for a reason with no better status. */
  INTERNAL: { status: 500, body: 'internal error\n' },
} as const satisfies Record<string, { status: number; body: string }>;

/**
 * The gRPC status each coded error becomes for gRPC calls (answered as a trailers-only response, so
 * clients see a real gRPC status instead of mapping an HTTP one). Refusals a retry can cure are
 * UNAVAILABLE, which gRPC retry policies retry; timeouts are DEADLINE_EXCEEDED.
 */
export const GRPC_STATUS: Readonly<Record<keyof typeof ERRORS, number>> = {
  QUEUE_FULL: 14,
  REQUEST_TIMEOUT: 4,
  ACTIVATOR_TIMEOUT: 4,
  ACTIVATOR_OVERLOADED: 14,
  UNKNOWN_REVISION: 5,
  NOT_FOUND: 12,
  UPSTREAM_FAILED: 14,
  REQUEST_NOT_SENT: 14,
  SHUTTING_DOWN: 14,
  PROBE_HASH_MISSING: 3,
  UNEXPECTED_PROBE: 3,
  BAD_REQUEST: 3,
  HEADER_TIMEOUT: 4,
  HEADERS_TOO_LARGE: 3,
  INTERNAL: 13,
};

/** The code naming one entry of {@link ERRORS}. */
export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable code; its status and body come from {@link ERRORS}. */
export class ZerogateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].body.trim(), options);
    this.name = 'ZerogateError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RESPONSE_STATUS_CODE',
]);

/** Reports whether an error (or any error in its `cause` chain) is a failed upstream connection. */
export function isUpstreamFailure(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Errors raised while connecting: the request was never written, so sending it elsewhere is safe. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'EADDRNOTAVAIL',
]);

/**
 * Tells a failed upstream attempt that may have reached the upstream (true) from one that provably never
 * did (false): a connect error anywhere in the `cause` chain, or a queue-proxy's `REQUEST_NOT_SENT` answer.
 * The one rule every proxy uses to decide whether a request may be sent again elsewhere.
 */
export function wasSent(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECT_ERRORS.has(code) || code === 'REQUEST_NOT_SENT')) return false;
    e = (e as { cause?: unknown }).cause;
  }
  return true;
}

/** Maps any error to the status and body sent to the client: coded errors by table, connection errors as 502. */
export function errorResponse(err: unknown): { status: number; body: string } {
  if (err instanceof ZerogateError) return ERRORS[err.code];
  if (isUpstreamFailure(err)) return ERRORS.UPSTREAM_FAILED;
  return ERRORS.INTERNAL;
}
