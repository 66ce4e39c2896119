import type { Logger } from '../logger.js';
import { nodeCrypto } from '../node-builtins.js';
import { BatchExporter, type BatchOptions } from './batch-exporter.js';
import { grpcSpanSender } from './grpc-span-sender.js';
import { httpSpanSender, type SpanSenderHandle } from './http-span-sender.js';
import { encodeOtlpJson, encodeOtlpProtobuf, type ResourceAttributes } from './otlp-encoding.js';
import { Sampler } from './sampler.js';
import type { Span } from './span.js';
import type { Tracing } from './start-tracing.js';
import { Tracer } from './tracer.js';
import type { TracingConfig } from './tracing-config.js';
import { encodeZipkin } from './zipkin-encoding.js';

/**
 * Knative ≥ 1.19's `stdout` protocol, for debugging: each batch is one line on stdout, an OTLP
 * `ExportTraceServiceRequest` in JSON.
 */
function stdoutSpanSender(encode: (spans: readonly Span[]) => Buffer): SpanSenderHandle {
  return {
    send: async (spans) => {
      process.stdout.write(`${encode(spans).toString('utf8')}\n`);
    },
    close: () => undefined,
  };
}

/**
 * Builds the tracer and exporter of a `config` whose exporter is not `none`; {@link startTracing} loads
 * this module only then, so a process with tracing off never loads the exporter, its encoders, or
 * `node:crypto`.
 */
export function buildTracing(
  config: TracingConfig,
  logger: Logger,
  resource: ResourceAttributes,
  batch: BatchOptions | undefined,
): Tracing {
  // Span ids come from node:crypto: loaded now, so the first traced request does not pay for it.
  nodeCrypto();
  let sender: SpanSenderHandle;
  if (config.exporter === 'zipkin') {
    const local = { serviceName: config.serviceName };
    sender = httpSpanSender(config.endpoint, 'application/json', (spans: readonly Span[]) =>
      encodeZipkin(spans, local),
    );
  } else {
    const attrs = { 'service.name': config.serviceName, ...resource };
    const protobuf = (spans: readonly Span[]) => encodeOtlpProtobuf(spans, attrs);
    if (config.exporter === 'stdout') sender = stdoutSpanSender((spans) => encodeOtlpJson(spans, attrs));
    else if (config.protocol === 'grpc') sender = grpcSpanSender(config.endpoint, protobuf);
    else if (config.protocol === 'http/json')
      sender = httpSpanSender(config.endpoint, 'application/json', (spans) => encodeOtlpJson(spans, attrs));
    else sender = httpSpanSender(config.endpoint, 'application/x-protobuf', protobuf);
  }
  const exporter = new BatchExporter(sender.send, logger, batch);
  const tracer = new Tracer(new Sampler(config.sampler), exporter);
  logger.info(
    { exporter: config.exporter, endpoint: config.endpoint, samplingRate: config.sampler.ratio },
    'tracing on',
  );
  return {
    tracer,
    dropped: () => exporter.dropped,
    shutdown: async () => {
      await exporter.shutdown();
      sender.close();
    },
  };
}
