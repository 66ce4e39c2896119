/**
 * The queue-proxy's tracing (docs/tracing.md) on each request path, against a real Jaeger: the `queue`
 * and `proxy` spans under the caller's span, the `proxy` span's id handed to the app, and an unsampled or
 * absent context passed to the app as it came. Zipkin (Knative ≤ 1.18's TRACING_CONFIG_*) on the raw
 * relay, OTLP protobuf (≥ 1.19's OBSERVABILITY_CONFIG) on node:http, OTLP JSON (OTEL_* variables) on h2c,
 * and OTLP over gRPC (≥ 1.19's `grpc` protocol).
 */
import { connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h2Exchange, send } from './support/http.js';
import { type JaegerSpan, parentOf, type RunningJaeger, startJaeger, tag } from './support/jaeger.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  spawnNode,
  startQueueProxy,
  startUserApp,
  type TestProcess,
  type UserApp,
} from './support/processes.js';
import { gate, JAEGER } from './support/tools.js';

const RUN = gate('jaeger', JAEGER, 'queue-proxy tracing');

let jaeger: RunningJaeger;
let app: UserApp;
let h2cApp: { proc: TestProcess; port: number };
let relay: RunningQueueProxy;
let nodeHttp: RunningQueueProxy;
let h2c: RunningQueueProxy;
let grpc: RunningQueueProxy;

beforeAll(async () => {
  if (!RUN) return;
  jaeger = await startJaeger(JAEGER!);
  app = await startUserApp();
  const proc = spawnNode('test/support/h2c-app.mjs', { PORT: '0' });
  h2cApp = {
    proc,
    port: (JSON.parse(await proc.waitForLine((l) => l.startsWith('{"port"'))) as { port: number }).port,
  };
  relay = await startQueueProxy(
    queueProxyEnv(app.port, {
      CONTAINER_CONCURRENCY: '1',
      TRACING_CONFIG_BACKEND: 'zipkin',
      TRACING_CONFIG_ZIPKIN_ENDPOINT: jaeger.zipkinUrl,
      TRACING_CONFIG_SAMPLE_RATE: '0',
    }),
  );
  nodeHttp = await startQueueProxy(
    queueProxyEnv(app.port, {
      QUEUE_HTTP1_RELAY: 'false',
      OBSERVABILITY_CONFIG: JSON.stringify({
        tracing: { protocol: 'http/protobuf', endpoint: jaeger.otlpUrl, samplingRate: 0 },
      }),
      OTEL_SERVICE_NAME: 'hello-00001',
    }),
  );
  h2c = await startQueueProxy(
    queueProxyEnv(h2cApp.port, {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: jaeger.otlpUrl,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_always_off',
    }),
  );
  grpc = await startQueueProxy(
    queueProxyEnv(app.port, {
      OBSERVABILITY_CONFIG: JSON.stringify({
        tracing: { protocol: 'grpc', endpoint: jaeger.otlpGrpcUrl, samplingRate: 0 },
      }),
    }),
  );
}, 60_000);

afterAll(async () => {
  for (const p of [relay, nodeHttp, h2c, grpc]) await p?.proc.kill();
  await app?.proc.kill();
  await h2cApp?.proc.kill();
  await jaeger?.stop();
});

let n = 0;
/** A new trace id and caller span id, different per test. */
function ids(): { traceId: string; spanId: string } {
  n++;
  const hex = (Date.now() * 1000 + n).toString(16).padStart(16, '0').slice(-16);
  return { traceId: `${hex}${'a'.repeat(15)}${n.toString(16).slice(-1)}`, spanId: `c${hex.slice(1)}` };
}

/** Checks the queue-proxy's two spans under `callerSpan`, and returns the `proxy` span. */
function checkSpans(spans: JaegerSpan[], callerSpan: string, status: number): JaegerSpan {
  const queue = spans.find((s) => s.operationName === 'queue')!;
  const proxy = spans.find((s) => s.operationName === 'proxy')!;
  expect(parentOf(queue)).toBe(callerSpan);
  expect(parentOf(proxy)).toBe(callerSpan);
  expect(String(tag(proxy, 'http.response.status_code'))).toBe(String(status));
  expect(tag(proxy, 'kn.revision.name')).toBe('hello-00001');
  expect(tag(proxy, 'k8s.pod.name')).toBe('hello-00001-deployment-abc');
  // The proxy span starts when the breaker let the request go.
  expect(proxy.startTime).toBeGreaterThanOrEqual(queue.startTime);
  return proxy;
}

