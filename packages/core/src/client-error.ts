import type { Socket } from 'node:net';
import type { Logger } from './logger.js';

/** How long a connection that sent malformed HTTP may linger while its answer is read. */
const CLIENT_ERROR_LINGER_MS = 1000;

/** Malformed HTTP never reaches a handler, so it takes no slot: answer 400 (431 for an oversized head). */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket, logger: Logger): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = tooLarge ? 'request header fields too large\n' : 'bad request\n';
  logger.warn({ code: err.code, status }, 'malformed request');
  // Read and discard whatever the client still sends: closing a socket with unread bytes makes the kernel
  // reset the connection, which can destroy the answer before the client reads it. Bounded by a timer.
  socket.on('error', () => undefined);
  socket.resume();
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
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
  const body = 'request header timeout\n';
  socket.on('error', () => undefined);
  socket.resume();
  socket.end(
    'HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
}
