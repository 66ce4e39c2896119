import type { ServerResponse } from 'node:http';
import { ERRORS, type ErrorCode, errorBody } from './errors.js';
import { nodeHttp } from './node-http.js';
import { httpDate } from './relay/message-heads.js';

/** Sends a short text response the way Go's `http.Error` does (plain text, nosniff), closing it. */
export function sendText(
  res: ServerResponse,
  status: number,
  body: string,
  headers?: Record<string, string>,
): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/**
 * Sends the status and body that {@link ERRORS} declares for a code, `detail` filling in the body's `<…>`
 * part. An entry without a body is sent as a bare status, as Go's `WriteHeader` does.
 */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  headers?: Record<string, string>,
  detail?: string,
): void {
  const { status } = ERRORS[code];
  const body = errorBody(code, detail);
  if (body === '') {
    res.writeHead(status, { 'content-length': 0, ...headers });
    res.end();
  } else sendText(res, status, body, headers);
}

/**
 * A coded error as a whole HTTP/1.1 response, for a socket no response object owns (an upgrade request's,
 * a malformed request's, the raw relay's). It closes the connection unless `keepAlive`. A text body comes
 * with its Content-Type (and `nosniff`, as `sendText`), an empty one without.
 */
export function http1ErrorResponse(
  code: ErrorCode,
  headers?: Record<string, string>,
  detail?: string,
  keepAlive = false,
): string {
  const { status } = ERRORS[code];
  const body = errorBody(code, detail);
  let head = `HTTP/1.1 ${status} ${nodeHttp.STATUS_CODES[status] ?? 'Error'}\r\n`;
  if (body !== '') head += 'Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n';
  head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  if (headers) for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  if (keepAlive) head += `Date: ${httpDate()}\r\n`;
  return `${head}${keepAlive ? '' : 'Connection: close\r\n'}\r\n${body}`;
}

/** True for a gRPC call (`Content-Type: application/grpc`, `application/grpc+proto`, …). */
export function isGrpcRequest(contentType: string | undefined): boolean {
  return contentType?.startsWith('application/grpc') === true;
}

/**
 * A `grpc-message` value: the text's UTF-8 bytes outside printable ASCII, and `%`, percent-encoded, as
 * the gRPC HTTP/2 protocol specifies. Clients decode only those, so `encodeURIComponent` would leave
 * `%3A` for every `:` in what they show.
 */
function grpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** gRPC status and message trailers for a coded error; the message is its body, `detail` filled in. */
export function grpcTrailers(code: ErrorCode, detail?: string): Record<string, string> {
  return {
    'grpc-status': String(ERRORS[code].grpc),
    'grpc-message': grpcMessage(errorBody(code, detail).trim()),
  };
}

/**
 * Answers a gRPC call with a coded error as a trailers-only response: HTTP 200 with `grpc-status` and
 * `grpc-message` in the headers, no body, as gRPC servers do for calls that fail before any message.
 */
export function sendGrpcError(
  res: ServerResponse,
  code: ErrorCode,
  headers?: Record<string, string>,
  detail?: string,
): void {
  // Headers set (not written) and then `end()`: over HTTP/2 Node sends them in one frame that ends the
  // stream, which is what makes a response trailers-only; `writeHead` would send an empty DATA frame after.
  res.statusCode = 200;
  for (const [name, value] of Object.entries({
    'content-type': 'application/grpc',
    ...grpcTrailers(code, detail),
    ...headers,
  })) {
    res.setHeader(name, value);
  }
  res.end();
}
