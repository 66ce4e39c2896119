import type { Logger } from '../logger.js';
import type { BatchOptions } from './batch-exporter.js';
import type { ResourceAttributes } from './otlp-encoding.js';
import type { Tracer } from './tracer.js';
import type { TracingConfig } from './tracing-config.js';

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
 * `logger` should be rate-limited: a backend that is down fails every export. The exporter, its encoders
 * and the HTTP sender are loaded only when tracing is on (docs/queue-proxy.md §12).
 */
export async function startTracing(
  config: TracingConfig,
  logger: Logger,
  resource: ResourceAttributes = {},
  batch?: BatchOptions,
): Promise<Tracing | undefined> {
  if (config.exporter === 'none') return undefined;
  const { buildTracing } = await import('./build-tracing.js');
  return buildTracing(config, logger, resource, batch);
}
