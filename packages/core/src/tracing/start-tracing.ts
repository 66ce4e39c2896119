import type { Logger } from '../logger.js';
import { BatchExporter, type BatchOptions } from './batch-exporter.js';
import { httpSpanSender } from './http-span-sender.js';
import { encodeOtlpJson, encodeOtlpProtobuf, type ResourceAttributes } from './otlp-encoding.js';
import { Sampler } from './sampler.js';
import type { Span } from './span.js';
import { Tracer } from './tracer.js';
import type { TracingConfig } from './tracing-config.js';
import { encodeZipkin } from './zipkin-encoding.js';

/** A component's running tracing: its tracer, and the exporter's counts and shutdown. */
export interface Tracing {
  readonly tracer: Tracer;
  /** Spans dropped so far (a full queue, a failed export). */
  readonly dropped: () => number;
  /** Sends the spans still waiting, then closes the backend connection. */
  shutdown(): Promise<void>;
}

/**
 * Builds the tracer and exporter `config` asks for, or undefined when tracing is off, so the request path
 * checks one value. `resource` adds attributes to OTLP's resource (Zipkin has only the service name);
 * `logger` should be rate-limited: a backend that is down fails every export.
 */
export function startTracing(
  config: TracingConfig,
  logger: Logger,
  resource: ResourceAttributes = {},
  batch?: BatchOptions,
): Tracing | undefined {
  if (config.exporter === 'none') return undefined;
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
