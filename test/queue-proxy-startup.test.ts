/**
 * What a queue-proxy loads at start (docs/queue-proxy.md §12): Node's HTTP/2, HTTPS, TLS and crypto
 * modules, tracing's exporter and the request metrics are loaded on first use, so a Pod serving plain
 * HTTP/1.1 with tracing and request metrics off never pays for them; with tracing on, the exporter is
 * loaded at start, before the first request.
 */
import { connect } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { h2Exchange, KUBELET_PROBE, send } from './support/http.js';
import {
  type LoadedModules,
  loadedModules,
  loadedModulesEnv,
  queueProxyEnv,
  spawnNode,
  startQueueProxy,
  startUserApp,
} from './support/processes.js';

/** Built-in modules that only HTTP/2, TLS, HTTPS or crypto need. */
const ON_FIRST_USE = ['http2', 'https', 'tls', 'crypto'];
/** Files of tracing's exporter and of the request metrics. */
const EXPORTER_FILES =
  /\/tracing\/(build-tracing|batch-exporter|otlp-encoding|zipkin-encoding|http-span-sender)\.js$/;
const METRICS_FILES = /\/node_modules\/prom-client\/|\/request-metrics\.js$/;

function loaded(modules: LoadedModules, names: readonly string[]): string[] {
  return names.filter((n) => modules.builtins.includes(n));
}

describe('queue-proxy start-up: what is loaded only on first use (docs/queue-proxy.md §12)', () => {
  it('loads no HTTP/2, HTTPS, TLS, crypto, tracing exporter or request metrics through its start, first readiness check and first HTTP/1.1 request', async () => {
    const app = await startUserApp();
    const qp = await startQueueProxy({ ...queueProxyEnv(app.port), ...loadedModulesEnv() });
    expect((await send(`${qp.url}/`, { headers: KUBELET_PROBE })).status).toBe(200);
    const reply = await send(`${qp.url}/`);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('hello');
    const modules = await loadedModules(qp.proc);
    // What the process did load is seen: the method works.
    expect(modules.builtins).toContain('http');
    expect(modules.files.some((f) => f.endsWith('/packages/queue-proxy/src/queue-proxy.ts'))).toBe(true);
    expect(loaded(modules, ON_FIRST_USE)).toEqual([]);
    expect(modules.files.filter((f) => EXPORTER_FILES.test(f) || METRICS_FILES.test(f))).toEqual([]);
  });

  it('loads HTTP/2 at the first h2c connection, and serves it', async () => {
    const proc = spawnNode('test/support/h2c-app.mjs', { PORT: '0' });
    const port = (JSON.parse(await proc.waitForLine((l) => l.startsWith('{"port"'))) as { port: number })
      .port;
    const qp = await startQueueProxy({ ...queueProxyEnv(port), ...loadedModulesEnv() });
    expect((await send(`${qp.url}/`, { headers: KUBELET_PROBE })).status).toBe(200);
    expect(loaded(await loadedModules(qp.proc), ['http2'])).toEqual([]);

    const session = connect(qp.url);
    try {
      const reply = await h2Exchange(session, { ':method': 'GET', ':path': '/h2' });
      expect(reply.status).toBe(200);
      expect((JSON.parse(reply.body) as { httpVersion: string }).httpVersion).toBe('2.0');
    } finally {
      session.close();
    }
    expect(loaded(await loadedModules(qp.proc), ['http2'])).toEqual(['http2']);
  });

  it('with tracing on, loads the exporter and crypto at start, before the first request', async () => {
    const app = await startUserApp();
    const qp = await startQueueProxy({
      ...queueProxyEnv(app.port, {
        // No backend listens there: spans would fail to export, but none is made here.
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces',
        OTEL_TRACES_SAMPLER: 'always_on',
      }),
      ...loadedModulesEnv(),
    });
    const modules = await loadedModules(qp.proc);
    expect(modules.files.some((f) => f.endsWith('/tracing/build-tracing.js'))).toBe(true);
    expect(loaded(modules, ['crypto'])).toEqual(['crypto']);
    expect(qp.proc.logs().some((l) => l.msg === 'tracing on')).toBe(true);
  });
});
