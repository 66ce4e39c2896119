import { type Dispatcher, request } from 'undici';
import type { PodProbe } from './revision-backends.js';

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
      // undici's top-level `request` with the dispatcher passed in: the dispatchers come from undici's
      // own modules, which do not carry the `request` method its index adds.
      const res = await request(`http://${address}/healthz`, { dispatcher, headers: PROBE_HEADERS, signal });
      const body = await res.body.text();
      return res.statusCode === 200 && body === 'queue';
    } catch {
      return false;
    }
  };
}
