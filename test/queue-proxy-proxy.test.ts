import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('rewrites headers as Knative does (docs/wire.md §2.1)', async () => {
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

  it('passes large request bodies and methods through', async () => {
    const big = 'x'.repeat(5 * 1024 * 1024);
    const res = await send(`${qp.url}/upload`, { method: 'PUT', body: big });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ bytes: big.length });
    const echoed = await send(`${qp.url}/echo`, { method: 'POST', body: 'hello body' });
    expect(JSON.parse(echoed.body)).toMatchObject({ method: 'POST', body: 'hello body' });
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

/** A promise the test opens by hand: one side of an exchange waits on it while the other holds back. */
class Gate {
  opened = false;
  readonly promise: Promise<void>;
  private resolve!: () => void;

  constructor() {
    this.promise = new Promise((r) => {
      this.resolve = r;
    });
  }

  open(): void {
    this.opened = true;
    this.resolve();
  }
}

/**
 * How long a lockstep exchange may stall before the test gives up. One side waits for a part that
 * only an unbuffered relay delivers, so a buffering proxy deadlocks; this turns the deadlock into a
 * failure naming the part that never arrived. It bounds a deadlock, not a latency.
 */
const STALL_MS = 10_000;

async function unlessStalled<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stalled: ${what}`)), STALL_MS);
  });
  try {
    return await Promise.race([work, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

describe('queue-proxy streaming bodies between the client and an app the test drives', () => {
  // The first part is small, so a proxy holding bytes back until some buffer fills stalls too.
  const FIRST = 'first part\n';
  const REST = 'the rest, sent only once the other side has the first part\n'.repeat(1000);
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  let server: Server;
  let qp: RunningQueueProxy;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const route = routes.get(new URL(req.url ?? '/', 'http://app').pathname);
      if (route) return route(req, res);
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    qp = await startQueueProxy(
      queueProxyEnv((server.address() as AddressInfo).port, { CONTAINER_CONCURRENCY: '2' }),
    );
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('streams a request body to the app while the client still holds back the rest', async () => {
    const appHasFirst = new Gate();
    let appHadAtGate = '';
    routes.set('/upload', (req, res) => {
      let received = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        received += chunk;
        if (!appHasFirst.opened && received.length >= FIRST.length) {
          appHadAtGate = received;
          appHasFirst.open();
        }
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(received);
      });
    });
    async function* body() {
      yield FIRST;
      // The rest is sent only after the app has read the first part through the proxy.
      await appHasFirst.promise;
      yield REST;
    }
    const res = await unlessStalled(
      'the app never got the first part of the request body',
      request(`${qp.url}/upload`, { method: 'PUT', body: Readable.from(body()) }),
    );
    expect(res.statusCode).toBe(200);
    expect(appHadAtGate).toBe(FIRST);
    expect(await res.body.text()).toBe(FIRST + REST);
  });

  it('streams a response body to the client while the app still holds back the rest', async () => {
    const clientHasFirst = new Gate();
    routes.set('/download', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(FIRST);
      // The rest is written only after the client has read the first part through the proxy.
      void clientHasFirst.promise.then(() => res.end(REST));
    });
    const res = await unlessStalled('no response head', request(`${qp.url}/download`));
    expect(res.statusCode).toBe(200);
    let received = '';
    let clientHadAtGate = '';
    await unlessStalled(
      'the client never got the first part of the response body',
      (async () => {
        for await (const chunk of res.body) {
          received += String(chunk);
          if (!clientHasFirst.opened && received.length >= FIRST.length) {
            clientHadAtGate = received;
            clientHasFirst.open();
          }
        }
      })(),
    );
    expect(clientHadAtGate).toBe(FIRST);
    expect(received).toBe(FIRST + REST);
  });

  it('flushes each server-sent event at once', async () => {
    const EVENTS = 3;
    const clientHas = Array.from({ length: EVENTS }, () => new Gate());
    routes.set('/events', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      void (async () => {
        for (let i = 0; i < EVENTS; i++) {
          res.write(`data: ${i}\n\n`);
          // The next event is written only once the client has this one.
          await clientHas[i]?.promise;
        }
        res.end();
      })();
    });
    const res = await unlessStalled('no response head', request(`${qp.url}/events`));
    expect(res.headers['content-type']).toBe('text/event-stream');
    const events: string[] = [];
    const heldBack: boolean[] = [];
    let text = '';
    await unlessStalled(
      'an event was held back by the proxy',
      (async () => {
        for await (const chunk of res.body) {
          text += String(chunk);
          const complete = text.split('\n\n');
          text = complete.pop() ?? '';
          for (const event of complete) {
            // Each event arrives while the app still holds back the next one.
            heldBack.push(clientHas.filter((g) => g.opened).length === events.length);
            events.push(event);
            clientHas[events.length - 1]?.open();
          }
        }
      })(),
    );
    expect(events).toEqual(['data: 0', 'data: 1', 'data: 2']);
    expect(heldBack).toEqual([true, true, true]);
    expect(text).toBe('');
  });
});

describe('queue-proxy when a kept-alive connection to the app dies', () => {
  it('sends a GET without body once more on a fresh connection; a POST gets 502', async () => {
    // Each connection answers its first request and drops the second unanswered, as an app dying (or
    // closing an idle connection) as the request arrives does.
    const app = createServer((req, res) => {
      const socket = req.socket as typeof req.socket & { served?: number };
      socket.served = (socket.served ?? 0) + 1;
      if (socket.served > 1) {
        socket.destroy();
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const qp = await startQueueProxy(
      queueProxyEnv((app.address() as AddressInfo).port, { CONTAINER_CONCURRENCY: '1' }),
    );
    try {
      expect((await send(`${qp.url}/`)).status).toBe(200);
      // The same pooled connection: dropped, then sent again on a new one, which answers.
      const again = await send(`${qp.url}/`);
      expect(again.status).toBe(200);
      expect(again.body).toBe('ok');
      // A POST with a body may have been acted on: it is not sent twice.
      const post = await send(`${qp.url}/`, { method: 'POST', body: 'x' });
      expect(post.status).toBe(502);
    } finally {
      await qp.proc.kill();
      app.closeAllConnections();
      await new Promise((r) => app.close(r));
    }
  });
});

describe('queue-proxy in front of an app whose handler is not ready yet', () => {
  it('sends a GET without body again every 20 ms until the starting app first answers, then paces resends; a POST gets 502', async () => {
    // The app resets every connection it accepts, before any byte, until `readyAt`: its port opened
    // before its handler was ready. 2.5 s is past the 1.5 s of paced resends a running app gets.
    let readyAt = Number.POSITIVE_INFINITY;
    let resets = 0;
    const app = createServer((req, res) => {
      if (Date.now() < readyAt) {
        resets++;
        req.socket.resetAndDestroy();
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const port = (app.address() as AddressInfo).port;
    try {
      for (const relay of ['true', 'false']) {
        const qp = await startQueueProxy(
          queueProxyEnv(port, { SERVING_READINESS_PROBE: '', QUEUE_HTTP1_RELAY: relay }),
        );
        try {
          readyAt = Date.now() + 2500;
          const before = resets;
          const res = await send(`${qp.url}/`);
          const late = Date.now() - readyAt;
          expect(res.status, `relay ${relay}`).toBe(200);
          expect(res.body).toBe('ok');
          // Sent every 20 ms meanwhile, and answered soon after the handler was: not 750 ms later.
          expect(resets - before).toBeGreaterThanOrEqual(20);
          expect(late).toBeLessThan(500);
          // The app has answered: a later break is a running app's, with 1.5 s of paced resends.
          readyAt = Date.now() + 2500;
          expect((await send(`${qp.url}/`)).status, `relay ${relay}`).toBe(502);
          readyAt = Date.now() + 400;
          expect((await send(`${qp.url}/`)).status, `relay ${relay}`).toBe(200);
          readyAt = Date.now() + 400;
          const post = await send(`${qp.url}/`, { method: 'POST', body: 'x' });
          expect(post.status, `relay ${relay}`).toBe(502);
        } finally {
          await qp.proc.kill();
        }
      }
    } finally {
      app.closeAllConnections();
      await new Promise((r) => app.close(r));
    }
  }, 30_000);
});

describe('queue-proxy with the user container down', () => {
  it('answers 503 with Retry-After and K-Request-Not-Sent when the app refuses connections', async () => {
    const app = await startUserApp();
    const port = app.port;
    await app.proc.kill();
    const qp = await startQueueProxy(queueProxyEnv(port));
    try {
      const res = await send(`${qp.url}/`);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.headers['k-request-not-sent']).toBe('app-refused');
      expect(res.body).toBe('request not sent: the app refused the connection\n');
    } finally {
      await qp.proc.kill();
    }
  });
});
