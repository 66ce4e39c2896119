/*
 * Fills Node's module compile cache with every module the queue-proxy may load, without starting it: the
 * modules of its start, the request metrics and tracing's exporter (loaded when they are on) and undici's
 * HTTP/1.1 client (loaded by the first TLS or gRPC request). The image runs it at build time with NODE_COMPILE_CACHE naming the
 * cache folder and NODE_COMPILE_CACHE_PORTABLE=1, so that the cache holds wherever the application folder
 * is, and ships the folder: a read-only container starts from it without writing anything.
 */
import { flushCompileCache, getCompileCacheDir } from 'node:module';

if (getCompileCacheDir() === undefined) {
  process.stderr.write('fill-compile-cache: NODE_COMPILE_CACHE must name the folder to fill\n');
  process.exit(1);
}
await import('./run-queue-proxy.js');
await import('@zerogate/core/request-metrics');
const { createAgent, createLogger, createPool, startTracing, TRACING_OFF } = await import('@zerogate/core');
// Neither connects before a request is dispatched.
await Promise.all([createPool('http://127.0.0.1:1').close(), createAgent().close()]);
// Nor does the exporter before a span ends.
const tracing = await startTracing(
  { ...TRACING_OFF, exporter: 'otlp', endpoint: 'http://127.0.0.1:1/v1/traces' },
  createLogger({ level: 'silent', base: {} }),
);
await tracing?.shutdown();
flushCompileCache();
