import { connect } from 'node:http2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  activatorWithAutoscaler,
  EndpointsFile,
  heldRequests,
  REVISION,
  settledFlag,
  startPod,
} from './support/activator-fixture.js';
import type { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, send, type TextResponse } from './support/http.js';
import {
  queueProxyEnv,
  type RunningActivator,
  type RunningQueueProxy,
  spawnNode,
  startQueueProxy,
  startUserApp,
  type TestProcess,
  type UserApp,
} from './support/processes.js';

let endpoints: EndpointsFile;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;
/** Processes a test started besides the activator, killed after it. */
let extra: { proc: TestProcess }[] = [];

beforeEach(() => {
  endpoints = new EndpointsFile();
});

afterEach(async () => {
  await activator?.proc.kill();
  for (const p of extra) await p.proc.kill();
  await autoscaler?.close();
  activator = autoscaler = undefined;
  extra = [];
  endpoints.remove();
});

async function start(revision: Record<string, unknown>, env: Record<string, string> = {}) {
  endpoints.write(revision);
  ({ autoscaler, activator } = await activatorWithAutoscaler(endpoints, env));
  return activator;
}

async function pod(cc = 0) {
  const p = await startPod(cc);
  extra.push(p.app, p.qp);
  return p;
}

/** A response's `Server-Timing` fields as one list of entries. */
function timings(res: { headers: Record<string, string | string[] | undefined> }): string[] {
  const value = res.headers['server-timing'];
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(', ') : value;
  return joined.split(',').map((e) => e.trim());
}

const DURATION = /^\d+(\.\d{1,3})?$/;

/** The `dur` of metric `name` in `entries`, checked to be a millisecond count with at most 3 decimals. */
function duration(entries: string[], name: string): number {
  const entry = entries.find((e) => e.startsWith(`${name};`));
  expect(entry, `${name} in ${entries.join(', ')}`).toBeDefined();
  const dur = /;dur=([^;,]+)/.exec(entry!)![1]!;
  expect(dur).toMatch(DURATION);
  return Number(dur);
}

/** An app path that answers with the given headers (and status). */
function appPath(headers: Record<string, string>, code = 200): string {
  const query = new URLSearchParams({ code: String(code) });
  for (const [name, value] of Object.entries(headers)) query.append('set', `${name}:${value}`);
  return `/headers?${query}`;
}

