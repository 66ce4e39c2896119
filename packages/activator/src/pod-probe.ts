import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';
import type { PodProbe } from './revision-backends.js';

/*
 * undici's request API from its own module, called on the dispatcher: undici's index would also load
 * fetch, WebSocket, caches and mocks (the dispatchers come from their own modules, which do not carry the
 * `request` method the index adds to them).
 */
const require = createRequire(import.meta.url);
const request: (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData> =
  require('undici/lib/api/api-request.js');

/** Headers of the activator's probe of a queue-proxy (docs/activator.md §4.2). */
const PROBE_HEADERS = { 'k-network-probe': 'queue', 'user-agent': 'Knative-Activator-Probe' };

/**
 * Builds the probe of a Pod's queue-proxy: `GET /healthz` through the same dispatcher that forwards
 * requests (so the probe's connection is reused for the first request), passing only on
 * `200` with body exactly `queue`, within `timeoutMs`.
 */
export function queueProxyProbe(dispatcher: Dispatcher, timeoutMs: number): PodProbe {
  return async (address) => {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await request.call(dispatcher, {
        origin: `http://${address}`,
        path: '/healthz',
        method: 'GET',
        headers: PROBE_HEADERS,
        signal,
      });
      const body = await res.body.text();
      return res.statusCode === 200 && body === 'queue';
    } catch {
      return false;
    }
  };
}
