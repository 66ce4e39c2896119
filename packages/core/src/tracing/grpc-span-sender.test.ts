import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { grpcSpanSender } from './grpc-span-sender.js';

/** One call the collector took: its headers and the message inside gRPC's length prefix. */
interface Call {
  readonly headers: IncomingHttpHeaders;
  readonly message: string;
}

let server: Http2Server | undefined;
const closers: (() => void)[] = [];
/** The collector's side of each connection. */
const serverSessions: { destroy(): void }[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  for (const session of serverSessions.splice(0)) session.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** An h2c collector on 127.0.0.1 answering each call with `answer`. */
async function collector(
  answer: (stream: ServerHttp2Stream, call: Call) => void,
): Promise<{ url: string; calls: Call[]; sessions: () => number }> {
  const calls: Call[] = [];
  let sessions = 0;
  server = createServer();
  server.on('session', (session) => {
    sessions++;
    serverSessions.push(session);
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const length = body.readUInt32BE(1);
      expect(body[0]).toBe(0);
      expect(body.length).toBe(5 + length);
      const call = { headers, message: body.subarray(5).toString() };
      calls.push(call);
      answer(stream, call);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/ignored/path`, calls, sessions: () => sessions };
}

const ok = (stream: ServerHttp2Stream) => {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  // An empty ExportTraceServiceResponse.
  stream.end(Buffer.from([0, 0, 0, 0, 0]));
};

const encode = (spans: readonly unknown[]) => Buffer.from(`batch of ${spans.length}`);

describe('grpcSpanSender', () => {
  it('sends each batch as one unary Export call on one kept connection', async () => {
    const c = await collector(ok);
    const sender = grpcSpanSender(c.url, encode);
    closers.push(sender.close);
    await sender.send([{} as never, {} as never]);
    await sender.send([{} as never]);
    expect(c.calls.map((call) => call.message)).toEqual(['batch of 2', 'batch of 1']);
    expect(c.calls[0]!.headers).toMatchObject({
      ':method': 'POST',
      ':path': '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    expect(c.sessions()).toBe(1);
  });

  it('rejects a call the collector refused, in the trailers or trailers-only, or with an HTTP status', async () => {
    let n = 0;
    const c = await collector((stream) => {
      n++;
      if (n === 1) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () =>
          stream.sendTrailers({ 'grpc-status': '14', 'grpc-message': 'no%20room' }),
        );
        stream.end();
      } else if (n === 2) {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' },
          { endStream: true },
        );
      } else {
        stream.respond({ ':status': 404 }, { endStream: true });
      }
    });
    const sender = grpcSpanSender(c.url, encode);
    closers.push(sender.close);
    await expect(sender.send([])).rejects.toThrow(/answered grpc-status 14: no room$/);
    await expect(sender.send([])).rejects.toThrow(/answered grpc-status 12/);
    await expect(sender.send([])).rejects.toThrow(/answered HTTP 404/);
  });

  it('connects again after the connection was lost, and rejects while nothing listens', async () => {
    const c = await collector(ok);
    const sender = grpcSpanSender(c.url, encode);
    closers.push(sender.close);
    await sender.send([]);
    // The collector drops the connection.
    for (const session of serverSessions.splice(0)) session.destroy();
    await new Promise((r) => setTimeout(r, 50));
    await sender.send([]);
    expect(c.sessions()).toBe(2);

    const dead = grpcSpanSender('http://127.0.0.1:1', encode);
    closers.push(dead.close);
    await expect(dead.send([])).rejects.toThrow();
  });
});
