/**
 * The activator's fast failure and waiting page (docs/activator.md §10), end to end on a built activator
 * reading an endpoints file: on the raw relay (plain HTTP/1.1, the default), on node:http (the relay
 * off), and for gRPC calls over h2c.
 */
import { writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { join } from 'node:path';
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
import { eventually, send } from './support/http.js';
import { activatorEnv, type RunningActivator, spawnNode } from './support/processes.js';

const REASON = 'app exited with code 1 (3 times)';
const BODY = `revision hello-00001 failing: ${REASON}\n`;
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const WAITING = { 'zerogate.dev/waiting-page': 'true' };

let endpoints: EndpointsFile;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;

beforeEach(() => {
  endpoints = new EndpointsFile();
});

afterEach(async () => {
  await activator?.proc.kill();
  await autoscaler?.close();
  activator = autoscaler = undefined;
  endpoints.remove();
});

async function start(revision: Record<string, unknown>, env: Record<string, string> = {}) {
  endpoints.write(revision);
  ({ autoscaler, activator } = await activatorWithAutoscaler(endpoints, env));
  return activator;
}

/** Whether the autoscaler was poked for the test revision since `from` messages. */
function poked(from = 0): boolean {
  return autoscaler!.received
    .slice(from)
    .some((r) =>
      r.messages.some((m) => m.name === 'hello-00001' && (m.stat?.averageConcurrentRequests ?? 0) >= 1),
    );
}

/** One h2c gRPC call's response headers (a trailers-only answer carries its status there). */
function grpcCall(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/zerogate.test.Tester/Echo',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...REVISION,
    });
    let headers: Record<string, unknown> = {};
    stream.on('response', (h) => {
      headers = { ...h };
    });
    stream.resume();
    stream.on('end', () => {
      session.close();
      resolve(headers);
    });
    stream.on('error', reject);
    stream.end();
  });
}

describe.each([
  ['the raw relay', {}],
  ['node:http', { ACTIVATOR_HTTP1_RELAY: 'false' }],
])('a failing revision on %s (docs/activator.md §10.1)', (_path, env) => {
  it('answers held and new requests 503 with the reason at once, and holds again once a Pod starts', async () => {
    const a = await start({}, env);
    const held = send(`${a.url}/`, { headers: REVISION });
    await eventually(async () => (await heldRequests(a)) === 1, 10_000);

    const before = Date.now();
    endpoints.write({ failing: REASON });
    const refused = await held;
    expect(Date.now() - before).toBeLessThan(5000);
    expect(refused.status).toBe(503);
    expect(refused.body).toBe(BODY);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.headers['zerogate-error']).toBe('activator; revision-failing');

    // New requests are refused at once, and still poke the autoscaler (so it tries again).
    const pokes = autoscaler!.received.length;
    const fresh = await send(`${a.url}/`, { headers: REVISION });
    expect(fresh.status).toBe(503);
    expect(fresh.body).toBe(BODY);
    await eventually(() => autoscaler!.received.length > pokes, 5000);

    // A Pod starting again: the failing mark is gone, and requests are held then served.
    const pod = await startPod();
    endpoints.write({ endpoints: [{ address: pod.address, ready: false }] });
    await eventually(async () => (await send(`${a.url}/`, { headers: REVISION })).status === 200, 10_000);
    expect((await send(`${a.url}/`, { headers: REVISION })).body).toContain('hello');
  });
});

describe('a failing revision, gRPC (docs/activator.md §10.1)', () => {
  it('answers a held and a new gRPC call UNAVAILABLE with the reason, trailers-only', async () => {
    const a = await start({});
    const held = grpcCall(a.h2cPort);
    await eventually(async () => (await heldRequests(a)) === 1, 10_000);
    endpoints.write({ failing: REASON });
    for (const headers of [await held, await grpcCall(a.h2cPort)]) {
      expect(headers[':status']).toBe(200);
      expect(headers['grpc-status']).toBe('14');
      expect(headers['grpc-message']).toBe(`revision hello-00001 failing: ${REASON}`);
      expect(headers['zerogate-error']).toBe('activator; revision-failing');
    }
  });
});

describe.each([
  ['the raw relay', {}],
  ['node:http', { ACTIVATOR_HTTP1_RELAY: 'false' }],
])('the waiting page on %s (docs/activator.md §10.2)', (_path, env) => {
  it('answers a browser at once while no Pod is usable, pokes the autoscaler, and holds everything else', async () => {
    const a = await start({ annotations: WAITING }, env);
    const page = await send(`${a.url}/`, { headers: { ...REVISION, accept: BROWSER_ACCEPT } });
    expect(page.status).toBe(503);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(Number(page.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(page.body).toContain('hello-00001');
    expect(page.body).toContain('location.reload()');
    expect(await eventually(() => poked(), 5000)).toBe(true);

    // An API call (Accept */*) and a POST from a browser are held as usual.
    const api = send(`${a.url}/`, { headers: { ...REVISION, accept: '*/*' } });
    const post = send(`${a.url}/`, {
      method: 'POST',
      body: 'x',
      headers: { ...REVISION, accept: BROWSER_ACCEPT },
    });
    const apiDone = settledFlag(api);
    await eventually(async () => (await heldRequests(a)) === 2, 10_000);
    expect(apiDone()).toBe(false);

    // The Pod is there: the browser's reload reaches the app.
    const pod = await startPod();
    endpoints.write({ annotations: WAITING, endpoints: [{ address: pod.address, ready: true }] });
    expect((await api).status).toBe(200);
    expect((await post).status).toBe(200);
    const app = await send(`${a.url}/`, { headers: { ...REVISION, accept: BROWSER_ACCEPT } });
    expect(app.status).toBe(200);
    expect(app.headers['content-type']).not.toContain('text/html');
  });

  it('is off without the annotation: a browser is held like any request', async () => {
    const a = await start({}, env);
    const browser = send(`${a.url}/`, { headers: { ...REVISION, accept: BROWSER_ACCEPT } });
    await eventually(async () => (await heldRequests(a)) === 1, 10_000);
    const pod = await startPod();
    endpoints.write({ endpoints: [{ address: pod.address, ready: true }] });
    expect((await browser).status).toBe(200);
  });
});

describe('the waiting page template (docs/activator.md §10.2)', () => {
  it('is read from ACTIVATOR_WAITING_PAGE_TEMPLATE at start', async () => {
    const file = join(endpoints.dir, 'page.html');
    writeFileSync(file, '<p>waking {{revision}} ({{namespace}}), again in {{refreshMs}} ms</p>');
    const a = await start({ annotations: WAITING }, { ACTIVATOR_WAITING_PAGE_TEMPLATE: file });
    const page = await send(`${a.url}/`, { headers: { ...REVISION, accept: 'text/html' } });
    expect(page.status).toBe(503);
    expect(page.body).toMatch(/^<p>waking hello-00001 \(default\), again in \d+ ms<\/p>$/);
  });

  it('stops the start naming the variable when the template cannot be read', async () => {
    endpoints.write({});
    const proc = spawnNode(
      'packages/activator/dist/main.js',
      activatorEnv(endpoints.path, 'ws://127.0.0.1:1', {
        ACTIVATOR_WAITING_PAGE_TEMPLATE: join(endpoints.dir, 'missing.html'),
      }),
    );
    expect(await proc.exit()).toBe(1);
    expect(proc.stderr.join('')).toMatch(
      /^activator: ACTIVATOR_WAITING_PAGE_TEMPLATE: cannot read .*missing\.html: ENOENT$/m,
    );
    expect(proc.stdout.join('\n')).not.toContain('"msg":"started"');
  });
});
