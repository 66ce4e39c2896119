import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createH2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createLogger, ERRORS } from '@zerogate/core';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type AttachOptions, attach, type InProcess } from './attach.js';

const logger = createLogger({ level: 'silent', base: {} });
const running: { server: Server | Http2Server; attached: InProcess }[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  for (const { server, attached } of running.splice(0)) {
    (server as Server).closeAllConnections?.();
    await attached.shutdown();
  }
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

/** Starts `handler` on 127.0.0.1:0 with the contract attached; side listeners on free ports, no signals. */
async function start(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: AttachOptions = {},
): Promise<{ url: string; attached: InProcess }> {
  const server = createServer(handler);
  const attached = await attach(server, {
    env: {},
    logger,
    adminPort: 0,
    statsPort: 0,
    metricsPort: 0,
    drainQuietMs: 0,
    handleSignals: false,
    ...options,
  });
  running.push({ server, attached });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, attached };
}

/** One keep-alive connection, so a test can check the connection outlived an answer. */
function oneConnection(): Agent {
  const agent = new Agent({ connections: 1 });
  agents.push(agent);
  return agent;
}

async function get(url: string, options: { headers?: Record<string, string>; dispatcher?: Agent } = {}) {
  const res = await request(url, { ...options, headersTimeout: 0, bodyTimeout: 0 });
  let body = '';
  let error: Error | undefined;
  try {
    for await (const chunk of res.body) body += String(chunk);
  } catch (err) {
    error = err as Error;
  }
  return { status: res.statusCode, headers: res.headers, body, error };
}

function hello(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello');
}

