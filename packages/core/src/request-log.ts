/**
 * Knative's templated request log: one line per request on stdout, shaped by a Go `text/template`
 * (`SERVING_REQUEST_LOG_TEMPLATE`, or `requestLogTemplate` in `OBSERVABILITY_CONFIG`) run on the data
 * Knative's `pkg/http/request_log.go` gives it: `.Request` (a Go `net/http` Request), `.Response`
 * (`Code`, `Size`, `Latency` in seconds), `.Revision` (`Name`, `Namespace`, `Service`, `Configuration`,
 * `PodName`, `PodIP`) and `.TraceID`. The data is built only when a line is written, and each Request
 * field only when the template reads it.
 */
import { GoTemplate } from './go-template.js';

/** The revision a request log line names (Knative's `RequestLogRevision`). */
export interface RequestLogRevision {
  readonly Name: string;
  readonly Namespace: string;
  readonly Service: string;
  readonly Configuration: string;
  readonly PodName: string;
  readonly PodIP: string;
}

/**
 * What the request log reads of a request: node:http's `IncomingMessage` (HTTP/1.1 and the HTTP/2
 * compatibility request) has all of it; the raw relay's exchange gives the same names.
 */
export interface LoggedRequest {
  readonly method?: string | undefined;
  /** The request-target as sent (`:path` over HTTP/2). */
  readonly url?: string | undefined;
  /** Names and values in arrival order. */
  readonly rawHeaders?: readonly string[] | undefined;
  /** `1.1`, `1.0`, `2.0`. */
  readonly httpVersion?: string | undefined;
  readonly socket?: {
    readonly remoteAddress?: string | undefined;
    readonly remotePort?: number | undefined;
  } | null;
}

/** Go's `textproto.CanonicalMIMEHeaderKey`: each dash-separated word capitalised, the rest lower case. */
export function canonicalHeaderKey(name: string): string {
  let out = '';
  let upper = true;
  for (const ch of name) {
    if (ch === ' ' || ch > '~') return name;
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

/** Fields a Go server takes out of `Request.Header` into fields of their own. */
const MOVED_HEADERS = new Set(['host', 'transfer-encoding']);

/** The values of field `name` (lower case) in `raw`, in order. */
function rawValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

/** A Go `http.Header`: a map of canonical names to their values, with `Get`, `Values` and `index`. */
export class GoHeader extends Map<string, string[]> {
  constructor(rawHeaders: readonly string[]) {
    super();
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      // HTTP/2 pseudo-headers are not header fields in Go's Request; a Go server moves Host to
      // Request.Host and Transfer-Encoding to Request.TransferEncoding.
      if (name.startsWith(':') || MOVED_HEADERS.has(name.toLowerCase())) continue;
      const key = canonicalHeaderKey(name);
      const values = super.get(key);
      if (values) values.push(rawHeaders[i + 1]!);
      else super.set(key, [rawHeaders[i + 1]!]);
    }
  }

  /** The first value of `name` (any case), or ''. */
  Get(name: string): string {
    return super.get(canonicalHeaderKey(name))?.[0] ?? '';
  }

  /** Every value of `name` (any case). */
  Values(name: string): string[] {
    return super.get(canonicalHeaderKey(name)) ?? [];
  }

  /** Go's map index: the exact key; a missing one gives a nil slice (printed `[]`). */
  goIndex(key: unknown): string[] {
    return super.get(String(key)) ?? [];
  }
}

function unescapePath(path: string): string {
  try {
    return decodeURIComponent(path.replace(/%(?![0-9a-fA-F]{2})/g, '%25'));
  } catch {
    return path;
  }
}

/** A Go `url.URL` as a server request has it: parsed from the request-target. */
export class GoURL {
  Scheme = '';
  Opaque = '';
  Host = '';
  Path = '';
  RawPath = '';
  ForceQuery = false;
  RawQuery = '';
  Fragment = '';
  private readonly escapedPath: string;

  constructor(target: string) {
    let rest = target;
    const abs = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)/.exec(rest);
    if (abs) {
      this.Scheme = abs[1]!.toLowerCase();
      this.Host = abs[2]!;
      rest = rest.slice(abs[0].length);
    }
    const q = rest.indexOf('?');
    if (q >= 0) {
      this.RawQuery = rest.slice(q + 1);
      this.ForceQuery = this.RawQuery === '';
      rest = rest.slice(0, q);
    }
    this.escapedPath = rest;
    this.Path = unescapePath(rest);
    if (this.Path !== rest) this.RawPath = rest;
  }

  /** The path as sent (`EscapedPath`). */
  EscapedPath(): string {
    return this.escapedPath;
  }

  /** The encoded path and query (`RequestURI`). */
  RequestURI(): string {
    const path = this.escapedPath === '' ? '/' : this.escapedPath;
    return this.RawQuery !== '' || this.ForceQuery ? `${path}?${this.RawQuery}` : path;
  }

  /** `Hostname` of {@link Host}. */
  Hostname(): string {
    return splitHostPort(this.Host)[0];
  }

  /** `Port` of {@link Host}. */
  Port(): string {
    return splitHostPort(this.Host)[1];
  }

  IsAbs(): boolean {
    return this.Scheme !== '';
  }

  /** The query's values by name (Go's `url.Values`, printed as a sorted map; malformed pairs left out). */
  Query(): GoValues {
    return new GoValues(this.RawQuery);
  }

  /** The URL reassembled, as Go's `String()` (and so `{{.Request.URL}}`) gives it. */
  String(): string {
    const prefix = this.Scheme !== '' ? `${this.Scheme}://${this.Host}` : '';
    const query = this.RawQuery !== '' || this.ForceQuery ? `?${this.RawQuery}` : '';
    return `${prefix}${this.escapedPath}${query}`;
  }
}

