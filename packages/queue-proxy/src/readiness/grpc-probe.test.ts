import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import {
  drained,
  grpcSpec,
  httpServer,
  prober,
  runCleanups,
  serve,
} from '../../../../test/support/readiness-targets.js';

afterEach(runCleanups);

describe('grpcProbe', () => {
  /** A grpc.health.v1 server written on node:http2: `statuses` maps a service to its ServingStatus. */
  async function healthServer(statuses: Record<string, number>) {
    const calls: { service: string; headers: http2.IncomingHttpHeaders }[] = [];
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const message = body.subarray(5, 5 + body.readUInt32BE(1));
        // HealthCheckRequest: tag 0x0a, one-byte length, the service name.
        const service = message.length > 0 ? message.subarray(2, 2 + message[1]!).toString() : '';
        calls.push({ service, headers });
        const status = statuses[service];
        if (headers[':path'] !== '/grpc.health.v1.Health/Check' || status === undefined) {
          stream.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              'grpc-status': '5',
              'grpc-message': 'unknown',
            },
            { endStream: true },
          );
          return;
        }
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        // HealthCheckResponse { status = <status> }, after an unknown field the client must skip.
        stream.end(Buffer.from([0, 0, 0, 0, 5, 0x12, 0x01, 0x41, 0x08, status]));
      });
    });
    return { ...(await serve(server)), calls };
  }

  it('passes iff the service is SERVING', async () => {
    const { server, port, calls } = await healthServer({ '': 1, up: 1, down: 2 });
    expect(await prober([grpcSpec(port, 'up')]).check()).toBe(true);
    expect(await prober([grpcSpec(port, '')]).check()).toBe(true);
    expect(await prober([grpcSpec(port, 'down')]).check()).toBe(false);
    expect(calls.map((c) => c.service)).toEqual(['up', '', 'down']);
    expect(calls[0]!.headers).toMatchObject({
      ':method': 'POST',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'kube-probe//',
    });
    expect(await drained(server)).toBe(0);
  });

  it('fails on an unknown service', async () => {
    const { port } = await healthServer({ up: 1 });
    const failures: string[] = [];
    const p = prober([grpcSpec(port, 'missing')], { onFailure: (err) => failures.push(err.message) });
    expect(await p.check()).toBe(false);
    expect(failures[0]).toMatch(/grpc-status 5/);
  });

  it('fails against a server that does not speak HTTP/2', async () => {
    const { port } = await httpServer();
    expect(await prober([grpcSpec(port, '')]).check()).toBe(false);
  });
});