describe.skipIf(!RUN)('queue-proxy tracing', () => {
  it('raw relay, Zipkin, W3C in: the app sees the proxy span as its parent', async () => {
    const { traceId, spanId } = ids();
    const res = await send(`${relay.url}/echo`, {
      headers: { traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=1' },
    });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body).headers as Record<string, string>;
    const spans = await jaeger.waitForSpans(traceId, ['queue', 'proxy']);
    const proxy = checkSpans(spans, spanId, 200);
    expect(seen.traceparent).toBe(`00-${traceId}-${proxy.spanID}-01`);
    expect(seen.tracestate).toBe('vendor=1');
    expect(spans.every((s) => s.serviceName === 'queue-proxy')).toBe(true);
  });

  it('node:http, OTLP protobuf, B3 multi in: the app gets the X-B3 set with the proxy span', async () => {
    const { traceId, spanId } = ids();
    const res = await send(`${nodeHttp.url}/echo`, {
      headers: { 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-sampled': '1' },
    });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body).headers as Record<string, string>;
    const spans = await jaeger.waitForSpans(traceId, ['queue', 'proxy']);
    const proxy = checkSpans(spans, spanId, 200);
    expect(seen['x-b3-traceid']).toBe(traceId);
    expect(seen['x-b3-spanid']).toBe(proxy.spanID);
    expect(seen['x-b3-sampled']).toBe('1');
    expect(seen.traceparent).toBeUndefined();
    expect(spans[0]!.serviceName).toBe('hello-00001');
  });

  it('h2c, OTLP JSON, single b3 in', async () => {
    const { traceId, spanId } = ids();
    const session = connect(h2c.url);
    try {
      const reply = await h2Exchange(session, { ':path': '/echo', b3: `${traceId}-${spanId}-1` });
      expect(reply.status).toBe(200);
      const seen = JSON.parse(reply.body).headers as Record<string, string>;
      const spans = await jaeger.waitForSpans(traceId, ['queue', 'proxy']);
      const proxy = checkSpans(spans, spanId, 200);
      expect(seen.b3).toBe(`${traceId}-${proxy.spanID}-1`);
    } finally {
      session.close();
    }
  });

  it('OTLP over gRPC, as Knative ≥ 1.19’s grpc protocol exports', async () => {
    const { traceId, spanId } = ids();
    const res = await send(`${grpc.url}/echo`, { headers: { traceparent: `00-${traceId}-${spanId}-01` } });
    expect(res.status).toBe(200);
    const spans = await jaeger.waitForSpans(traceId, ['queue', 'proxy']);
    checkSpans(spans, spanId, 200);
    expect(spans.every((s) => s.serviceName === 'queue-proxy')).toBe(true);
  });

  it('an error from the app is on the proxy span', async () => {
    const { traceId, spanId } = ids();
    const res = await send(`${relay.url}/status?code=503`, {
      headers: { traceparent: `00-${traceId}-${spanId}-01` },
    });
    const spans = await jaeger.waitForSpans(traceId, ['queue', 'proxy']);
    const proxy = checkSpans(spans, spanId, res.status);
    // Zipkin's `error` tag carries the text.
    expect(tag(proxy, 'error')).toBe('HTTP 503');
  });

  it('sends the spans still waiting when it stops', async () => {
    const qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        QUEUE_DRAIN_QUIET_SECONDS: '0',
        TRACING_CONFIG_BACKEND: 'zipkin',
        TRACING_CONFIG_ZIPKIN_ENDPOINT: jaeger.zipkinUrl,
      }),
    );
    const { traceId, spanId } = ids();
    expect(
      (await send(`${qp.url}/`, { headers: { traceparent: `00-${traceId}-${spanId}-01` } })).status,
    ).toBe(200);
    // Within the export interval (1 s): only the flush on shutdown can send them.
    qp.proc.signal('SIGTERM');
    expect(await qp.proc.exit()).toBe(0);
    await jaeger.waitForSpans(traceId, ['queue', 'proxy']);
  });

  it('passes an unsampled or absent context to the app as it came, and reports nothing', async () => {
    const { traceId, spanId } = ids();
    for (const url of [relay.url, nodeHttp.url]) {
      const unsampled = await send(`${url}/echo`, { headers: { traceparent: `00-${traceId}-${spanId}-00` } });
      expect(JSON.parse(unsampled.body).headers.traceparent).toBe(`00-${traceId}-${spanId}-00`);
      const none = JSON.parse((await send(`${url}/echo`)).body).headers as Record<string, string>;
      expect(none.traceparent).toBeUndefined();
      expect(none['x-b3-traceid']).toBeUndefined();
    }
    // A sampled request sent after them is exported; by then any span of the unsampled ones would be too.
    const later = ids();
    await send(`${relay.url}/`, { headers: { traceparent: `00-${later.traceId}-${later.spanId}-01` } });
    await jaeger.waitForSpans(later.traceId, ['queue', 'proxy']);
    expect(await jaeger.spans(traceId)).toEqual([]);
  });
});

describe('queue-proxy tracing to stdout', () => {
  it('writes each batch as one OTLP JSON line on stdout, as Knative ≥ 1.19’s stdout protocol', async () => {
    const hello = await startUserApp();
    const qp = await startQueueProxy(
      queueProxyEnv(hello.port, {
        OBSERVABILITY_CONFIG: JSON.stringify({ tracing: { protocol: 'stdout', samplingRate: 1 } }),
      }),
    );
    try {
      expect((await send(`${qp.url}/`)).status).toBe(200);
      const line = await qp.proc.waitForLine((l) => l.startsWith('{"resourceSpans"'), 5000);
      const names = (
        JSON.parse(line) as { resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[] }
      ).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((span) => span.name)));
      expect(names.sort()).toEqual(['proxy', 'queue']);
    } finally {
      await qp.proc.kill();
      await hello.proc.kill();
    }
  });
});
