import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { grpcTrailers, http1ErrorResponse, sendError, sendGrpcError } from './respond.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  if (server) await new Promise((r) => server?.close(r));
  server = undefined;
});

/** Serves `answer` on 127.0.0.1:0 and returns the raw bytes of its answer to one `GET /`. */
async function rawAnswer(answer: (res: ServerResponse) => void): Promise<string> {
  server = createServer((_req, res) => answer(res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  await once(socket, 'close');
  return text.replace(/^Date: .*\r\n/m, '');
}

describe('sendError', () => {
  it('sends the table entry as plain text, nosniff, with its detail filled in and extra headers', async () => {
    const raw = await rawAnswer((res) => sendError(res, 'UNEXPECTED_PROBE', { 'retry-after': '1' }, '"$1"'));
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(raw).toContain('\r\ncontent-type: text/plain; charset=utf-8\r\n');
    expect(raw).toContain('\r\nx-content-type-options: nosniff\r\n');
    expect(raw).toContain('\r\nretry-after: 1\r\n');
    expect(raw.endsWith('\r\n\r\nunexpected probe header value: "$1"\n')).toBe(true);
  });

  it('sends an entry without a body as a bare status', async () => {
    const raw = await rawAnswer((res) => sendError(res, 'NOT_READY'));
    expect(raw).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(raw).toContain('\r\ncontent-length: 0\r\n');
    expect(raw).not.toMatch(/content-type/i);
    expect(raw.endsWith('\r\n\r\n')).toBe(true);
  });
});

describe('http1ErrorResponse', () => {
  it('writes a whole response that closes the connection, headers before Connection', () => {
    expect(http1ErrorResponse('ACTIVATOR_OVERLOADED', { 'retry-after': '1' })).toBe(
      'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        'X-Content-Type-Options: nosniff\r\n' +
        'Content-Length: 45\r\nretry-after: 1\r\nConnection: close\r\n\r\n' +
        'activator overloaded: too many requests held\n',
    );
  });

  it('keeps the connection open when asked, with a Date as every kept-alive answer has', () => {
    const raw = http1ErrorResponse('QUEUE_FULL', undefined, undefined, true);
    expect(raw).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(raw).toMatch(/\r\nDate: \w{3}, \d{2} \w{3} \d{4} [\d:]{8} GMT\r\n/);
    expect(raw).not.toMatch(/connection:/i);
  });

  it('leaves the Content-Type out of an empty answer', () => {
    expect(http1ErrorResponse('UPGRADE_UNKNOWN_REVISION')).toBe(
      'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
  });

  it('counts the body in bytes, detail included', () => {
    const raw = http1ErrorResponse('UNEXPECTED_PROBE', undefined, 'é');
    expect(raw).toContain('\r\nContent-Length: 34\r\n');
    expect(raw.endsWith('\r\n\r\nunexpected probe header value: é\n')).toBe(true);
  });
});

describe('gRPC answers', () => {
  it("carry the entry's gRPC status and its body, detail filled in, percent-encoded as gRPC says", () => {
    expect(grpcTrailers('QUEUE_FULL')).toEqual({
      'grpc-status': '14',
      'grpc-message': 'pending request queue full',
    });
    expect(grpcTrailers('UNKNOWN_REVISION', '"default/é%"')).toEqual({
      'grpc-status': '5',
      'grpc-message': 'Error getting active endpoint: revision "default/%C3%A9%25" not found',
    });
  });

  it('are trailers-only: HTTP 200 with the status in the headers and no body', async () => {
    const raw = await rawAnswer((res) => sendGrpcError(res, 'ACTIVATOR_TIMEOUT', { 'retry-after': '1' }));
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(raw).toContain('\r\ncontent-type: application/grpc\r\n');
    expect(raw).toContain('\r\ngrpc-status: 4\r\n');
    expect(raw).toContain('\r\ngrpc-message: activator request timeout\r\n');
    expect(raw).toContain('\r\nretry-after: 1\r\n');
    expect(raw.endsWith('\r\n\r\n')).toBe(true);
  });
});
