/**
 * Coded errors for every refusal a component answers itself, each carrying the HTTP status and body
 * Knative answers with and the gRPC status a gRPC call gets instead, so the mapping from failure to
 * response lives in exactly one table (docs/wire.md §6 lists it whole).
 */

/** The gRPC status codes the table uses, by their names in gRPC's `doc/statuscodes.md`. */
const GRPC = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/**
 * One coded failure: the HTTP status and text body it is answered with, and the gRPC status a gRPC call
 * gets instead (a trailers-only response, so clients see a real gRPC status instead of mapping an HTTP
 * one). An empty body is sent as a bare status. A `<…>` part of a body is filled in by the sender
 * ({@link errorBody}).
 */
interface ErrorEntry {
  readonly status: number;
  readonly body: string;
  readonly grpc: number;
  /**
   * The reason a 5xx the platform made gives in its `Zerogate-Error: <component>; <reason>` header
   * ({@link zerogateErrorHeaders}), so a client tells it from an app's own 5xx.
   */
  readonly reason?: string;
}

/**
 * Declares each coded failure. Refusals a retry can cure are UNAVAILABLE, which gRPC retry policies
 * retry; timeouts are DEADLINE_EXCEEDED; requests that can never succeed are INVALID_ARGUMENT.
 */
export const ERRORS = {
  /** The breaker's queue is full (`pkg/queue/breaker.go` ErrRequestQueueFull, written by http.Error). */
  QUEUE_FULL: {
    status: 503,
    body: 'pending request queue full\n',
    grpc: GRPC.UNAVAILABLE,
    reason: 'queue-full',
  },
  /** The revision timeout or the response-start timeout passed before the response began (`timeout.go`). */
  REQUEST_TIMEOUT: { status: 504, body: 'request timeout', grpc: GRPC.DEADLINE_EXCEEDED, reason: 'timeout' },
  /** The activator's revision timeout passed before the response began. */
  ACTIVATOR_TIMEOUT: {
    status: 504,
    body: 'activator request timeout',
    grpc: GRPC.DEADLINE_EXCEEDED,
    reason: 'timeout',
  },
  /** The activator holds as many requests (or body bytes) as it may; the client should retry. */
  ACTIVATOR_OVERLOADED: {
    status: 503,
    body: 'activator overloaded: too many requests held\n',
    grpc: GRPC.UNAVAILABLE,
    reason: 'overloaded',
  },
  /**
   * The revision cannot become ready (its Pods crash-loop, cannot pull their image, are unschedulable, or
   * missed their progress deadline): held and new requests are refused at once instead of timing out.
   * The revision's name and the reason are filled in (`hello-00002 failing: app exited with code 1 (3
   * times)`). Sent with `Retry-After` and `Zerogate-Error: activator; revision-failing`.
   */
  REVISION_FAILING: {
    status: 503,
    body: 'revision <name failing: reason>\n',
    grpc: GRPC.UNAVAILABLE,
    reason: 'revision-failing',
  },
  /**
   * The request names no revision the activator knows; the revision is filled in quoted as JSON, as
   * Knative's activator answers. A gRPC client would read HTTP 404 as UNIMPLEMENTED (a missing method),
   * so a gRPC call gets NOT_FOUND.
   */
  UNKNOWN_REVISION: {
    status: 404,
    body: 'Error getting active endpoint: revision <revision> not found\n',
    grpc: GRPC.NOT_FOUND,
  },
  /** An upgrade (websocket) for a revision the activator does not know: a bare 404 on the socket. */
  UPGRADE_UNKNOWN_REVISION: { status: 404, body: '', grpc: GRPC.NOT_FOUND },
  /** A path a side port does not serve (Go's `http.NotFound`, as Knative's muxes answer). */
  NOT_FOUND: { status: 404, body: '404 page not found\n', grpc: GRPC.UNIMPLEMENTED },
  /** The user container reset or otherwise failed the connection; the request may have reached it. */
  UPSTREAM_FAILED: {
    status: 502,
    body: 'upstream connection failed\n',
    grpc: GRPC.UNAVAILABLE,
    reason: 'upstream-failed',
  },
  /**
   * The user container refused the connection, so the request never reached it (Zerogate's addition:
   * Knative answers 502). Sent with `Retry-After` and `K-Request-Not-Sent` (docs/wire.md §1).
   */
  REQUEST_NOT_SENT: {
    status: 503,
    body: 'request not sent: the app refused the connection\n',
    grpc: GRPC.UNAVAILABLE,
    reason: 'app-refused',
  },
  /**
   * A queue-proxy probe arrived while draining (`pkg:network/handlers/drain.go`); also a dashboard stream
   * asked of the one-machine platform while it stops.
   */
  SHUTTING_DOWN: { status: 503, body: 'shutting down\n', grpc: GRPC.UNAVAILABLE, reason: 'shutting-down' },
  /** A queue-proxy health check while the app is not ready (a bare 503, as Knative's). */
  NOT_READY: { status: 503, body: '', grpc: GRPC.UNAVAILABLE, reason: 'not-ready' },
  /** An activator health check after SIGTERM, so it leaves the load balancers first. */
  ACTIVATOR_STOPPING: {
    status: 500,
    body: 'received SIGTERM from kubelet\n',
    grpc: GRPC.UNAVAILABLE,
    reason: 'stopping',
  },
  /** An activator health check before its websocket to the autoscaler was ever open. */
  AUTOSCALER_NOT_CONNECTED: {
    status: 500,
    body: 'connection has not yet been established\n',
    grpc: GRPC.UNAVAILABLE,
    reason: 'autoscaler-not-connected',
  },
  /** A `K-Network-Probe: probe` request without a hash. */
  PROBE_HASH_MISSING: {
    status: 400,
    body: 'a probe request must contain a non-empty "K-Network-Hash" header\n',
    grpc: GRPC.INVALID_ARGUMENT,
  },
  /**
   * A health probe whose `K-Network-Probe` value is not the expected one; the value is filled in (as it
   * came by the queue-proxy, quoted as JSON by the activator, as Knative's do).
   */
  UNEXPECTED_PROBE: {
    status: 400,
    body: 'unexpected probe header value: <value>\n',
    grpc: GRPC.INVALID_ARGUMENT,
  },
  /** Malformed HTTP from the client. */
  BAD_REQUEST: { status: 400, body: 'bad request\n', grpc: GRPC.INVALID_ARGUMENT },
  /** A request head not complete within the header timeout (Node's `headersTimeout` answer). */
  HEADER_TIMEOUT: { status: 408, body: 'request header timeout\n', grpc: GRPC.DEADLINE_EXCEEDED },
  /** Request headers larger than the server accepts. */
  HEADERS_TOO_LARGE: { status: 431, body: 'request header fields too large\n', grpc: GRPC.INVALID_ARGUMENT },
  /** Collecting the Prometheus metrics failed (a collector threw). */
  METRICS_FAILED: {
    status: 500,
    body: 'metrics collection failed\n',
    grpc: GRPC.INTERNAL,
    reason: 'metrics-failed',
  },
  /** The request failed inside a component for a reason with no better status. */
  INTERNAL: { status: 500, body: 'internal error\n', grpc: GRPC.INTERNAL, reason: 'internal' },
  /**
   * A path the injector's webhook does not serve, or one of the one-machine platform's control server
   * (there, also a revision it does not know).
   */
  UNKNOWN_PATH: { status: 404, body: 'not found\n', grpc: GRPC.UNIMPLEMENTED },
  /**
   * A method the path does not serve: the injector's (`GET /healthz`, `POST /mutate-pods`), the control
   * server's (`PUT` to scale or set the mode).
   */
  METHOD_NOT_ALLOWED: { status: 405, body: 'method not allowed\n', grpc: GRPC.UNIMPLEMENTED },
  /** An admission review that is not JSON by its `Content-Type`; the header is filled in, quoted. */
  CONTENT_TYPE: {
    status: 400,
    body: 'expected Content-Type: application/json: got <content type>\n',
    grpc: GRPC.INVALID_ARGUMENT,
  },
  /** An admission review over the API server's own limit (3 MiB, the injector's `MAX_BODY_BYTES`). */
  BODY_TOO_LARGE: {
    status: 400,
    body: 'request body exceeds 3145728 bytes\n',
    grpc: GRPC.INVALID_ARGUMENT,
  },
  /** An admission review that does not parse. */
  MALFORMED_JSON: { status: 400, body: 'request body is not valid JSON\n', grpc: GRPC.INVALID_ARGUMENT },
  /** JSON that is not an `admission.k8s.io/v1` AdmissionReview; what came is filled in. */
  NOT_A_REVIEW: {
    status: 400,
    body: 'expected apiVersion admission.k8s.io/v1, kind AdmissionReview: got <apiVersion, kind>\n',
    grpc: GRPC.INVALID_ARGUMENT,
  },
  /** An AdmissionReview without a request to answer. */
  NO_REQUEST: {
    status: 400,
    body: 'AdmissionReview has no request with a uid\n',
    grpc: GRPC.INVALID_ARGUMENT,
  },
  /** A Pod creation whose object is not shaped like a Pod; the problem is filled in. */
  NOT_A_POD: { status: 400, body: 'request.object is not a Pod: <problem>\n', grpc: GRPC.INVALID_ARGUMENT },
  /**
   * A plain HTTP request (not a kubelet probe) to the autoscaler's stat port, which takes websockets: the
   * answer of a failed upgrade (gorilla/websocket's `http.Error` with the status text, as Knative's).
   */
  WEBSOCKET_REQUIRED: { status: 400, body: 'Bad Request\n', grpc: GRPC.INVALID_ARGUMENT },
  /** A control-server scale call whose `desiredPods` is not a non-negative integer. */
  INVALID_SCALE: {
    status: 400,
    body: 'desiredPods must be a non-negative integer\n',
    grpc: GRPC.INVALID_ARGUMENT,
  },
  /** A control-server mode call whose `mode` is neither `Proxy` nor `Serve`. */
  INVALID_MODE: { status: 400, body: 'mode must be Proxy or Serve\n', grpc: GRPC.INVALID_ARGUMENT },
  /** The control server's probe of a revision's public path reached no activator or Pod. */
  PUBLIC_PATH_UNREACHABLE: {
    status: 502,
    body: 'public path unreachable\n',
    grpc: GRPC.UNAVAILABLE,
    reason: 'public-path-unreachable',
  },
  /**
   * The one-machine platform's dashboard serves as many event streams as it may; the cap is filled in. Sent
   * with `Retry-After`.
   */
  TOO_MANY_STREAMS: {
    status: 503,
    body: 'too many dashboard streams (at most <max>)\n',
    grpc: GRPC.UNAVAILABLE,
    reason: 'too-many-streams',
  },
  /**
   * A Host no route serves, at the one-machine platform's ingress or the test cluster's Knative ingress;
   * the Host header is filled in, quoted as JSON.
   */
  NO_ROUTE: { status: 404, body: 'no service answers to host <host>\n', grpc: GRPC.UNIMPLEMENTED },
} as const satisfies Record<string, ErrorEntry>;

