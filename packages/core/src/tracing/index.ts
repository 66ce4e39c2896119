// The exporter, its encoders and the HTTP sender stay out of this index: startTracing loads them only when
// tracing is on, so a process with tracing off does not (docs/queue-proxy.md §12).
export type { BatchOptions, SpanSender } from './batch-exporter.js';
export type { ResourceAttributes } from './otlp-encoding.js';
export * from './sampler.js';
export * from './span.js';
export * from './span-ids.js';
export * from './start-tracing.js';
export * from './trace-context.js';
export * from './tracer.js';
export * from './tracing-config.js';
export type { LocalEndpoint } from './zipkin-encoding.js';
