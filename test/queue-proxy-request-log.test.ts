import { connect } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { eventually, h2Exchange, KUBELET_PROBE, send } from './support/http.js';
import { queueProxyEnv, spawnNode, startQueueProxy, startUserApp } from './support/processes.js';

/**
 * Knative's documented request log template: `logging.request-log-template` in the example of
 * config/core/configmaps/observability.yaml (Knative ≥ 1.19, also its `DefaultRequestLogTemplate`).
 */
const KNATIVE_TEMPLATE =
  '{"httpRequest": {"requestMethod": "{{.Request.Method}}", "requestUrl": "{{js .Request.RequestURI}}", "requestSize": "{{.Request.ContentLength}}", "status": {{.Response.Code}}, "responseSize": "{{.Response.Size}}", "userAgent": "{{js .Request.UserAgent}}", "remoteIp": "{{js .Request.RemoteAddr}}", "serverIp": "{{.Revision.PodIP}}", "referer": "{{js .Request.Referer}}", "latency": "{{.Response.Latency}}s", "protocol": "{{.Request.Proto}}"}, "traceId": "{{.TraceID}}"}';

/** The same example as Knative ≤ 1.18 documents it: the B3 trace ID read from the headers by `index`. */
const KNATIVE_118_TEMPLATE = KNATIVE_TEMPLATE.replace(
  '{{.TraceID}}',
  '{{index .Request.Header "X-B3-Traceid"}}',
);

/** Fields and functions beyond the documented example, one per `|`-separated part. */
const FIELDS_TEMPLATE =
  '{{.Request.URL.Path}}|{{.Request.URL.RawQuery}}|{{.Request.URL}}|{{.Request.Host}}|{{.Request.Header.Get "x-custom"}}|{{printf "%s/%d" .Revision.Name .Response.Code}}|{{.Revision.Namespace}}|{{.Revision.Service}}|{{.Revision.Configuration}}|{{.Revision.PodName}}|{{if ge .Response.Code 400}}error{{else}}ok{{end}}|{{urlquery .Request.Method "a b"}}|{{len .Request.Method | printf "%03d"}}';

interface Line {
  httpRequest: Record<string, unknown>;
  traceId: string;
}

