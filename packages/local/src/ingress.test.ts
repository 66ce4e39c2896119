import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { createAgent, H2cDispatcherPool, TunnelSet } from '@zerogate/core';
import { pino } from 'pino';
import { type Dispatcher, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { RevisionConfig } from './config.js';
import { Ingress } from './ingress.js';
import type { Pod, PodSettings } from './pod.js';
import { RevisionPods } from './revision-pods.js';
import { Routes } from './routes.js';

const HOST = 'app.default.localhost';

/** One upstream attempt the ingress made: where to, and whether it was its probe of the activator. */
interface Attempt {
  readonly origin: string;
  readonly probe: boolean;
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function listen(server: Server, port = 0): Promise<number> {
  server.listen(port, '127.0.0.1');
  return once(server, 'listening').then(() => (server.address() as AddressInfo).port);
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A stand-in for the activator (or a Pod's queue-proxy): answers its probe with `200 activator` and
 * every other request with `name`, or with `onRequest` when given.
 */
async function upstream(
  name: string,
  port = 0,
  onRequest?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number; received: number }> {
  const state = { server: undefined as unknown as Server, port: 0, received: 0 };
  state.server = createServer((req, res) => {
    if (req.headers['k-network-probe'] === 'activator') {
      res.end('activator');
      return;
    }
    state.received++;
    if (onRequest) onRequest(req, res);
    else res.end(name);
  });
  state.port = await listen(state.server, port);
  closers.push(() => closeServer(state.server));
  return state;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

async function startIngress(activatorPort: number, timeoutSeconds = 300) {
  const config = {
    namespace: 'default',
    service: 'app',
    name: 'app-00001',
    timeoutSeconds,
    traffic: 100,
    tag: undefined,
  } as unknown as RevisionConfig;
  const revision = new RevisionPods(config, {} as PodSettings, { changed: () => {}, podFailed: () => {} });
  const attempts: Attempt[] = [];
  const agent = createAgent({ connections: null, pipelining: 1 });
  const dispatcher = agent.compose(
    (dispatch) => (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => {
      const headers = options.headers as Record<string, string> | string[] | undefined;
      const probe = !Array.isArray(headers) && headers?.['k-network-probe'] === 'activator';
      attempts.push({ origin: String(options.origin), probe });
      return dispatch(options, handler);
    },
  );
  const h2c = new H2cDispatcherPool({ idleTimeoutMs: 1000 });
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ base: null }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const ingress = new Ingress({
    routes: new Routes([{ namespace: 'default', name: 'app', revisions: [revision] }]),
    activatorAddress: () => `127.0.0.1:${activatorPort}`,
    dispatcher,
    h2c,
    logger,
    tunnels: new TunnelSet(),
    local: () => false,
  });
  const server = createServer(ingress.handle);
  server.on('upgrade', ingress.upgrade);
  const port = await listen(server);
  const client = createAgent({ connections: 64 });
  closers.push(async () => {
    ingress.close();
    await closeServer(server);
    await Promise.all([client.close(), agent.close(), h2c.close()]);
  });
  const get = async (method: 'GET' | 'POST' = 'GET') => {
    const res = await request(`http://127.0.0.1:${port}/`, {
      method,
      headers: { host: HOST },
      body: method === 'POST' ? 'payload' : undefined,
      dispatcher: client,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    return { status: res.statusCode, body: await res.body.text() };
  };
  const toActivator = () =>
    attempts.filter((a) => !a.probe && a.origin === `http://127.0.0.1:${activatorPort}`).length;
  return { ingress, revision, get, toActivator, lines, port };
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ingress while the activator is unreachable', () => {
  it('holds requests the activator refused, sends none to it again until it answers, then completes them', async () => {
    const activatorPort = await closedPort();
    const { ingress, get, toActivator, lines } = await startIngress(activatorPort);
    const first = get();
    await until(() => ingress.heldCount === 1);
    expect(toActivator()).toBe(1);
    // Arriving while it is down: held without an attempt.
    const more = [get(), get(), get(), get()];
    await until(() => ingress.heldCount === 5);
    expect(toActivator()).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(toActivator()).toBe(1);
    const activator = await upstream('via activator', activatorPort);
    const answers = await Promise.all([first, ...more]);
    expect(answers).toEqual(Array(5).fill({ status: 200, body: 'via activator' }));
    expect(activator.received).toBe(5);
    expect(toActivator()).toBe(6);
    expect(ingress.heldCount).toBe(0);
    expect(ingress.activatorReachable).toBe(true);
    const back = lines.find((l) => l.msg === 'activator answers again; sending the requests held for it');
    expect(back).toMatchObject({ refused: 1, held: 5 });
    expect(
      lines.filter((l) => l.msg === 'activator unreachable; holding its requests until it answers again'),
    ).toHaveLength(1);
  });

  it('answers 504 when the revision timeout passes while held, marked Zerogate-Error: ingress; timeout', async () => {
    const activatorPort = await closedPort();
    const { ingress, port } = await startIngress(activatorPort, 1);
    const t0 = Date.now();
    const answer = await request(`http://127.0.0.1:${port}/`, { headers: { host: HOST }, headersTimeout: 0 });
    const res = {
      status: answer.statusCode,
      body: await answer.body.text(),
      marker: answer.headers['zerogate-error'],
    };
    expect(res).toEqual({ status: 504, body: 'request timeout', marker: 'ingress; timeout' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(ingress.heldCount).toBe(0);
  });

  it('sends a held request to a ready Pod once its revision serves in Serve mode', async () => {
    const activatorPort = await closedPort();
    const { ingress, revision, get, toActivator } = await startIngress(activatorPort);
    const pending = get();
    await until(() => ingress.heldCount === 1);
    const pod = await upstream('via pod');
    revision.pods.push({ phase: 'ready', servingAddress: `127.0.0.1:${pod.port}` } as unknown as Pod);
    revision.mode = 'Serve';
    expect(await pending).toEqual({ status: 200, body: 'via pod' });
    expect(toActivator()).toBe(1);
  });

  it('answers 502 for a request the activator accepted and lost, and does not send it again', async () => {
    const activator = await upstream('unused', 0, (req) => req.socket.destroy());
    const { get, toActivator, ingress } = await startIngress(activator.port);
    const res = await get();
    expect(res.status).toBe(502);
    expect(activator.received).toBe(1);
    expect(toActivator()).toBe(1);
    expect(ingress.activatorReachable).toBe(true);
  });

  it('marks its own 502 with Zerogate-Error: ingress; upstream-failed', async () => {
    const activator = await upstream('unused', 0, (req) => req.socket.destroy());
    const { port } = await startIngress(activator.port);
    const agent = createAgent({ connections: 1 });
    try {
      const res = await request(`http://127.0.0.1:${port}/`, { headers: { host: HOST }, dispatcher: agent });
      await res.body.text();
      expect(res.statusCode).toBe(502);
      expect(res.headers['zerogate-error']).toBe('ingress; upstream-failed');
    } finally {
      await agent.close();
    }
  });

  it('sends a GET again, once the activator is back, when its connection broke because the activator died', async () => {
    const dying = await upstream('unused', 0, () => void closeServer(dying.server));
    const { ingress, get, toActivator } = await startIngress(dying.port);
    const pending = get();
    await until(() => !ingress.activatorReachable);
    expect(ingress.heldCount).toBe(1);
    const activator = await upstream('via activator', dying.port);
    expect(await pending).toEqual({ status: 200, body: 'via activator' });
    expect(dying.received + activator.received).toBe(2);
    expect(toActivator()).toBe(2);
  });

  it('answers 502 for a POST whose connection broke as the activator died: it may have been accepted', async () => {
    const dying = await upstream('unused', 0, () => void closeServer(dying.server));
    const { get, toActivator } = await startIngress(dying.port);
    expect((await get('POST')).status).toBe(502);
    expect(toActivator()).toBe(1);
  });
});

/** Sends a websocket upgrade to the ingress on a raw socket; `answer` is what came back so far. */
function sendUpgrade(port: number): { answer: () => string } {
  const socket = connect(port, '127.0.0.1');
  closers.push(async () => void socket.destroy());
  let answer = '';
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1');
  });
  socket.write(`GET /ws HTTP/1.1\r\nhost: ${HOST}\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n`);
  return { answer: () => answer };
}

describe('websockets while the activator is unreachable', () => {
  it('holds an upgrade for the activator and tunnels it once the activator answers again', async () => {
    const activatorPort = await closedPort();
    const { ingress, get, port } = await startIngress(activatorPort);
    const refused = get();
    await until(() => !ingress.activatorReachable);
    const upgrade = sendUpgrade(port);
    await until(() => ingress.heldCount === 2);
    const activator = await upstream('via activator', activatorPort);
    activator.server.on('upgrade', (_req, s: Socket) => {
      s.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
    });
    await until(() => upgrade.answer().includes('\r\n\r\n'));
    expect(upgrade.answer()).toMatch(/^HTTP\/1\.1 101 /);
    expect(await refused).toEqual({ status: 200, body: 'via activator' });
  });

  it('answers an upgrade whose activator reset it 502, marked Zerogate-Error: ingress; upstream-failed', async () => {
    const activator = await upstream('unused');
    activator.server.on('upgrade', (_req, s: Socket) => s.resetAndDestroy());
    const { port } = await startIngress(activator.port);
    const upgrade = sendUpgrade(port);
    await until(() => upgrade.answer().includes('\r\n\r\n'));
    expect(upgrade.answer()).toMatch(/^HTTP\/1\.1 502 /);
    expect(upgrade.answer()).toMatch(/\r\nzerogate-error: ingress; upstream-failed\r\n/i);
  });
});

describe('ingress warnings', () => {
  it('writes at most 5 "no route for host" lines for 200 requests to an unknown Host', async () => {
    const { lines, port } = await startIngress(await closedPort());
    const client = createAgent({ connections: 4 });
    closers.push(() => client.close());
    for (let i = 0; i < 200; i++) {
      const res = await request(`http://127.0.0.1:${port}/`, {
        headers: { host: 'nope.default.localhost' },
        dispatcher: client,
      });
      await res.body.text();
      expect(res.statusCode).toBe(404);
    }
    expect(lines.filter((l) => l.msg === 'no route for host')).toHaveLength(5);
  });

  it('answers an unknown Host 404 naming it, the same with or without an upgrade', async () => {
    const { port } = await startIngress(await closedPort());
    const res = await request(`http://127.0.0.1:${port}/`, { headers: { host: 'nope.default.localhost' } });
    expect(res.statusCode).toBe(404);
    expect(await res.body.text()).toBe('no service answers to host "nope.default.localhost"\n');
    const socket = connect(port, '127.0.0.1');
    closers.push(async () => socket.destroy());
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      answer += chunk;
    });
    const ended = once(socket, 'end');
    socket.write(
      'GET /ws HTTP/1.1\r\nhost: nope.default.localhost\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n',
    );
    await ended;
    expect(answer).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(answer).toMatch(
      /\r\nConnection: close\r\n\r\nno service answers to host "nope\.default\.localhost"\n$/,
    );
  });
});

/**
 * A stand-in for a Pod's queue-proxy: answers the kubelet-style probe with `ready` (200 or 503) and
 * every other request with `onRequest`; counts the requests (probes apart).
 */
async function fakePod(onRequest: (req: IncomingMessage, res: ServerResponse) => void) {
  const pod = { port: 0, received: 0, probes: 0, ready: false, server: undefined as unknown as Server };
  pod.server = createServer((req, res) => {
    if (req.headers['k-network-probe'] === 'queue') {
      pod.probes++;
      res.statusCode = pod.ready ? 200 : 503;
      res.end(pod.ready ? 'queue' : '');
      return;
    }
    pod.received++;
    onRequest(req, res);
  });
  pod.port = await listen(pod.server);
  closers.push(() => closeServer(pod.server));
  return pod;
}

/** The answer of a queue-proxy whose app refused the connection (`K-Request-Not-Sent`). */
function notSent(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { 'retry-after': '1', 'k-request-not-sent': 'app-refused', 'content-length': 5 });
  res.end('nope\n');
}

function serve(revision: RevisionPods, ...ports: number[]): void {
  for (const port of ports)
    revision.pods.push({ phase: 'ready', servingAddress: `127.0.0.1:${port}` } as unknown as Pod);
  revision.mode = 'Serve';
}

describe('ingress in Serve mode: a request that never reached a Pod', () => {
  it('sends a request refused at connect to another ready Pod, and leaves the refusing Pod out', async () => {
    const { revision, get, toActivator, lines } = await startIngress(await closedPort());
    const good = await fakePod((_req, res) => res.end('good'));
    const refusing = await closedPort();
    serve(revision, refusing, good.port);
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await get(i % 2 ? 'POST' : 'GET'));
    expect(answers).toEqual(Array(6).fill({ status: 200, body: 'good' }));
    expect(good.received).toBe(6);
    expect(toActivator()).toBe(0);
    expect(lines.filter((l) => l.msg === 'pod unreachable; left out until it passes a probe')).toHaveLength(
      1,
    );
  });

  it('sends a GET answered `K-Request-Not-Sent` to another Pod, and uses the marking Pod again once it passes a probe', async () => {
    const { ingress, revision, get, toActivator } = await startIngress(await closedPort());
    const good = await fakePod((_req, res) => res.end('good'));
    const refusing = await fakePod(notSent);
    serve(revision, refusing.port, good.port);
    for (let i = 0; i < 4; i++) expect(await get()).toEqual({ status: 200, body: 'good' });
    expect(refusing.received).toBe(1);
    expect(ingress.isFailing(`127.0.0.1:${refusing.port}`)).toBe(true);
    await until(() => refusing.probes >= 2);
    expect(ingress.isFailing(`127.0.0.1:${refusing.port}`)).toBe(true);
    refusing.ready = true;
    await until(() => !ingress.isFailing(`127.0.0.1:${refusing.port}`));
    expect(toActivator()).toBe(0);
  });

  it('relays a `K-Request-Not-Sent` answer to a request whose body was already sent, without the marker', async () => {
    const { revision, get } = await startIngress(await closedPort());
    const refusing = await fakePod((req, res) => {
      req.resume();
      req.on('end', () => notSent(req, res));
    });
    serve(revision, refusing.port);
    expect(await get('POST')).toEqual({ status: 503, body: 'nope\n' });
    expect(refusing.received).toBe(1);
  });

  it('sends a GET once more when its connection to a Pod broke before any answer', async () => {
    const { revision, get } = await startIngress(await closedPort());
    const good = await fakePod((_req, res) => res.end('good'));
    const breaking = await fakePod((req) => req.socket.destroy());
    serve(revision, breaking.port, good.port);
    expect(await get()).toEqual({ status: 200, body: 'good' });
    expect(breaking.received).toBe(1);
  });

  it('answers 502 to a POST whose connection to a Pod broke before any answer: the app may have it', async () => {
    const { revision, get } = await startIngress(await closedPort());
    const good = await fakePod((_req, res) => res.end('good'));
    const breaking = await fakePod((req) => req.socket.destroy());
    serve(revision, breaking.port, good.port);
    expect((await get('POST')).status).toBe(502);
    expect(breaking.received).toBe(1);
    expect(good.received).toBe(0);
  });
});
