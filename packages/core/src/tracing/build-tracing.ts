import type { Logger } from '../logger.js';
import { nodeCrypto } from '../node-builtins.js';
import { BatchExporter, type BatchOptions } from './batch-exporter.js';
import { httpSpanSender } from './http-span-sender.js';
import { encodeOtlpJson, encodeOtlpProtobuf, type ResourceAttributes } from './otlp-encoding.js';
import { Sampler } from './sampler.js';
import type { Span } from './span.js';
import type { Tracing } from './start-tracing.js';
import { Tracer } from './tracer.js';
import type { TracingConfig } from './tracing-config.js';
import { encodeZipkin } from './zipkin-encoding.js';

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
  let sender: ReturnType<typeof httpSpanSender>;
  if (config.exporter === 'zipkin') {
    const local = { serviceName: config.serviceName };
    sender = httpSpanSender(config.endpoint, 'application/json', (spans: readonly Span[]) =>
      encodeZipkin(spans, local),
    );
  } else {
    const attrs = { 'service.name': config.serviceName, ...resource };
    sender =
      config.protocol === 'http/json'
        ? httpSpanSender(config.endpoint, 'application/json', (spans) => encodeOtlpJson(spans, attrs))
        : httpSpanSender(config.endpoint, 'application/x-protobuf', (spans) =>
            encodeOtlpProtobuf(spans, attrs),
          );
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