describe('Server-Timing on held requests (docs/activator.md §7.1)', () => {
  for (const relay of ['true', 'false']) {
    it(`a request held at zero gets hold and proxy, the app's own metrics kept once (relay ${relay})`, async () => {
      const a = await start({}, { ACTIVATOR_HTTP1_RELAY: relay });
      const own = send(`${a.url}${appPath({ 'server-timing': 'app;dur=5' })}`, { headers: REVISION });
      const named = send(`${a.url}${appPath({ 'server-timing': 'hold;desc="app"' })}`, { headers: REVISION });
      expect(await eventually(async () => (await heldRequests(a)) === 2, 10_000)).toBe(true);
      const p = await pod(0);
      endpoints.write({ endpoints: [{ address: p.address, ready: false }] });
      const [first, second] = await Promise.all([own, named]);
      expect(first.status).toBe(200);
      const entries = timings(first);
      expect(entries.filter((e) => e.startsWith('app;'))).toEqual(['app;dur=5']);
      expect(duration(entries, 'hold')).toBeGreaterThan(0);
      duration(entries, 'proxy');
      expect(entries.some((e) => e.startsWith('throttle;') || e.startsWith('queue;'))).toBe(false);
      // The app named `hold` itself: its entry stays, ours is not added; `proxy` still is.
      const secondEntries = timings(second);
      expect(secondEntries.filter((e) => e.startsWith('hold;'))).toEqual(['hold;desc="app"']);
      duration(secondEntries, 'proxy');
      // A request that was not held gets no Server-Timing of ours: the app's passes as it is.
      const warm = await send(`${a.url}${appPath({ 'server-timing': 'app;dur=5' })}`, { headers: REVISION });
      expect(timings(warm)).toEqual(['app;dur=5']);
      expect((await send(`${a.url}/`, { headers: REVISION })).headers['server-timing']).toBeUndefined();
    });
  }

  it('a request held at zero over HTTP/2 gets hold and proxy', async () => {
    const a = await start({});
    const session = connect(a.url);
    // The activator is stopped after the test: its reset must not reach the test as an error.
    session.on('error', () => {});
    try {
      const reply = new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
        const stream = session.request({ ':method': 'GET', ':path': '/', ...REVISION });
        stream.on('response', (headers) => resolve(headers));
        stream.on('error', reject);
        stream.resume();
        stream.end();
      });
      expect(await eventually(async () => (await heldRequests(a)) === 1, 10_000)).toBe(true);
      const app = spawnNode('test/support/h2c-app.mjs', { PORT: '0' });
      extra.push({ proc: app });
      const port = (JSON.parse(await app.waitForLine((l) => l.startsWith('{"port"'))) as { port: number })
        .port;
      const qp = await startQueueProxy(queueProxyEnv(port));
      extra.push(qp);
      endpoints.write({ endpoints: [{ address: `127.0.0.1:${qp.port}`, ready: true }] });
      const headers = await reply;
      expect(headers[':status']).toBe(200);
      const entries = timings({ headers });
      duration(entries, 'hold');
      duration(entries, 'proxy');
    } finally {
      session.destroy();
    }
  });

  it('is off for a revision annotated zerogate.dev/server-timing: "false"', async () => {
    const off = { annotations: { 'zerogate.dev/server-timing': 'false' } };
    const a = await start(off);
    const pending = send(`${a.url}/`, { headers: REVISION });
    expect(await eventually(async () => (await heldRequests(a)) === 1, 10_000)).toBe(true);
    const p = await pod(0);
    endpoints.write({ ...off, endpoints: [{ address: p.address, ready: false }] });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers['server-timing']).toBeUndefined();
  });

  it('exposes the cold start split into hold, probe and proxy, per revision', async () => {
    const a = await start({});
    const pending = send(`${a.url}/`, { headers: REVISION });
    expect(await eventually(async () => (await heldRequests(a)) === 1, 10_000)).toBe(true);
    const p = await pod(0);
    endpoints.write({ endpoints: [{ address: p.address, ready: false }] });
    expect((await pending).status).toBe(200);
    const text = await (await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`)).text();
    for (const phase of ['hold', 'probe', 'proxy']) {
      const count = new RegExp(
        `^kn_activator_cold_start_${phase}_seconds_count\\{[^}]*kn_revision_name="hello-00001"[^}]*\\} 1$`,
        'm',
      );
      expect(text).toMatch(count);
    }
  });
});

describe('Server-Timing for the queue-proxy breaker wait (docs/queue-proxy.md)', () => {
  let app: UserApp | undefined;
  let qp: RunningQueueProxy | undefined;

  afterEach(async () => {
    await qp?.proc.kill();
    await app?.proc.kill();
    app = qp = undefined;
  });

  for (const relay of ['true', 'false']) {
    it(`a request that waited for a slot gets queue;dur, one that did not none (relay ${relay})`, async () => {
      app = await startUserApp();
      qp = await startQueueProxy(
        queueProxyEnv(app.port, {
          CONTAINER_CONCURRENCY: '1',
          QUEUE_HTTP1_RELAY: relay,
          OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"prometheus"}}',
        }),
      );
      const url = `http://127.0.0.1:${qp.port}`;
      const slow = send(`${url}/delay?ms=1500`);
      expect(await eventually(async () => (await app!.stats()).current === 1, 10_000)).toBe(true);
      const waited = send(`${url}/`);
      const [first, second] = await Promise.all([slow, waited]);
      expect(first.headers['server-timing']).toBeUndefined();
      expect(second.status).toBe(200);
      expect(duration(timings(second), 'queue')).toBeGreaterThan(0);
      const text = await (await fetch(`http://127.0.0.1:${qp.metricsPort}/metrics`)).text();
      expect(text).toMatch(/^kn_serving_breaker_wait_seconds_count\{[^}]*\} 1$/m);
    });
  }

  it('adds none with QUEUE_SERVER_TIMING=false', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(
      queueProxyEnv(app.port, { CONTAINER_CONCURRENCY: '1', QUEUE_SERVER_TIMING: 'false' }),
    );
    const url = `http://127.0.0.1:${qp.port}`;
    const slow = send(`${url}/delay?ms=1000`);
    expect(await eventually(async () => (await app!.stats()).current === 1, 10_000)).toBe(true);
    const [, second] = await Promise.all([slow, send(`${url}/`)]);
    expect(second.status).toBe(200);
    expect(second.headers['server-timing']).toBeUndefined();
  });
});