/** The code naming one entry of {@link ERRORS}. */
export type ErrorCode = keyof typeof ERRORS;

/**
 * A component that answers requests itself, as named in the `Zerogate-Error` header: by its role, so the
 * in-process mode (which carries the queue-proxy's contract) is `queue-proxy`, and the one-machine
 * platform's dashboard (on the ingress port) is `ingress`.
 */
export type ErrorSource = 'activator' | 'queue-proxy' | 'ingress';

/** The header that marks a response the platform made (docs/wire.md §6). */
export const ZEROGATE_ERROR = 'zerogate-error';

/**
 * The headers of a coded error answered by `source`: `headers` plus `Zerogate-Error: <source>; <reason>`
 * when the code is a 5xx with a reason, so every platform-made 5xx says who made it and why, from this one
 * table. Without a source (a component that answers no proxied traffic) `headers` come back as they are.
 */
export function zerogateErrorHeaders(
  source: ErrorSource | undefined,
  code: ErrorCode,
  headers?: Readonly<Record<string, string>>,
): Record<string, string> | undefined {
  const reason = (ERRORS[code] as ErrorEntry).reason;
  if (source === undefined || reason === undefined) return headers as Record<string, string> | undefined;
  return { ...headers, [ZEROGATE_ERROR]: `${source}; ${reason}` };
}

