import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorCode } from './errors.js';
import type { Logger } from './logger.js';
import { http1ErrorResponse } from './respond.js';

/** How long a connection that sent malformed HTTP may linger while its answer is read. */
const CLIENT_ERROR_LINGER_MS = 1000;

/** Malformed HTTP never reaches a handler, so it takes no slot: answer 400 (431 for an oversized head). */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket, logger: Logger): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST';
  logger.warn({ code: err.code, status: ERRORS[code].status }, 'malformed request');
  answerAndClose(socket, code);
}

/**
 * A parsed head that must still be refused (`headProblem`), on a socket no handler owns (an upgrade
 * request's): answer 400 and close.
 */
export function answerBadHead(socket: Duplex, problem: string, logger: Logger): void {
  logger.warn({ status: 400, problem }, 'malformed request');
  answerAndClose(socket, 'BAD_REQUEST');
}

/**
 * A request head took longer than the header timeout: answer 408 and close, as Node's HTTP server does on
 * its `headersTimeout` (Go's server, on ReadHeaderTimeout, closes without an answer).
 */
export function answerHeaderTimeout(socket: Socket, logger: Logger): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  logger.warn({ status: 408 }, 'request head not received in time');
  answerAndClose(socket, 'HEADER_TIMEOUT');
}

/**
 * Writes the coded error as a whole HTTP/1.1 response with `Connection: close` and ends the socket. Whatever
 * the client still sends is read and discarded meanwhile: closing a socket with unread bytes makes the
 * kernel reset the connection, which can destroy the answer before the client reads it. Bounded by a timer.
 */
function answerAndClose(socket: Duplex, code: ErrorCode): void {
  socket.on('error', () => undefined);
  socket.resume();
  socket.end(http1ErrorResponse(code));
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
}