/** Go's `url.QueryUnescape`: `%XX` bytes and `+` as a space; undefined when malformed. */
function queryUnescape(s: string): string | undefined {
  if (/%(?![0-9a-fA-F]{2})/.test(s)) return undefined;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return Buffer.from(
      s
        .replace(/\+/g, ' ')
        .replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  }
}

/** Go's `url.Values` of a raw query, as `url.ParseQuery` reads it. */
export class GoValues extends Map<string, string[]> {
  constructor(rawQuery: string) {
    super();
    for (const part of rawQuery.split('&')) {
      if (part === '' || part.includes(';')) continue;
      const eq = part.indexOf('=');
      const key = queryUnescape(eq < 0 ? part : part.slice(0, eq));
      const value = queryUnescape(eq < 0 ? '' : part.slice(eq + 1));
      if (key === undefined || value === undefined) continue;
      const values = super.get(key);
      if (values) values.push(value);
      else super.set(key, [value]);
    }
  }

  /** The first value of `key`, or ''. */
  Get(key: string): string {
    return super.get(key)?.[0] ?? '';
  }

  /** Whether `key` is there. */
  Has(key: string): boolean {
    return super.has(key);
  }

  /** Go's map index: a missing key gives a nil slice. */
  goIndex(key: unknown): string[] {
    return super.get(String(key)) ?? [];
  }
}

function splitHostPort(host: string): [string, string] {
  const m = /^\[([^\]]*)\](?::(\d*))?$/.exec(host) ?? /^([^:]*)(?::(\d*))?$/.exec(host);
  return m ? [m[1]!, m[2] ?? ''] : [host, ''];
}

/** A Go `http.Request` as a server handler sees it, each field computed when first read. */
export class GoRequest {
  private header: GoHeader | undefined;
  private url: GoURL | undefined;

  constructor(private readonly req: LoggedRequest) {}

  get Method(): string {
    return this.req.method ?? 'GET';
  }

  get URL(): GoURL {
    this.url ??= new GoURL(this.req.url ?? '/');
    return this.url;
  }

  get RequestURI(): string {
    return this.req.url ?? '';
  }

  get Proto(): string {
    return `HTTP/${this.req.httpVersion ?? '1.1'}`;
  }

  get ProtoMajor(): number {
    return Number((this.req.httpVersion ?? '1.1').split('.')[0]);
  }

  get ProtoMinor(): number {
    return Number((this.req.httpVersion ?? '1.1').split('.')[1] ?? 0);
  }

  get Header(): GoHeader {
    this.header ??= new GoHeader(this.req.rawHeaders ?? []);
    return this.header;
  }

