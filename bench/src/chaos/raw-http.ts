/**
 * Raw HTTP/1.1 over `net.Socket`, for requests no well-behaved client would send: the bytes go out as
 * given, and what comes back is read until the peer closes or a time limit passes.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

/** What came back for raw bytes. */
export interface RawAnswer {
  /** Status codes of every response head received, in order. */
  readonly statuses: readonly number[];
  /** Whether the first response carried `Retry-After`. */
  readonly retryAfter: boolean;
  /** The peer closed the connection (after answering or without). */
  readonly closed: boolean;
  /** Milliseconds from sending to the first response byte or the close, whichever came first. */
  readonly firstMs: number | undefined;
}

/** Status codes of the response heads in `text` (`HTTP/1.x NNN` at the start of a line). */
export function parseStatuses(text: string): number[] {
  return [...text.matchAll(/(?:^|\r?\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}

/**
 * Connects to `port` on 127.0.0.1, writes `bytes` (in the order given, each element its own write),
 * and resolves once the peer closed or `waitMs` passed, whichever comes first.
 */
export function sendRaw(
  port: number,
  bytes: readonly (string | Buffer)[],
  waitMs: number,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let sentAt = 0;
    let firstAt: number | undefined;
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.split('\r\n\r\n')[0] ?? '';
      resolve({
        statuses: parseStatuses(text),
        retryAfter: /\r\nretry-after:/i.test(head),
        closed,
        firstMs: firstAt === undefined ? undefined : firstAt - sentAt,
      });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('connect', () => {
      sentAt = performance.now();
      for (const part of bytes) socket.write(part);
    });
    socket.on('data', (chunk: Buffer) => {
      firstAt ??= performance.now();
      chunks.push(chunk);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      firstAt ??= performance.now();
      finish();
    });
  });
}
