/**
 * The built activator on the `kubernetes` source follows Knative's ConfigMaps in its namespace while it
 * runs, as Knative's activator does (docs/activator.md §2.1): `config-logging`'s level and
 * `config-tracing`'s (or `config-observability`'s) tracing, unless its environment sets them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  heldRequests,
  kubernetesActivatorEnv,
  type Pod,
  REVISION,
  startPod,
} from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, rawExchange, send } from './support/http.js';
import { knativeRevision, privateEndpoints } from './support/knative-objects.js';
import { type RunningActivator, startActivator } from './support/processes.js';
import { TestApiServer } from './support/test-apiserver.js';

let dir: string | undefined;
let api: TestApiServer | undefined;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;
let pod: Pod | undefined;
let collector: SpanCollector | undefined;

afterEach(async () => {
  await activator?.proc.kill();
  await pod?.qp.proc.kill();
  await pod?.app.proc.kill();
  await autoscaler?.close();
  await api?.close();
  await collector?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  activator = pod = autoscaler = api = collector = dir = undefined;
});

/** A Zipkin v2 receiver on 127.0.0.1 that keeps the names of the spans it was sent. */
class SpanCollector {
  readonly names: string[] = [];
  private readonly server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      for (const span of JSON.parse(body) as { name: string }[]) this.names.push(span.name);
      res.writeHead(202).end();
    });
  });

  static async start(): Promise<SpanCollector> {
    const collector = new SpanCollector();
    await new Promise<void>((resolve) => collector.server.listen(0, '127.0.0.1', resolve));
    return collector;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v2/spans`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function configMap(name: string, data: Record<string, string>): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'knative-serving' }, data };
}

/** An API server with the test revision, its Pod not yet listed, and an activator on it. */
async function start(env: Record<string, string> = {}): Promise<RunningActivator> {
  api = await TestApiServer.start();
  dir = mkdtempSync(join(tmpdir(), 'zerogate-activator-'));
  const kubeconfig = api.writeKubeConfig(join(dir, 'kubeconfig.json'));
  api.apply(knativeRevision('hello-00001', { containerConcurrency: 0, timeoutSeconds: 10 }));
  api.apply(configMap('config-logging', { 'loglevel.activator': 'debug' }));
  autoscaler = await FakeAutoscaler.start();
  activator = await startActivator({
    ...kubernetesActivatorEnv(autoscaler.url, kubeconfig),
    ACTIVATOR_USE_ENDPOINTS: 'true',
    ...env,
  });
  await eventually(() => autoscaler!.clients === 1);
  return activator;
}

/** Sends a request while the revision has no Pod, then lists the Pod so that it is forwarded. */
async function heldThenServed(a: RunningActivator): Promise<void> {
  api!.apply(privateEndpoints('hello-00001', []));
  const res = send(`${a.url}/`, { headers: REVISION });
  expect(await eventually(async () => (await heldRequests(a)) === 1)).toBe(true);
  pod ??= await startPod(0);
  api!.apply(privateEndpoints('hello-00001', [pod.port]));
  expect((await res).status).toBe(200);
}

const debugLines = (a: RunningActivator) => a.proc.logs().filter((l) => l['level'] === 'debug');

describe('activator following Knative’s ConfigMaps', () => {
  it('takes config-logging’s loglevel.activator at start and its changes while running', async () => {
    const a = await start();
    expect(a.proc.logs()).toContainEqual(
      expect.objectContaining({ msg: 'log level set', logLevel: 'debug', configMap: 'config-logging' }),
    );
    await heldThenServed(a);
    expect(debugLines(a).map((l) => l['msg'])).toContain('request held');

    api!.apply(configMap('config-logging', { 'loglevel.activator': 'info' }));
    await a.proc.waitForLine((l) => l.includes('"msg":"log level set"') && l.includes('"logLevel":"info"'));
    const before = debugLines(a).length;
    await heldThenServed(a);
    expect(debugLines(a)).toHaveLength(before);
  });

  it('turns tracing on from config-tracing while running, and off again', async () => {
    collector = await SpanCollector.start();
    const a = await start();
    pod = await startPod(0);
    api!.apply(privateEndpoints('hello-00001', [pod.port]));
    expect((await send(`${a.url}/`, { headers: REVISION })).status).toBe(200);

    api!.apply(
      configMap('config-tracing', {
        backend: 'zipkin',
        'zipkin-endpoint': collector.url,
        'sample-rate': '1',
      }),
    );
    await a.proc.waitForLine((l) => l.includes('"msg":"tracing on"'));
    expect((await send(`${a.url}/`, { headers: REVISION })).status).toBe(200);
    expect(await eventually(() => collector!.names.includes('proxy'), 5000)).toBe(true);

    api!.apply(configMap('config-tracing', { backend: 'none' }));
    await a.proc.waitForLine((l) => l.includes('"msg":"tracing off"'));
    const sent = collector.names.length;
    expect((await send(`${a.url}/`, { headers: REVISION })).status).toBe(200);
    // The exporter sends every second: a span of this request would have arrived by now.
    await new Promise((r) => setTimeout(r, 1500));
    expect(collector.names).toHaveLength(sent);
  });

  it('writes config-observability’s request log on both request paths once turned on, and stops when turned off', async () => {
    const a = await start();
    pod = await startPod(0);
    api!.apply(privateEndpoints('hello-00001', [pod.port]));
    const template =
      'LOG {{.Request.Method}} {{.Request.URL}} {{.Response.Code}} {{.Response.Size}} {{.Revision.Namespace}}/{{.Revision.Name}} {{.Revision.Service}}';
    api!.apply(
      knativeRevision(
        'hello-00001',
        { containerConcurrency: 0, timeoutSeconds: 10 },
        { labels: { 'serving.knative.dev/service': 'hello' } },
      ),
    );
    api!.apply(
      configMap('config-observability', {
        'logging.enable-request-log': 'true',
        'logging.request-log-template': template,
      }),
    );
    await a.proc.waitForLine((l) => l.includes('"msg":"request log set"') && l.includes('"on":true'));
    // The raw relay (plain HTTP/1.1) and node:http (HTTP/1.0, which the relay leaves to it).
    expect((await send(`${a.url}/?via=relay`, { headers: REVISION })).status).toBe(200);
    const http10 = await rawExchange(
      a.port,
      'GET /?via=http HTTP/1.0\r\nKnative-Serving-Revision: hello-00001\r\nKnative-Serving-Namespace: default\r\n\r\n',
    );
    expect(http10).toMatch(/^HTTP\/1\.1 200 /);
    const lines = () => a.proc.stdout.filter((l) => l.startsWith('LOG '));
    expect(await eventually(() => lines().length === 2)).toBe(true);
    expect(lines()).toEqual([
      'LOG GET /?via=relay 200 5 default/hello-00001 hello',
      'LOG GET /?via=http 200 5 default/hello-00001 hello',
    ]);

    api!.apply(configMap('config-observability', { 'logging.enable-request-log': 'false' }));
    await a.proc.waitForLine((l) => l.includes('"msg":"request log set"') && l.includes('"on":false'));
    expect((await send(`${a.url}/`, { headers: REVISION })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(lines()).toHaveLength(2);
  });

  it('leaves the level and tracing to the environment where it sets them', async () => {
    collector = await SpanCollector.start();
    const a = await start({ ACTIVATOR_LOG_LEVEL: 'info', TRACING_CONFIG_BACKEND: 'none' });
    api!.apply(
      configMap('config-tracing', {
        backend: 'zipkin',
        'zipkin-endpoint': collector.url,
        'sample-rate': '1',
      }),
    );
    await heldThenServed(a);
    await new Promise((r) => setTimeout(r, 1500));
    expect(debugLines(a)).toEqual([]);
    expect(collector.names).toEqual([]);
    expect(a.proc.logs().map((l) => l['msg'])).not.toContain('log level set');
  });
});
