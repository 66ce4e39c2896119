import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, rawExchange, send, socketCount } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './support/processes.js';

describe('queue-proxy proxying to the user container', () => {
  let app: UserApp;
  let qp: RunningQueueProxy;

  beforeAll(async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port, { CONTAINER_CONCURRENCY: '2' }));
  });

  it('rewrites headers as Knative does (spec §7 item 11)', async () => {
    const res = await send(`${qp.url}/echo?x=1`, {
      headers: {
        host: 'hello-00001-private.default',
        'k-original-host': 'hello.default.example.com',
        'knative-serving-revision': 'hello-00001',
        'knative-serving-namespace': 'default',
        'x-forwarded-for': '10.1.2.3, 2001:db8::1',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'hello.example.com',
        'k-proxy-request': 'activator',
        'knative-serving-tag': 'blue',
        'proxy-authorization': 'secret',
        'x-custom': 'kept',
      },
    });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body) as {
      headers: Record<string, string>;
      url: string;
      httpVersion: string;
    };
    expect(seen.url).toBe('/echo?x=1');
    expect(seen.httpVersion).toBe('1.1');
    expect(seen.headers.host).toBe('hello.default.example.com');
    expect(seen.headers['k-original-host']).toBeUndefined();
    expect(seen.headers['knative-serving-revision']).toBeUndefined();
    expect(seen.headers['knative-serving-namespace']).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('10.1.2.3, 2001:db8::1, 127.0.0.1');
    expect(seen.headers.forwarded).toBe(
      'for=10.1.2.3;host=hello.example.com;proto=https, for="[2001:db8::1]"',
    );
    expect(seen.headers['k-proxy-request']).toBe('activator');
    expect(seen.headers['knative-serving-tag']).toBe('blue');
    expect(seen.headers['x-custom']).toBe('kept');
  });

  it('keeps an existing Forwarded header and sets X-Forwarded-For when absent', async () => {
    const res = await send(`${qp.url}/echo`, { headers: { forwarded: 'for=192.0.2.60;proto=http' } });
    const seen = JSON.parse(res.body) as { headers: Record<string, string> };
    expect(seen.headers.forwarded).toBe('for=192.0.2.60;proto=http');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('drops headers named by Connection', async () => {
    // Raw bytes: HTTP clients refuse to send such a Connection header themselves.
    const reply = await rawExchange(
      qp.port,
      'GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close, X-Hop\r\nX-Hop: secret\r\nX-Kept: yes\r\n\r\n',
    );
    const seen = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as {
      headers: Record<string, string>;
    };
    expect(seen.headers['x-hop']).toBeUndefined();
    expect(seen.headers['x-kept']).toBe('yes');
  });

  it('streams request bodies without buffering and passes methods through', async () => {
    const big = 'x'.repeat(5 * 1024 * 1024);
    const res = await send(`${qp.url}/upload`, { method: 'PUT', body: big });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ bytes: big.length });
    const echoed = await send(`${qp.url}/echo`, { method: 'POST', body: 'hello body' });
    expect(JSON.parse(echoed.body)).toMatchObject({ method: 'POST', body: 'hello body' });
  });

  it('flushes each server-sent event at once', async () => {
    const start = Date.now();
    const res = await request(`${qp.url}/stream?n=3&interval=300`);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const arrivals: number[] = [];
    for await (const chunk of res.body) {
      const events = String(chunk).split('\n\n').filter(Boolean);
      for (const _ of events) arrivals.push(Date.now() - start);
    }
    expect(arrivals).toHaveLength(3);
    // The first event arrives long before the stream ends, and events arrive ~300 ms apart.
    expect(arrivals[0]!).toBeLessThan(250);
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThan(200);
    expect(arrivals[2]! - arrivals[1]!).toBeGreaterThan(200);
  });

  it('passes status codes through', async () => {
    const res = await send(`${qp.url}/status?code=418`);
    expect(res.status).toBe(418);
    expect(res.body).toBe('status 418');
  });

  it('answers 502 with a short text body when the app resets the connection', async () => {
    const res = await send(`${qp.url}/reset`);
    expect(res.status).toBe(502);
    expect(res.body).toMatch(/upstream/);
    expect(
      await eventually(() => qp.proc.logs().some((l) => l.msg === 'error reverse proxying request')),
    ).toBe(true);
  });

  it('cancels the upstream request and frees its slot when the client goes away', async () => {
    const before = socketCount(qp.proc.child.pid!);
    const controller = new AbortController();
    const pending = send(`${qp.url}/hang`, { signal: controller.signal }).catch((e: Error) => e);
    expect(await eventually(async () => (await app.stats()).current === 1)).toBe(true);
    controller.abort();
    await pending;
    // The app sees its request end, and the queue-proxy holds no extra socket.
    expect(await eventually(async () => (await app.stats()).current === 0)).toBe(true);
    expect(await eventually(() => socketCount(qp.proc.child.pid!) <= before)).toBe(true);
    // Both slots (CC=2) are free again.
    const [a, b] = await Promise.all([send(`${qp.url}/delay?ms=50`), send(`${qp.url}/delay?ms=50`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
  });
});

describe('queue-proxy with the user container down', () => {
  it('answers 502 when the app refuses connections', async () => {
    const app = await startUserApp();
    const port = app.port;
    await app.proc.kill();
    const qp = await startQueueProxy(queueProxyEnv(port));
    try {
      const res = await send(`${qp.url}/`);
      expect(res.status).toBe(502);
      expect(res.body.length).toBeLessThan(100);
    } finally {
      await qp.proc.kill();
    }
  });
});