  /** The Host field, or `:authority` over HTTP/2. */
  get Host(): string {
    const raw = this.req.rawHeaders ?? [];
    let authority = '';
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === 4 && name.toLowerCase() === 'host') return raw[i + 1]!;
      if (name === ':authority') authority = raw[i + 1]!;
    }
    return authority;
  }

  /** `Content-Length`; -1 for a body of unknown length (chunked), 0 for none. */
  get ContentLength(): number {
    if (this.TransferEncoding.length > 0) return -1;
    const declared = this.Header.Get('Content-Length');
    if (declared === '') return 0;
    const n = Number(declared);
    return Number.isSafeInteger(n) ? n : -1;
  }

  /** The codings of `Transfer-Encoding` (a Go server's `["chunked"]`), which Header does not hold. */
  get TransferEncoding(): string[] {
    return rawValues(this.req.rawHeaders ?? [], 'transfer-encoding').flatMap((v) =>
      v.split(',').map((c) => c.trim().toLowerCase()),
    );
  }

  /** Whether the client asked to close the connection after this request (`Connection: close`, or HTTP/1.0 without keep-alive). */
  get Close(): boolean {
    const tokens = rawValues(this.req.rawHeaders ?? [], 'connection').flatMap((v) =>
      v.split(',').map((t) => t.trim().toLowerCase()),
    );
    if (this.ProtoMajor === 1 && this.ProtoMinor === 0) return !tokens.includes('keep-alive');
    return this.ProtoMajor < 2 && tokens.includes('close');
  }

  /** `ip:port` of the client, IPv6 in brackets. */
  get RemoteAddr(): string {
    const socket = this.req.socket;
    let ip = socket?.remoteAddress ?? '';
    if (ip.startsWith('::ffff:') && ip.includes('.')) ip = ip.slice(7);
    const port = socket?.remotePort ?? 0;
    return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
  }

  UserAgent(): string {
    return this.Header.Get('User-Agent');
  }

  Referer(): string {
    return this.Header.Get('Referer');
  }
}

/** The trace ID of a request: from W3C `traceparent`, else B3 `X-B3-TraceId` (Knative's `ExtractTraceID`). */
export function traceId(header: GoHeader): string {
  const parent = header.Get('Traceparent');
  if (parent !== '') {
    const parts = parent.split('-');
    if (parts.length >= 2) return parts[1]!;
  }
  return header.Get('X-B3-Traceid');
}

/** The data of one line: Knative's `RequestLogTemplateInput`. */
class RequestLogInput {
  readonly Request: GoRequest;

  constructor(
    req: LoggedRequest,
    readonly Response: { readonly Code: number; readonly Size: number; readonly Latency: number },
    readonly Revision: RequestLogRevision,
  ) {
    this.Request = new GoRequest(req);
  }

  get TraceID(): string {
    return traceId(this.Request.Header);
  }
}

/** Where lines go; `process.stdout.write` in a component. */
export type LineWriter = (line: string) => void;

/**
 * Writes one line per request through a parsed template. As Knative, a template that does not end in a
 * newline gets one, and a line whose template fails at execution is replaced by Knative's
 * `Invalid request log template: …` line.
 */
export class RequestLog {
  constructor(
    private readonly template: GoTemplate,
    private readonly revision: RequestLogRevision,
    private readonly out: LineWriter,
  ) {}

  /**
   * Writes the line of `req`, answered `code` with `size` body bytes after `latencySeconds`; `revision`
   * replaces the log's own for a component serving many (the activator).
   */
  write(
    req: LoggedRequest,
    code: number,
    size: number,
    latencySeconds: number,
    revision: RequestLogRevision = this.revision,
  ): void {
    const input = new RequestLogInput(req, { Code: code, Size: size, Latency: latencySeconds }, revision);
    let line: string;
    try {
      line = this.template.execute(input);
    } catch {
      line = `Invalid request log template: method: ${input.Request.Method}, response code: ${code}, latency: ${latencySeconds}, url: ${input.Request.URL.String()}`;
    }
    this.out(line.endsWith('\n') ? line : `${line}\n`);
  }
}

/**
 * Knative's default request log template (`config-observability`'s `logging.request-log-template` when
 * the key is absent): Google Cloud's `httpRequest` shape, with the trace ID of either header form.
 */
export const DEFAULT_REQUEST_LOG_TEMPLATE =
  '{"httpRequest": {"requestMethod": "{{.Request.Method}}", "requestUrl": "{{js .Request.RequestURI}}", "requestSize": "{{.Request.ContentLength}}", "status": {{.Response.Code}}, "responseSize": "{{.Response.Size}}", "userAgent": "{{js .Request.UserAgent}}", "remoteIp": "{{js .Request.RemoteAddr}}", "serverIp": "{{.Revision.PodIP}}", "referer": "{{js .Request.Referer}}", "latency": "{{.Response.Latency}}s", "protocol": "{{.Request.Proto}}"}, "traceId": "{{.TraceID}}"}';

/** Parses a request log template once, at start; throws a GoTemplateParseError naming what is wrong. */
export function parseRequestLogTemplate(source: string): GoTemplate {
  return GoTemplate.parse(source);
}
