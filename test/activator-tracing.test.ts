/**
 * The activator's tracing (docs/tracing.md, docs/activator.md §7.1) on both its request paths (the raw
 * relay and node:http), against a real Jaeger: a request held at zero gets a `hold` span saying it poked
 * the autoscaler, one waiting for a busy Pod a `throttle` span, each a `proxy` span whose id reaches the
 * Pod as the request's parent; a request not sampled reaches the Pod with its headers as they came.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EndpointsFile, heldRequests, type Pod, REVISION, startPod } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, send } from './support/http.js';
import { type JaegerSpan, parentOf, type RunningJaeger, startJaeger, tag } from './support/jaeger.js';
import { activatorEnv, type RunningActivator, startActivator } from './support/processes.js';
import { gate, JAEGER } from './support/tools.js';

const RUN = gate('jaeger', JAEGER, 'activator tracing');

let jaeger: RunningJaeger;
let endpoints: EndpointsFile;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;
let pod: Pod | undefined;

beforeAll(async () => {
  if (RUN) jaeger = await startJaeger(JAEGER!);
}, 60_000);

afterAll(async () => {
  await jaeger?.stop();
});

beforeEach(() => {
  endpoints = new EndpointsFile();
});

afterEach(async () => {
  await activator?.proc.kill();
  await autoscaler?.close();
  await pod?.qp.proc.kill();
  await pod?.app.proc.kill();
  activator = autoscaler = pod = undefined;
  endpoints.remove();
});

let n = 0;
/** A trace id and caller span id of their own for each request. */
function ids(): { traceId: string; spanId: string } {
  n++;
  const hex = `${Date.now().toString(16)}${n.toString(16).padStart(4, '0')}`.padStart(16, '0').slice(-16);
  return { traceId: `ac${hex}${'0'.repeat(13)}${n % 10}`, spanId: `d${hex.slice(1)}` };
}

/** The headers the app saw, from the user app's `/echo`. */
function seenHeaders(body: string): Record<string, string> {
  return (JSON.parse(body) as { headers: Record<string, string> }).headers;
}

function span(spans: JaegerSpan[], name: string): JaegerSpan {
  const found = spans.find((s) => s.operationName === name);
  expect(found, `${name} span`).toBeDefined();
  return found!;
}

