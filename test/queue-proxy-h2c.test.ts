import { connect } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { type H2Reply, h2Exchange, KUBELET_PROBE, send } from './support/http.js';
import { queueProxyEnv, spawnNode, startQueueProxy, type TestProcess } from './support/processes.js';

async function startH2cApp(): Promise<{ proc: TestProcess; port: number }> {
  const proc = spawnNode('test/support/h2c-app.mjs', { PORT: '0' });
  const line = await proc.waitForLine((l) => l.startsWith('{"port"'));
  return { proc, port: (JSON.parse(line) as { port: number }).port };
}

async function h2Request(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<H2Reply> {
  const session = connect(`http://127.0.0.1:${port}`);
  try {
    return await h2Exchange(session, { ':method': body ? 'POST' : 'GET', ':path': path, ...headers }, body);
  } finally {
    session.close();
  }
}

describe('queue-proxy h2c', () => {
  it('forwards HTTP/2 (h2c) inbound as h2c, with trailers, on the same port as HTTP/1.1 (docs/queue-proxy.md §1.2, §3.3)', async () => {
    const h2app = await startH2cApp();
    const qp = await startQueueProxy(
      queueProxyEnv(h2app.port, {
        SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: h2app.port } }),
      }),
    );
    const reply = await h2Request(
      qp.port,
      '/echo?x=1',
      {
        'k-original-host': 'hello.default.example.com',
        'knative-serving-revision': 'hello-00001',
        te: 'trailers',
      },
      'ping',
    );
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body) as {
      httpVersion: string;
      method: string;
      path: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(seen.httpVersion).toBe('2.0');
    expect(seen.method).toBe('POST');
    expect(seen.path).toBe('/echo?x=1');
    expect(seen.body).toBe('ping');
    expect(seen.headers[':authority']).toBe('hello.default.example.com');
    expect(seen.headers['knative-serving-revision']).toBeUndefined();
    expect(seen.headers.te).toBe('trailers');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(reply.trailers['x-checksum']).toBe('abc123');
    // HTTP/1.1 probes on the same port.
    const probe = await send(`${qp.url}/`, { headers: KUBELET_PROBE });
    expect(probe.status).toBe(200);
  });

  it('treats each stream as one request for the breaker', async () => {
    const h2app = await startH2cApp();
    const qp = await startQueueProxy(
      queueProxyEnv(h2app.port, {
        CONTAINER_CONCURRENCY: '1',
        SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: h2app.port } }),
      }),
    );
    const t0 = Date.now();
    const replies = await Promise.all([h2Request(qp.port, '/?ms=300'), h2Request(qp.port, '/?ms=300')]);
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(590);
    const stats = JSON.parse((await h2Request(h2app.port, '/_stats')).body) as { max: number };
    expect(stats.max).toBe(1);
  });
});
