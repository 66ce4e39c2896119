import { describe, expect, it } from 'vitest';
import { commandLabel, queueProxyEnv } from './queue-proxy.js';

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
});

describe('commandLabel', () => {
  it("is the base name of the command's first word", () => {
    expect(commandLabel('/opt/knative/queue -v')).toBe('queue');
    expect(commandLabel('  node dist/main.js')).toBe('node');
  });
});