describe.skipIf(!RUN).each([
  ['raw relay, Zipkin', 'true'],
  ['node:http, OTLP JSON', 'false'],
])('activator tracing: %s', (_name, relay) => {
  async function start(revision: Record<string, unknown>): Promise<RunningActivator> {
    endpoints.write(revision);
    autoscaler = await FakeAutoscaler.start();
    const tracing: Record<string, string> =
      relay === 'true'
        ? {
            TRACING_CONFIG_BACKEND: 'zipkin',
            TRACING_CONFIG_ZIPKIN_ENDPOINT: jaeger.zipkinUrl,
            TRACING_CONFIG_SAMPLE_RATE: '0',
          }
        : {
            OBSERVABILITY_CONFIG: JSON.stringify({
              tracing: { protocol: 'http/json', endpoint: jaeger.otlpUrl, samplingRate: 0 },
            }),
          };
    activator = await startActivator(
      activatorEnv(endpoints.path, autoscaler.url, { ACTIVATOR_HTTP1_RELAY: relay, ...tracing }),
    );
    await eventually(() => autoscaler!.clients === 1);
    return activator;
  }

  it('holds at zero under a hold span, then proxies under a proxy span the Pod sees as parent', async () => {
    const a = await start({});
    const { traceId, spanId } = ids();
    const pending = send(`${a.url}/echo`, {
      headers: { ...REVISION, traceparent: `00-${traceId}-${spanId}-01` },
    });
    expect(await eventually(async () => (await heldRequests(a)) === 1, 10_000)).toBe(true);
    pod = await startPod(0);
    endpoints.write({ endpoints: [{ address: pod.address, ready: true }] });
    const res = await pending;
    expect(res.status).toBe(200);
    const spans = await jaeger.waitForSpans(traceId, ['hold', 'proxy']);
    const hold = span(spans, 'hold');
    const proxy = span(spans, 'proxy');
    expect(parentOf(hold)).toBe(spanId);
    expect(parentOf(proxy)).toBe(spanId);
    expect(String(tag(hold, 'kn.activator.poked'))).toBe('true');
    expect(tag(hold, 'kn.revision.name')).toBe('hello-00001');
    expect(String(tag(proxy, 'http.response.status_code'))).toBe('200');
    expect(tag(proxy, 'server.address')).toBe(pod.address);
    expect(spans.every((s) => s.serviceName === 'activator')).toBe(true);
    // The queue-proxy traces nothing here, so the app sees what the activator sent.
    expect(seenHeaders(res.body).traceparent).toBe(`00-${traceId}-${proxy.spanID}-01`);
  });

  it('waits for a busy Pod under a throttle span; a request not sampled passes as it came', async () => {
    pod = await startPod(1);
    const a = await start({ containerConcurrency: 1, endpoints: [{ address: pod.address, ready: true }] });
    const first = ids();
    const busy = send(`${a.url}/delay?ms=1500`, {
      headers: { ...REVISION, traceparent: `00-${first.traceId}-${first.spanId}-01` },
    });
    expect(await eventually(async () => (await pod!.app.stats()).current === 1, 10_000)).toBe(true);
    const second = ids();
    const waiting = send(`${a.url}/echo`, {
      headers: {
        ...REVISION,
        'x-b3-traceid': second.traceId,
        'x-b3-spanid': second.spanId,
        'x-b3-sampled': '1',
      },
    });
    expect(await eventually(async () => (await heldRequests(a)) === 1, 10_000)).toBe(true);
    expect((await busy).status).toBe(200);
    const res = await waiting;
    expect(res.status).toBe(200);
    const spans = await jaeger.waitForSpans(second.traceId, ['throttle', 'proxy']);
    const throttle = span(spans, 'throttle');
    const proxy = span(spans, 'proxy');
    expect(parentOf(throttle)).toBe(second.spanId);
    expect(tag(throttle, 'kn.activator.poked')).toBeUndefined();
    expect(seenHeaders(res.body)['x-b3-spanid']).toBe(proxy.spanID);
    // The busy request went straight to the Pod: no hold or throttle span.
    const firstSpans = await jaeger.waitForSpans(first.traceId, ['proxy']);
    expect(firstSpans.map((s) => s.operationName)).toEqual(['proxy']);

    const quiet = ids();
    const unsampled = await send(`${a.url}/echo`, {
      headers: { ...REVISION, traceparent: `00-${quiet.traceId}-${quiet.spanId}-00` },
    });
    expect(seenHeaders(unsampled.body).traceparent).toBe(`00-${quiet.traceId}-${quiet.spanId}-00`);
    // A sampled request after it is exported; any span of the unsampled one would have been by then.
    const after = ids();
    await send(`${a.url}/`, {
      headers: { ...REVISION, traceparent: `00-${after.traceId}-${after.spanId}-01` },
    });
    await jaeger.waitForSpans(after.traceId, ['proxy']);
    expect(await jaeger.spans(quiet.traceId)).toEqual([]);
  });
});

describe.skipIf(!RUN)('activator tracing, backend down', () => {
  it('answers every request at once, counts the spans it could not export and logs the failure', async () => {
    pod = await startPod(0);
    endpoints.write({ endpoints: [{ address: pod.address, ready: true }] });
    autoscaler = await FakeAutoscaler.start();
    // A port nothing listens on: every export is refused.
    const closed = await FakeAutoscaler.start();
    const deadPort = new URL(closed.url).port;
    await closed.close();
    activator = await startActivator(
      activatorEnv(endpoints.path, autoscaler.url, {
        TRACING_CONFIG_BACKEND: 'zipkin',
        TRACING_CONFIG_ZIPKIN_ENDPOINT: `http://127.0.0.1:${deadPort}/api/v2/spans`,
        TRACING_CONFIG_SAMPLE_RATE: '1',
      }),
    );
    await eventually(() => autoscaler!.clients === 1);
    const a = activator;
    for (let i = 0; i < 3; i++) expect((await send(`${a.url}/`, { headers: REVISION })).status).toBe(200);
    const dropped = async () => {
      const text = await (await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`)).text();
      return Number(/^zerogate_tracing_spans_dropped_total(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
    };
    expect(await eventually(async () => (await dropped()) >= 3, 10_000)).toBe(true);
    // The log line travels through a pipe and may arrive after the counter is scraped.
    expect(
      await eventually(() => a.proc.stdout.some((line) => line.includes('trace export failed')), 5000),
    ).toBe(true);
  });
});