describe('attach', () => {
  it('refuses a server with no request listener yet, naming what to do', async () => {
    await expect(attach(createServer(), { env: {}, logger, handleSignals: false })).rejects.toThrow(
      /no request listener yet/,
    );
  });

  it('throws a ConfigError naming the variable before it takes the server over', async () => {
    const server = createServer((_req, res) => hello(res));
    await expect(attach(server, { env: { CONTAINER_CONCURRENCY: 'x' }, logger })).rejects.toThrow(
      /CONTAINER_CONCURRENCY: must be an integer/,
    );
    expect(server.listenerCount('request')).toBe(1);
  });

  it('answers probes itself and hands other requests to the app', async () => {
    let seen = 0;
    const { url } = await start((_req, res) => {
      seen++;
      hello(res);
    });
    const probe = await get(`${url}/x`, {
      headers: { 'user-agent': 'kube-probe/1.30', 'k-network-probe': 'queue' },
    });
    expect([probe.status, probe.body]).toEqual([200, 'queue']);
    expect(seen).toBe(0);
    expect((await get(`${url}/`)).body).toBe('hello');
    expect(seen).toBe(1);
  });

  it("asks the app's readiness check: false answers an empty 503, a throw 500, both marked as the queue-proxy's", async () => {
    let ready: boolean | Error = false;
    const { url } = await start((_req, res) => hello(res), {
      ready: async () => {
        if (ready instanceof Error) throw ready;
        return ready;
      },
    });
    const headers = { 'user-agent': 'Knative-Activator-Probe', 'k-network-probe': 'queue' };
    expect(await get(url, { headers })).toMatchObject({
      status: 503,
      body: '',
      headers: { 'zerogate-error': 'queue-proxy; not-ready' },
    });
    ready = true;
    expect(await get(url, { headers })).toMatchObject({ status: 200, body: 'queue' });
    ready = new Error('database down');
    expect(await get(url, { headers })).toMatchObject({
      status: 500,
      body: ERRORS.INTERNAL.body,
      headers: { 'zerogate-error': 'queue-proxy; internal' },
    });
  });

  it('answers 504 for an app that wrote nothing in time, drops its late writes and keeps the connection', async () => {
    let lateWriteDone: () => void = () => {};
    const lateWrite = new Promise<void>((resolve) => {
      lateWriteDone = resolve;
    });
    const { url } = await start(
      (req, res) => {
        if (req.url !== '/slow') return hello(res);
        setTimeout(() => {
          // What a framework does when its handler finally answers: none of it may throw.
          res.setHeader('x-late', '1');
          res.writeHead(200);
          res.write('late');
          res.end('late', () => lateWriteDone());
        }, 300);
      },
      { responseStartTimeoutMs: 100 },
    );
    const dispatcher = oneConnection();
    const timedOut = await get(`${url}/slow`, { dispatcher });
    expect([timedOut.status, timedOut.body]).toEqual([504, 'request timeout']);
    expect(timedOut.headers['zerogate-error']).toBe('queue-proxy; timeout');
    await lateWrite;
    const next = await get(`${url}/`, { dispatcher });
    expect([next.status, next.body]).toEqual([200, 'hello']);
  });

  it('ends a started chunked response with the timeout text at the revision timeout', async () => {
    const { url } = await start(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial ');
      },
      { revisionTimeoutMs: 200 },
    );
    const res = await get(url);
    expect(res.status).toBe(200);
    expect(res.body).toBe('partial request timeout');
  });

  it('closes the connection of a response idle past the idle timeout, not of one that keeps writing', async () => {
    const { url } = await start(
      (req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('a');
        if (req.url === '/stall') return;
        let n = 0;
        const tick = setInterval(() => {
          res.write('a');
          if (++n === 6) {
            clearInterval(tick);
            res.end();
          }
        }, 60);
      },
      { idleTimeoutMs: 200 },
    );
    const stalled = await get(`${url}/stall`);
    expect(stalled.error).toBeDefined();
    const steady = await get(`${url}/steady`);
    expect(steady.error).toBeUndefined();
    expect(steady.body).toBe('aaaaaaa');
  });

  it('lets K-Kubelet-Probe requests past a full breaker, outside the stats', async () => {
    const held: ServerResponse[] = [];
    const { url } = await start(
      (req, res) => {
        if (req.url === '/hold') held.push(res);
        else hello(res);
      },
      { containerConcurrency: 1 },
    );
    const holding = get(`${url}/hold`);
    await expectEventually(() => held.length === 1);
    const probe = await get(`${url}/health`, { headers: { 'k-kubelet-probe': 'queue' } });
    expect(probe.body).toBe('hello');
    hello(held[0]!);
    expect((await holding).status).toBe(200);
  });

  it("answers 503 queue-full past the breaker's queue, marked as the queue-proxy's; an app's own 503 is not marked", async () => {
    const held: ServerResponse[] = [];
    const { url, attached } = await start(
      (req, res) => {
        if (req.url === '/hold') held.push(res);
        else if (req.url === '/fail') {
          res.writeHead(503);
          res.end('app down');
        } else hello(res);
      },
      { containerConcurrency: 1, requestMetrics: true },
    );
    const app = await get(`${url}/fail`);
    expect([app.status, app.body, app.headers['zerogate-error']]).toEqual([503, 'app down', undefined]);
    const depth = async () => {
      const text = await (await fetch(`http://127.0.0.1:${attached.ports.metrics}/metrics`)).text();
      return Number(/kn_serving_queue_depth\{[^}]*\} (\d+)\n/.exec(text)?.[1]);
    };
    // One running and ten (10 × containerConcurrency) waiting fill it.
    const dispatcher = new Agent({ connections: 16 });
    agents.push(dispatcher);
    const filling = Array.from({ length: 11 }, () => get(`${url}/hold`, { dispatcher }));
    await expectEventuallyAsync(async () => (await depth()) === 11);
    expect(await get(`${url}/more`, { dispatcher })).toMatchObject({
      status: 503,
      body: ERRORS.QUEUE_FULL.body,
      headers: { 'zerogate-error': 'queue-proxy; queue-full' },
    });
    for (let i = 0; i < 11; i++) {
      await expectEventually(() => held.length > 0);
      hello(held.shift()!);
    }
    expect((await Promise.all(filling)).map((r) => r.status)).toEqual(Array(11).fill(200));
  });

  for (const serverTiming of [true, false]) {
    it(`tells a request that waited for a slot how long in Server-Timing: queue;dur=, unless off (serverTiming ${serverTiming})`, async () => {
      const held: ServerResponse[] = [];
      const { url, attached } = await start(
        (req, res) => {
          if (req.url === '/hold') held.push(res);
          else if (req.url === '/own') {
            res.setHeader('server-timing', 'app;dur=5');
            hello(res);
          } else hello(res);
        },
        { containerConcurrency: 1, requestMetrics: true, serverTiming },
      );
      const timing = (r: Awaited<ReturnType<typeof get>>) => r.headers['server-timing'];
      // Admitted at once: none.
      expect(timing(await get(`${url}/`))).toBeUndefined();
      const holding = get(`${url}/hold`);
      await expectEventually(() => held.length === 1);
      const waiting = get(`${url}/after`);
      const waitingOwn = get(`${url}/own`);
      const metrics = `http://127.0.0.1:${attached.ports.metrics}/metrics`;
      await expectEventuallyAsync(async () =>
        /kn_serving_queue_depth\{[^}]*\} 3\n/.test(await (await fetch(metrics)).text()),
      );
      hello(held[0]!);
      await holding;
      const [waited, own] = await Promise.all([waiting, waitingOwn]);
      expect(waited.status).toBe(200);
      if (serverTiming) expect(timing(waited)).toMatch(/^queue;dur=\d+(\.\d{1,3})?$/);
      else expect(timing(waited)).toBeUndefined();
      // The app's own Server-Timing replaces it.
      expect(timing(own)).toBe('app;dur=5');
    });
  }

  it('frees the place of a client that left while waiting for a slot', async () => {
    const held: ServerResponse[] = [];
    let ran = 0;
    const { url, attached } = await start(
      (req, res) => {
        ran++;
        if (req.url === '/hold') held.push(res);
        else hello(res);
      },
      { containerConcurrency: 1, requestMetrics: true },
    );
    const depth = async () => {
      const text = await (await fetch(`http://127.0.0.1:${attached.ports.metrics}/metrics`)).text();
      return Number(/kn_serving_queue_depth\{[^}]*\} (\d+)\n/.exec(text)?.[1]);
    };
    const holding = get(`${url}/hold`);
    await expectEventually(() => held.length === 1);
    const gone = new AbortController();
    const waiting = request(`${url}/queued`, { signal: gone.signal }).catch(() => 'aborted');
    await expectEventuallyAsync(async () => (await depth()) === 2);
    gone.abort();
    expect(await waiting).toBe('aborted');
    await expectEventuallyAsync(async () => (await depth()) === 1);
    hello(held[0]!);
    await holding;
    expect((await get(`${url}/after`)).body).toBe('hello');
    // The abandoned request never reached the app.
    expect(ran).toBe(2);
  });

  it('records each counted request in the request metrics by status, 499 for a client that left', async () => {
    const held: ServerResponse[] = [];
    const { url, attached } = await start(
      (req, res) => {
        if (req.url === '/hold') held.push(res);
        else hello(res);
      },
      { requestMetrics: true, containerName: 'app' },
    );
    const metrics = async () => (await fetch(`http://127.0.0.1:${attached.ports.metrics}/metrics`)).text();
    await get(`${url}/`);
    const gone = new AbortController();
    const leaving = request(`${url}/hold`, { signal: gone.signal }).catch(() => 'aborted');
    await expectEventually(() => held.length === 1);
    gone.abort();
    await leaving;
    await expectEventuallyAsync(async () => /status_code="499"[^}]*\} 1\n/.test(await metrics()));
    const text = await metrics();
    expect(text).toMatch(/kn_serving_invocation_duration_seconds_count\{[^}]*status_code="200"[^}]*\} 1\n/);
    expect(text).toMatch(/k8s_container_name="app"/);
  });

  it('takes Knative ≤ 1.18’s metric names in that era, timing the app from when it is called', async () => {
    const { url, attached } = await start((_req, res) => hello(res), {
      requestMetrics: true,
      metricNames: 'opencensus',
      containerName: 'app',
    });
    await get(`${url}/`);
    const text = await (await fetch(`http://127.0.0.1:${attached.ports.metrics}/metrics`)).text();
    expect(text).toMatch(/revision_request_count\{[^}]*response_code="200"[^}]*container_name="app"\} 1\n/);
    expect(text).toMatch(/revision_app_request_count\{[^}]*response_code="200"[^}]*\} 1\n/);
    expect(text).not.toContain('kn_serving_');
  });

  it('shutdown: probes fail at once, requests are served until quiet, then the server closes', async () => {
    const { url, attached } = await start((_req, res) => hello(res), { drainQuietMs: 300 });
    const stopped = attached.shutdown();
    const probe = await get(url, {
      headers: { 'user-agent': 'kube-probe/1.30', 'k-network-probe': 'queue' },
    });
    expect([probe.status, probe.body]).toEqual([503, ERRORS.SHUTTING_DOWN.body]);
    expect(probe.headers['zerogate-error']).toBe('queue-proxy; shutting-down');
    expect((await get(url)).status).toBe(200);
    await stopped;
    await expect(get(url)).rejects.toThrow();
  });

  it('serves node:http2 servers the same way', async () => {
    const server = createH2Server((_req, res) => {
      res.writeHead(200);
      res.end('h2 hello');
    });
    const attached = await attach(server, {
      env: {},
      logger,
      adminPort: 0,
      statsPort: 0,
      drainQuietMs: 0,
      containerConcurrency: 1,
      handleSignals: false,
    });
    running.push({ server, attached });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const ask = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ':path': '/', ...headers });
        let body = '';
        let status = 0;
        stream.on('response', (h) => {
          status = Number(h[':status']);
        });
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => {
          body += c;
        });
        stream.on('end', () => resolve({ status, body }));
        stream.on('error', reject);
      });
    try {
      expect(await ask({})).toEqual({ status: 200, body: 'h2 hello' });
      expect(await ask({ 'user-agent': 'kube-probe/1.30', 'k-network-probe': 'queue' })).toEqual({
        status: 200,
        body: 'queue',
      });
    } finally {
      session.close();
    }
  });
});

async function expectEventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function expectEventuallyAsync(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
