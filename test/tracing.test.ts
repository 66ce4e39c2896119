/**
 * Tracing end to end (docs/tracing.md): one request through the local platform's ingress, the activator
 * (held at zero until a Pod is ready), the queue-proxy and the app is one trace in a real Jaeger, read
 * back through Jaeger's query API: the activator's `hold` and `proxy` spans under the caller's span, the
 * queue-proxy's `queue` and `proxy` spans under the activator's `proxy` span, and the app handed the
 * queue-proxy's `proxy` span. Once with Zipkin and B3 in, once with OTLP and W3C in.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerSpan, parentOf, type RunningJaeger, startJaeger, tag } from './support/jaeger.js';
import { startTestPlatform, type TestPlatform } from './support/platform.js';
import { gate, JAEGER } from './support/tools.js';

const RUN = gate('jaeger', JAEGER, 'tracing end to end');

/** An app that answers every request with the headers it got, on the Pod's own address. */
const ECHO_APP = `import { createServer } from 'node:http';
createServer((req, res) => {
  const body = JSON.stringify(req.headers);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
`;

let jaeger: RunningJaeger;
let appDir: string;
let platform: TestPlatform | undefined;

beforeAll(async () => {
  if (!RUN) return;
  jaeger = await startJaeger(JAEGER!);
  appDir = await mkdtemp(join(tmpdir(), 'zerogate-tracing-app-'));
  await writeFile(join(appDir, 'echo.mjs'), ECHO_APP);
}, 60_000);

afterEach(async () => {
  await platform?.stop();
  platform = undefined;
});

afterAll(async () => {
  await jaeger?.stop();
  if (appDir) await rm(appDir, { recursive: true, force: true });
});

/** Starts the platform, at zero, with `tracing` as its tracing block. */
async function start(tracing: string): Promise<TestPlatform> {
  platform = await startTestPlatform(`ingress: { port: 0 }
tracing:
${tracing}
services:
  - name: app
    command: [node, ${join(appDir, 'echo.mjs')}]
`);
  expect(await platform.revision('app-00001')).toMatchObject({ readyPods: 0, mode: 'Proxy' });
  return platform;
}

/** Sends one request through the ingress with `headers`; returns the headers the app got. */
async function through(p: TestPlatform, headers: Record<string, string>): Promise<Record<string, string>> {
  const res = await request(`http://127.0.0.1:${p.port}/`, {
    headers: { host: 'app.default.localhost', ...headers },
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as Record<string, string>;
}

/**
 * Checks the trace's shape: the activator's hold and proxy spans under `callerSpan`, the queue-proxy's
 * under the activator's proxy span. Returns the queue-proxy's proxy span (the app's parent).
 */
function checkTrace(spans: JaegerSpan[], callerSpan: string): JaegerSpan {
  const byService = (service: string, name: string) =>
    spans.find((s) => s.serviceName === service && s.operationName === name);
  const hold = byService('activator', 'hold');
  const activatorProxy = byService('activator', 'proxy');
  const queue = byService('queue-proxy', 'queue');
  const queueProxy = byService('queue-proxy', 'proxy');
  expect(hold, 'hold span').toBeDefined();
  expect(activatorProxy, 'activator proxy span').toBeDefined();
  expect(queue, 'queue span').toBeDefined();
  expect(queueProxy, 'queue-proxy proxy span').toBeDefined();
  expect(parentOf(hold!)).toBe(callerSpan);
  expect(parentOf(activatorProxy!)).toBe(callerSpan);
  expect(parentOf(queue!)).toBe(activatorProxy!.spanID);
  expect(parentOf(queueProxy!)).toBe(activatorProxy!.spanID);
  // Held at zero: the revision's first request poked the autoscaler, and the hold ended before the proxy.
  expect(String(tag(hold!, 'kn.activator.poked'))).toBe('true');
  expect(tag(hold!, 'kn.revision.name')).toBe('app-00001');
  expect(hold!.startTime + hold!.duration).toBeLessThanOrEqual(activatorProxy!.startTime + 1000);
  expect(hold!.duration).toBeGreaterThan(0);
  for (const s of [activatorProxy!, queueProxy!])
    expect(String(tag(s, 'http.response.status_code'))).toBe('200');
  expect(String(tag(activatorProxy!, 'server.address'))).toMatch(/^127\.\d+\.\d+\.\d+:\d+$/);
  return queueProxy!;
}

describe.skipIf(!RUN)('tracing through the local platform', () => {
  it('Zipkin, B3 in: one trace from the ingress to the app, held at zero', async () => {
    const p = await start(`  exporter: zipkin\n  endpoint: ${jaeger.zipkinUrl}\n  sampleRate: 0`);
    const traceId = '5a1e0c0ffee0000000000000000b3b31';
    const spanId = 'b3b3b3b3b3b3b3b3';
    const seen = await through(p, { 'X-B3-TraceId': traceId, 'X-B3-SpanId': spanId, 'X-B3-Sampled': '1' });
    const spans = await jaeger.waitForSpans(traceId, ['hold', 'proxy', 'queue', 'proxy'], 30_000);
    const parent = checkTrace(spans, spanId);
    expect(seen['x-b3-traceid']).toBe(traceId);
    expect(seen['x-b3-spanid']).toBe(parent.spanID);
  }, 120_000);

  it('OTLP, W3C in: one trace from the ingress to the app, held at zero', async () => {
    const p = await start(`  exporter: otlp\n  endpoint: ${jaeger.otlpUrl}\n  sampleRate: 0`);
    const traceId = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
    const spanId = 'feedfacecafebeef';
    const seen = await through(p, { traceparent: `00-${traceId}-${spanId}-01` });
    const spans = await jaeger.waitForSpans(traceId, ['hold', 'proxy', 'queue', 'proxy'], 30_000);
    const parent = checkTrace(spans, spanId);
    expect(seen.traceparent).toBe(`00-${traceId}-${parent.spanID}-01`);
  }, 120_000);
});