describe('Zerogate-Error marks platform-made 5xx only (docs/wire.md §6)', () => {
  const forged = appPath({ 'zerogate-error': 'activator; overloaded' }, 503);

  for (const relay of ['true', 'false']) {
    it(`an app's 503 relayed by the activator and the queue-proxy carries none: the app's own is stripped (relay ${relay})`, async () => {
      const app = await startUserApp();
      extra.push(app);
      const qp = await startQueueProxy(queueProxyEnv(app.port, { QUEUE_HTTP1_RELAY: relay }));
      extra.push(qp);
      const p = { address: `127.0.0.1:${qp.port}` };
      const a = await start(
        { endpoints: [{ address: p.address, ready: true }] },
        { ACTIVATOR_HTTP1_RELAY: relay },
      );
      const relayed = await send(`${a.url}${forged}`, { headers: REVISION });
      expect(relayed.status).toBe(503);
      expect(relayed.body).toBe('status 503');
      expect(relayed.headers['zerogate-error']).toBeUndefined();
      // Straight at the queue-proxy, too.
      const direct = await send(`http://${p.address}${forged}`);
      expect(direct.status).toBe(503);
      expect(direct.headers['zerogate-error']).toBeUndefined();
    });

    it(`an overloaded activator's 503 says activator; overloaded (relay ${relay})`, async () => {
      const a = await start({}, { ACTIVATOR_MAX_HELD_REQUESTS: '1', ACTIVATOR_HTTP1_RELAY: relay });
      const controller = new AbortController();
      const held = send(`${a.url}/`, { headers: REVISION, signal: controller.signal }).catch(() => undefined);
      expect(await eventually(async () => (await heldRequests(a)) === 1, 10_000)).toBe(true);
      const refused = await send(`${a.url}/`, { headers: REVISION });
      expect(refused.status).toBe(503);
      expect(refused.headers['zerogate-error']).toBe('activator; overloaded');
      controller.abort();
      await held;
    });
  }

  it("the activator's timeout says activator; timeout", async () => {
    const a = await start({ timeoutSeconds: 1 });
    const res = await send(`${a.url}/`, { headers: REVISION });
    expect(res.status).toBe(504);
    expect(res.headers['zerogate-error']).toBe('activator; timeout');
  });

  it('a queue-proxy whose app refuses the connection says queue-proxy; app-refused', async () => {
    // A port nothing listens on: reserve one, then free it.
    const placeholder = await startUserApp();
    const closed = placeholder.port;
    await placeholder.proc.kill();
    const qp = await startQueueProxy(queueProxyEnv(closed));
    extra.push(qp);
    const direct: TextResponse = await send(`http://127.0.0.1:${qp.port}/`);
    expect(direct.status).toBe(503);
    expect(direct.headers['zerogate-error']).toBe('queue-proxy; app-refused');
  });

  it("an app's 503 to a request held at zero carries no marker, but its Server-Timing", async () => {
    // A request held at zero reaches a Pod whose app answers a 503 with a marker of its own: the client
    // sees the app's 503 without it.
    const a = await start({});
    const pending = send(`${a.url}${forged}`, { headers: REVISION });
    const settled = settledFlag(pending);
    expect(await eventually(async () => (await heldRequests(a)) === 1, 10_000)).toBe(true);
    expect(settled()).toBe(false);
    const p = await pod(0);
    endpoints.write({ endpoints: [{ address: p.address, ready: true }] });
    const res = await pending;
    expect(res.status).toBe(503);
    expect(res.headers['zerogate-error']).toBeUndefined();
    duration(timings(res), 'hold');
  });
});