function templateLines(stdout: readonly string[]): Line[] {
  return stdout.filter((l) => l.startsWith('{"httpRequest"')).map((l) => JSON.parse(l) as Line);
}

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe.each([
  { relay: 'true', path: 'the raw relay' },
  { relay: 'false', path: 'node:http and undici' },
])('queue-proxy templated request log through $path', ({ relay }) => {
  it('writes Knative’s documented JSON template, one line per request, no probes (Knative ≥ 1.19 config)', async () => {
    const app = await startUserApp();
    const qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        QUEUE_HTTP1_RELAY: relay,
        OBSERVABILITY_CONFIG: JSON.stringify({
          enableRequestLog: true,
          requestLogTemplate: KNATIVE_TEMPLATE,
        }),
      }),
    );
    const body = 'x'.repeat(11);
    const res = await send(`${qp.url}/echo?a=1&b=2`, {
      method: 'POST',
      body,
      headers: {
        'user-agent': 'test-agent <1>',
        referer: 'http://ref.example/',
        traceparent,
        'content-length': String(body.length),
      },
    });
    expect(res.status).toBe(200);
    await send(`${qp.url}/status?code=404`);
    // A health check, answered by the queue-proxy itself: not in the log with the probe log off. The
    // request after it marks where its line would be (one process writes the lines in order).
    expect((await send(`${qp.url}/`, { headers: KUBELET_PROBE })).status).toBe(200);
    await send(`${qp.url}/status?code=204`);
    await qp.proc.waitForLine((l) => l.includes('"status": 204'));
    const lines = templateLines(qp.proc.stdout);
    expect(lines).toHaveLength(3);
    const [first, second] = lines as [Line, Line];
    expect(first.httpRequest).toMatchObject({
      requestMethod: 'POST',
      requestUrl: '/echo?a=1&b=2',
      requestSize: '11',
      status: 200,
      responseSize: String(Buffer.byteLength(res.body)),
      userAgent: 'test-agent <1>',
      serverIp: '127.0.0.1',
      referer: 'http://ref.example/',
      protocol: 'HTTP/1.1',
    });
    expect(first.httpRequest.remoteIp).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(first.httpRequest.latency).toMatch(/^\d+(\.\d+)?(e-\d+)?s$/);
    expect(first.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(second.httpRequest).toMatchObject({
      requestMethod: 'GET',
      status: 404,
      responseSize: '10',
      requestSize: '0',
    });
    expect(second.traceId).toBe('');
    // The template replaces the JSON logger's request lines.
    expect(qp.proc.logs().some((l) => l.msg === 'request')).toBe(false);
  });

  it('logs probes too with the probe request log on (Knative ≤ 1.18 variables, B3 trace ID by index)', async () => {
    const app = await startUserApp();
    const qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        QUEUE_HTTP1_RELAY: relay,
        SERVING_ENABLE_REQUEST_LOG: 'true',
        SERVING_ENABLE_PROBE_REQUEST_LOG: 'true',
        SERVING_REQUEST_LOG_TEMPLATE: KNATIVE_118_TEMPLATE,
      }),
    );
    await send(`${qp.url}/`, { headers: { 'x-b3-traceid': 'b3-trace' } });
    await send(`${qp.url}/`, { headers: KUBELET_PROBE });
    await send(`${qp.url}/`, { headers: { 'k-network-probe': 'probe', 'k-network-hash': 'h' } });
    expect(await eventually(() => templateLines(qp.proc.stdout).length === 3, 10_000)).toBe(true);
    const lines = templateLines(qp.proc.stdout);
    expect(lines[0]).toMatchObject({
      httpRequest: { status: 200, responseSize: '5' },
      traceId: '[b3-trace]',
    });
    const probe = lines.find((l) => l.httpRequest.userAgent === 'kube-probe/1.30')!;
    expect(probe).toMatchObject({ httpRequest: { status: 200, responseSize: '5' }, traceId: '[]' });
    // The network probe, answered with its hash echoed and no body.
    expect(
      lines.filter((l) => l.httpRequest.responseSize === '0' && l.httpRequest.status === 200),
    ).toHaveLength(1);
    expect(lines).toHaveLength(3);
  });

  it('gives the other documented fields and template functions', async () => {
    const app = await startUserApp();
    const qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        QUEUE_HTTP1_RELAY: relay,
        SERVING_SERVICE: 'hello-svc',
        SERVING_ENABLE_REQUEST_LOG: 'true',
        SERVING_REQUEST_LOG_TEMPLATE: FIELDS_TEMPLATE,
      }),
    );
    await send(`${qp.url}/status?code=503`, { headers: { 'X-Custom': 'v1', host: 'hello.default.example' } });
    const line = await qp.proc.waitForLine((l) => l.startsWith('/status|'));
    expect(line.split('|')).toEqual([
      '/status',
      'code=503',
      '/status?code=503',
      'hello.default.example',
      'v1',
      'hello-00001/503',
      'default',
      'hello-svc',
      'hello',
      'hello-00001-deployment-abc',
      'error',
      // fmt.Sprint of two strings puts no space between them.
      'GETa+b',
      '003',
    ]);
  });
});

