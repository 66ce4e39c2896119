import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  activatorEnv,
  endpointsDocument,
  queueProxyEnv,
  revisionsDocument,
  writeEndpointsFile,
  writeRevisionsFile,
} from './common.js';

describe('queueProxyEnv', () => {
  it("sets Knative's variables and ours, with a TCP readiness probe on the app", () => {
    const env = queueProxyEnv(10, 8080, {
      serving: 8012,
      tls: 8112,
      admin: 8022,
      stats: 9090,
      metrics: 9091,
    });
    expect(env).toMatchObject({
      CONTAINER_CONCURRENCY: '10',
      QUEUE_SERVING_PORT: '8012',
      QUEUE_SERVING_TLS_PORT: '8112',
      USER_PORT: '8080',
      REVISION_TIMEOUT_SECONDS: '300',
      SERVING_POD_IP: '127.0.0.1',
      QUEUE_BIND_ADDRESS: '127.0.0.1',
      QUEUE_ADMIN_PORT: '8022',
      QUEUE_STATS_PORT: '9090',
      QUEUE_METRICS_PORT: '9091',
    });
    expect(JSON.parse(env['SERVING_READINESS_PROBE']!)).toEqual({
      tcpSocket: { port: 8080, host: '127.0.0.1' },
      successThreshold: 1,
    });
  });

  it("sets every variable Knative's queue-proxy requires, and turns its tracing and request metrics off", () => {
    const env = queueProxyEnv(0, 8080, { serving: 1, tls: 2, admin: 3, stats: 4, metrics: 5 });
    // The `required:"true"` fields of pkg/queue/sharedmain's config.
    for (const name of [
      'CONTAINER_CONCURRENCY',
      'QUEUE_SERVING_PORT',
      'QUEUE_SERVING_TLS_PORT',
      'USER_PORT',
      'REVISION_TIMEOUT_SECONDS',
      'SERVING_LOGGING_CONFIG',
      'SERVING_LOGGING_LEVEL',
      'SERVING_NAMESPACE',
      'SERVING_CONFIGURATION',
      'SERVING_REVISION',
      'SERVING_POD',
      'SERVING_POD_IP',
    ]) {
      expect(env, name).toHaveProperty(name);
    }
    // An unset backend is not `none` to Knative's queue-proxy: it would trace every request.
    expect(env).toMatchObject({
      TRACING_CONFIG_BACKEND: 'none',
      SERVING_REQUEST_METRICS_BACKEND: '',
      SERVING_ENABLE_REQUEST_LOG: 'false',
      ENABLE_PROFILING: 'false',
    });
  });
});

describe('endpointsDocument', () => {
  it('lists the benchmark revision at CC=0 with the given Pods', () => {
    expect(JSON.parse(endpointsDocument([{ address: '127.0.0.1:8012', ready: false }]))).toEqual({
      revisions: [
        {
          namespace: 'default',
          name: 'hello-00001',
          containerConcurrency: 0,
          timeoutSeconds: 300,
          endpoints: [{ address: '127.0.0.1:8012', ready: false }],
        },
      ],
    });
  });

  it('keeps the revision when it has no Pods', () => {
    expect(JSON.parse(endpointsDocument([])).revisions[0].endpoints).toEqual([]);
  });
});

describe('revisionsDocument', () => {
  it('lists several revisions, each with its Pods, and annotations only where given', () => {
    const doc = JSON.parse(
      revisionsDocument([
        { name: 'a-00001', endpoints: [] },
        {
          name: 'b-00001',
          endpoints: [{ address: '127.0.0.1:9', ready: true }],
          containerConcurrency: 2,
          annotations: { 'zerogate.dev/slow-start': '0s' },
        },
      ]),
    );
    expect(doc).toEqual({
      revisions: [
        {
          namespace: 'default',
          name: 'a-00001',
          containerConcurrency: 0,
          timeoutSeconds: 300,
          endpoints: [],
        },
        {
          namespace: 'default',
          name: 'b-00001',
          containerConcurrency: 2,
          timeoutSeconds: 300,
          endpoints: [{ address: '127.0.0.1:9', ready: true }],
          annotations: { 'zerogate.dev/slow-start': '0s' },
        },
      ],
    });
    expect(doc.revisions[0]).not.toHaveProperty('annotations');
  });

  it('writes the one benchmark revision exactly as endpointsDocument does', () => {
    const pods = [{ address: '127.0.0.1:8012', ready: false }];
    expect(revisionsDocument([{ name: 'hello-00001', endpoints: pods }])).toBe(endpointsDocument(pods));
  });
});

describe('writeEndpointsFile', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('replaces the file whole and leaves no temporary file behind', () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-endpoints-'));
    const path = join(dir, 'endpoints.json');
    writeEndpointsFile(path, [{ address: '127.0.0.1:1', ready: true }]);
    writeEndpointsFile(path, []);
    expect(readFileSync(path, 'utf8')).toBe(endpointsDocument([]));
    expect(readdirSync(dir)).toEqual(['endpoints.json']);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  it('writes several revisions the same way', () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-endpoints-'));
    const path = join(dir, 'endpoints.json');
    const revisions = [
      { name: 'a-00001', endpoints: [] },
      { name: 'b-00001', endpoints: [], annotations: { 'zerogate.dev/slow-start': '0s' } },
    ];
    writeRevisionsFile(path, revisions);
    expect(readFileSync(path, 'utf8')).toBe(revisionsDocument(revisions));
    expect(readdirSync(dir)).toEqual(['endpoints.json']);
  });
});

describe('activatorEnv', () => {
  it('binds loopback, reads the file source and points at the given autoscaler port', () => {
    expect(activatorEnv({ http: 8012, metrics: 9090, autoscaler: 8080 }, '/tmp/e.json')).toEqual({
      POD_NAME: 'activator-bench',
      POD_IP: '127.0.0.1',
      ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
      ACTIVATOR_HTTP_PORT: '8012',
      ACTIVATOR_H2C_PORT: '0',
      ACTIVATOR_METRICS_PORT: '9090',
      ACTIVATOR_ENDPOINTS_SOURCE: 'file',
      ACTIVATOR_ENDPOINTS_FILE: '/tmp/e.json',
      AUTOSCALER_URL: 'ws://127.0.0.1:8080',
      ACTIVATOR_DRAIN_SECONDS: '0',
    });
  });
});

describe('queueProxyEnv with a readiness probe', () => {
  it('passes the given probe instead of the TCP one', () => {
    const env = queueProxyEnv(
      0,
      8080,
      { serving: 1, tls: 2, admin: 3, stats: 4, metrics: 5 },
      {
        grpc: { port: 8080, service: '' },
      },
    );
    expect(JSON.parse(env['SERVING_READINESS_PROBE']!)).toEqual({ grpc: { port: 8080, service: '' } });
  });
});
