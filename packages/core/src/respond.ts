import type { ServerResponse } from 'node:http';
import { ERRORS, type ErrorCode } from './errors.js';

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

/** Sends the status and body that {@link ERRORS} declares for a code. */
export function sendError(res: ServerResponse, code: ErrorCode, headers?: Record<string, string>): void {
  const e = ERRORS[code];
  sendText(res, e.status, e.body, headers);
}