/** The part of a body its sender fills in. */
const DETAIL = /<[^<>]*>/;

/**
 * The body of a coded error: the table's, with its `<…>` part replaced by `detail` when one is given
 * (taken as it is: `$` patterns in it mean nothing).
 */
export function errorBody(code: ErrorCode, detail?: string): string {
  const { body } = ERRORS[code];
  return detail === undefined ? body : body.replace(DETAIL, () => detail);
}

/** An error with a stable code; its status and body come from {@link ERRORS}, its message is the body. */
export class ZerogateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** What fills in the `<…>` part of the body, if it has one. */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(errorBody(code, detail).trim(), options);
    this.name = 'ZerogateError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = detail;
  }
}

/** Errors raised while connecting: the request was never written, so sending it elsewhere is safe. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'EADDRNOTAVAIL',
]);

/** Codes of a request that reached the peer but provably was not processed (an HTTP/2 refused stream). */
const UNPROCESSED_ERRORS = new Set(['REQUEST_NOT_SENT', 'H2C_STREAM_REFUSED']);

/**
 * Tells a failed upstream attempt that may have reached the upstream (true) from one that provably never
 * did (false): a connect error anywhere in the `cause` chain (one of {@link CONNECT_ERRORS}, or any error
 * of the `connect` call itself, such as a reset that beat the connect: an app that accepts and drops
 * connections before its handler is ready; nothing is written before the connect completes), an
 * HTTP/2 stream the peer refused or left
 * above its GOAWAY's last stream id, or a queue-proxy's `REQUEST_NOT_SENT` answer.
 * The one rule every proxy uses to decide whether a request may be sent again elsewhere.
 */
export function wasSent(err: unknown): boolean {
  for (const e of causeChain(err)) {
    const code = e.code;
    if (typeof code === 'string' && (CONNECT_ERRORS.has(code) || UNPROCESSED_ERRORS.has(code))) return false;
    if (e.syscall === 'connect') return false;
  }
  return true;
}

/** `err` and the errors of its `cause` chain (at most 8 deep). */
function* causeChain(err: unknown): Generator<{ code?: unknown; syscall?: unknown }> {
  let e: unknown = err;
  for (let depth = 0; e && depth < 8; depth++) {
    yield e as { code?: unknown; syscall?: unknown };
    e = (e as { cause?: unknown }).cause;
  }
}

/** Whether `err` or an error of its `cause` chain has `code` (`ECONNREFUSED`: nothing listens). */
export function causedBy(err: unknown, code: string): boolean {
  for (const e of causeChain(err)) if (e.code === code) return true;
  return false;
}
