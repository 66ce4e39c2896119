import { describe, expect, it } from 'vitest';
import { queueProxyEnv, spawnNode } from './support/processes.js';

async function runWith(env: Record<string, string>) {
  const proc = spawnNode('packages/queue-proxy/dist/main.js', env);
  const code = await proc.exit();
  return { code, stderr: proc.stderr.join(''), stdout: proc.stdout.join('\n') };
}

describe('queue-proxy configuration errors', () => {
  it('exits 1 before listening, one line per bad variable, naming each', async () => {
    const env = queueProxyEnv(8080, {
      CONTAINER_CONCURRENCY: 'ten',
      QUEUE_SERVING_PORT: '70000',
      SERVING_READINESS_PROBE: '{"tcpSocket":',
      REVISION_TIMEOUT_SECONDS: '-1',
    });
    delete (env as Record<string, string | undefined>).SERVING_POD;
    const { code, stderr, stdout } = await runWith(env);
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(stderr).toMatch(/^queue-proxy: CONTAINER_CONCURRENCY: must be an integer, got "ten"$/m);
    expect(stderr).toMatch(/^queue-proxy: QUEUE_SERVING_PORT: must be at most 65535, got 70000$/m);
    expect(stderr).toMatch(/^queue-proxy: SERVING_READINESS_PROBE: is not valid JSON/m);
    expect(stderr).toMatch(/^queue-proxy: REVISION_TIMEOUT_SECONDS: must be at least 0, got -1$/m);
    expect(stderr).toMatch(/^queue-proxy: SERVING_POD: is required but not set$/m);
    expect(stdout).not.toContain('started');
  });

  it('rejects a probe it cannot run, naming the variable', async () => {
    const { code, stderr } = await runWith(
      queueProxyEnv(8080, { SERVING_READINESS_PROBE: JSON.stringify({ httpGet: { port: 'http' } }) }),
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/^queue-proxy: SERVING_READINESS_PROBE: /m);
  });

  it('rejects bad tracing settings of either Knative era, naming each variable', async () => {
    const { code, stderr } = await runWith(
      queueProxyEnv(8080, {
        TRACING_CONFIG_BACKEND: 'zipkin',
        TRACING_CONFIG_ZIPKIN_ENDPOINT: 'zipkin:9411',
        TRACING_CONFIG_SAMPLE_RATE: '2',
        OTEL_TRACES_SAMPLER: 'sometimes',
      }),
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^queue-proxy: TRACING_CONFIG_ZIPKIN_ENDPOINT: must be an http:\/\/ or https:\/\/ URL/m,
    );
    expect(stderr).toMatch(
      /^queue-proxy: TRACING_CONFIG_SAMPLE_RATE: must be a number from 0 to 1, got "2"$/m,
    );
    expect(stderr).toMatch(/^queue-proxy: OTEL_TRACES_SAMPLER: must be always_on/m);
    const otlp = await runWith(
      queueProxyEnv(8080, {
        OBSERVABILITY_CONFIG: '{"tracing":{"protocol":"thrift","endpoint":"http://collector:4317"}}',
      }),
    );
    expect(otlp.code).toBe(1);
    expect(otlp.stderr).toMatch(
      /^queue-proxy: OBSERVABILITY_CONFIG: tracing.protocol must be http\/protobuf, http\/json, grpc, stdout or none/m,
    );
  });

  it('rejects an unknown log level and a port clash', async () => {
    const { code, stderr } = await runWith(
      queueProxyEnv(8080, {
        SERVING_LOGGING_LEVEL: 'loud',
        QUEUE_ADMIN_PORT: '9999',
        QUEUE_STATS_PORT: '9999',
      }),
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/SERVING_LOGGING_LEVEL: unknown level "loud"/);
    expect(stderr).toMatch(/QUEUE_STATS_PORT: port 9999 is already used by QUEUE_ADMIN_PORT/);
  });

  it('exits with a clear message when a port is taken', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { code, stdout, stderr } = await runWith(
        queueProxyEnv(8080, { QUEUE_SERVING_PORT: String(port) }),
      );
      expect(code).toBe(1);
      expect(stdout + stderr).toContain(`EADDRINUSE`);
      expect(stdout + stderr).toContain(String(port));
    } finally {
      blocker.close();
    }
  });
});