describe('queue-proxy templated request log over HTTP/2', () => {
  it('gives an h2c request Go’s HTTP/2 fields: HTTP/2.0, Host from :authority, the body bytes relayed', async () => {
    const appProc = spawnNode('test/support/h2c-app.mjs', { PORT: '0' });
    const appPort = (
      JSON.parse(await appProc.waitForLine((l) => l.startsWith('{"port"'))) as { port: number }
    ).port;
    const qp = await startQueueProxy(
      queueProxyEnv(appPort, {
        SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: appPort } }),
        SERVING_ENABLE_REQUEST_LOG: 'true',
        SERVING_REQUEST_LOG_TEMPLATE:
          'H2 {{.Request.Proto}} {{.Request.ProtoMajor}} {{.Request.Host}} {{.Request.Method}} {{.Request.URL}} {{.Request.UserAgent}} {{.Response.Code}} {{.Response.Size}} {{.Request.RemoteAddr}} {{len (.Request.Header.Values ":path")}}',
      }),
    );
    const session = connect(qp.url);
    let reply: Awaited<ReturnType<typeof h2Exchange>>;
    try {
      reply = await h2Exchange(session, {
        ':method': 'GET',
        ':path': '/echo?x=1',
        ':authority': 'hello.default.example.com',
        'user-agent': 'h2-client',
      });
    } finally {
      session.close();
    }
    expect(reply.status).toBe(200);
    const line = await qp.proc.waitForLine((l) => l.startsWith('H2 '));
    expect(line).toMatch(
      new RegExp(
        `^H2 HTTP/2\\.0 2 hello\\.default\\.example\\.com GET /echo\\?x=1 h2-client 200 ${Buffer.byteLength(reply.body)} 127\\.0\\.0\\.1:\\d+ 0$`,
      ),
    );
  });
});

describe('queue-proxy request log settings', () => {
  it('keeps the JSON logger’s request lines when the log is on without a template', async () => {
    const app = await startUserApp();
    const qp = await startQueueProxy(queueProxyEnv(app.port, { SERVING_ENABLE_REQUEST_LOG: 'true' }));
    await send(`${qp.url}/status?code=202`);
    const line = await qp.proc.waitForLine((l) => l.includes('"msg":"request"'));
    expect(JSON.parse(line)).toMatchObject({ method: 'GET', path: '/status?code=202', status: 202 });
  });

  it('writes nothing with a template but the log off', async () => {
    const app = await startUserApp();
    const qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        SERVING_ENABLE_REQUEST_LOG: 'false',
        SERVING_ENABLE_PROBE_REQUEST_LOG: 'true',
        QUEUE_DRAIN_QUIET_SECONDS: '0',
        SERVING_REQUEST_LOG_TEMPLATE: 'LINE {{.Request.Method}}',
      }),
    );
    await send(`${qp.url}/`);
    await send(`${qp.url}/`, { headers: KUBELET_PROBE });
    // Its shutdown flushes stdout: every line it would have written is read by then.
    qp.proc.signal('SIGTERM');
    await qp.proc.exit();
    expect(qp.proc.stdout.some((l) => l.startsWith('LINE'))).toBe(false);
  });

  it('exits 1 at start naming SERVING_REQUEST_LOG_TEMPLATE when the template does not parse', async () => {
    const proc = spawnNode(
      'packages/queue-proxy/dist/main.js',
      queueProxyEnv(1, {
        SERVING_ENABLE_REQUEST_LOG: 'true',
        SERVING_REQUEST_LOG_TEMPLATE: '{{.Request.Method',
      }),
    );
    expect(await proc.exit()).toBe(1);
    expect(proc.stderr.join('')).toMatch(
      /SERVING_REQUEST_LOG_TEMPLATE: request log template does not parse: .*unclosed action/,
    );
  });

  it('exits 1 naming OBSERVABILITY_CONFIG for a bad requestLogTemplate there', async () => {
    const proc = spawnNode(
      'packages/queue-proxy/dist/main.js',
      queueProxyEnv(1, {
        OBSERVABILITY_CONFIG: JSON.stringify({ enableRequestLog: true, requestLogTemplate: '{{nosuch .X}}' }),
      }),
    );
    expect(await proc.exit()).toBe(1);
    expect(proc.stderr.join('')).toMatch(
      /OBSERVABILITY_CONFIG: request log template does not parse: .*function "nosuch" not defined/,
    );
  });
});
