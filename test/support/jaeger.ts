/**
 * Jaeger v2 (built by `npm run jaeger:build`, gated as the `jaeger` tool) started for a test: a real trace
 * backend taking Zipkin v2 JSON, OTLP/HTTP and OTLP/gRPC on loopback, its spans read back through its own query API.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, eventually } from './http.js';
import { TestProcess } from './processes.js';

/** One span as Jaeger's query API (`/api/traces/{id}`) gives it. */
export interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  readonly references: readonly { refType: string; traceID: string; spanID: string }[];
  readonly startTime: number;
  readonly duration: number;
  readonly tags: readonly { key: string; type: string; value: unknown }[];
  readonly processID: string;
  /** The service of the span's process, filled in from the trace's `processes`. */
  serviceName: string;
}

/** A running Jaeger. */
export interface RunningJaeger {
  /** Zipkin's v2 span API. */
  readonly zipkinUrl: string;
  /** OTLP/HTTP's traces path. */
  readonly otlpUrl: string;
  /** OTLP/gRPC's receiver, as an h2c origin. */
  readonly otlpGrpcUrl: string;
  /** The spans of a trace so far (none when Jaeger has not seen it). */
  spans(traceId: string): Promise<JaegerSpan[]>;
  /** Waits until the trace has every span named in `names` (a name twice: two such spans), and returns them. */
  waitForSpans(traceId: string, names: readonly string[], timeoutMs?: number): Promise<JaegerSpan[]>;
  stop(): Promise<void>;
}

/** A free loopback port (bound, read, released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the Jaeger at `binary` on free loopback ports, in-memory storage, and waits for every port. */
export async function startJaeger(binary: string): Promise<RunningJaeger> {
  const [query, grpc, otlp, otlpGrpc, zipkin] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const dir = await mkdtemp(join(tmpdir(), 'zerogate-jaeger-'));
  const config = join(dir, 'config.yaml');
  // Every listener on 127.0.0.1; the collector's own telemetry (port 8888 by default) off.
  await writeFile(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp, zipkin]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${query}
    grpc:
      endpoint: 127.0.0.1:${grpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
      grpc:
        endpoint: 127.0.0.1:${otlpGrpc}
  zipkin:
    endpoint: 127.0.0.1:${zipkin}
processors:
  batch:
    timeout: 50ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`,
  );
  const proc = new TestProcess(spawn(binary, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const queryUrl = `http://127.0.0.1:${query}`;
  const answers = async (url: string) => {
    try {
      await fetch(url);
      return true;
    } catch {
      return false;
    }
  };
  const up = await eventually(
    async () =>
      (await answers(`${queryUrl}/api/services`)) &&
      (await answers(`http://127.0.0.1:${zipkin}/`)) &&
      (await answers(`http://127.0.0.1:${otlp}/`)) &&
      (await accepts(otlpGrpc)),
    30_000,
  );
  if (!up) {
    await proc.kill();
    throw new Error(`jaeger did not start; stderr:\n${proc.stderr.join('').slice(-4000)}`);
  }
  const spans = async (traceId: string): Promise<JaegerSpan[]> => {
    const res = await fetch(`${queryUrl}/api/traces/${traceId}`);
    if (res.status === 404) return [];
    const body = (await res.json()) as {
      data: {
        spans: JaegerSpan[];
        processes: Record<string, { serviceName: string; tags?: JaegerSpan['tags'] }>;
      }[];
    };
    // A Zipkin span's tags that name a resource (`k8s.pod.name`) land on its process: both are read.
    return (body.data ?? []).flatMap((t) =>
      t.spans.map((s) => {
        const process = t.processes[s.processID];
        return { ...s, tags: [...s.tags, ...(process?.tags ?? [])], serviceName: process?.serviceName ?? '' };
      }),
    );
  };
  return {
    zipkinUrl: `http://127.0.0.1:${zipkin}/api/v2/spans`,
    otlpUrl: `http://127.0.0.1:${otlp}/v1/traces`,
    otlpGrpcUrl: `http://127.0.0.1:${otlpGrpc}`,
    spans,
    waitForSpans: async (traceId, names, timeoutMs = 20_000) => {
      let last: JaegerSpan[] = [];
      const complete = await eventually(async () => {
        last = await spans(traceId);
        const left = [...names];
        for (const s of last) {
          const i = left.indexOf(s.operationName);
          if (i >= 0) left.splice(i, 1);
        }
        return left.length === 0;
      }, timeoutMs);
      if (!complete)
        throw new Error(
          `trace ${traceId} lacks some of ${names.join(', ')}; has ${last.map((s) => s.operationName).join(', ')}`,
        );
      return last;
    },
    stop: async () => {
      await proc.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The value of a span's tag (or its process's), or undefined. */
export function tag(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

/** The span id a span names as its parent (`CHILD_OF`), or '' for a root. */
export function parentOf(span: JaegerSpan): string {
  return span.references.find((r) => r.refType === 'CHILD_OF')?.spanID ?? '';
}
