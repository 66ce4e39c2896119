import type { ServerResponse } from 'node:http';
import { type ErrorCode, zerogateErrorHeaders } from './errors.js';
import type { RequestFacts } from './request-facts.js';
import { sendError, sendText } from './respond.js';

/**
 * The probes a queue-proxy answers itself, on any path, before a request reaches the app
 * (docs/queue-proxy.md §3.1, §4): shared by the queue-proxy sidecar and the in-process mode, so both speak
 * the same contract to the kubelet, the activator and the autoscaler.
 */

/**
 * Answers a probe with a coded error, a 5xx marked `Zerogate-Error: queue-proxy; <reason>`
 * (docs/wire.md §6): a probe refused because the Pod is not ready or is draining is the platform's
 * answer, not the app's, whether the sidecar or the in-process mode gives it. Status and body stay
 * Knative's.
 */
export function sendProbeError(res: ServerResponse, code: ErrorCode, detail?: string): void {
  sendError(res, code, zerogateErrorHeaders('queue-proxy', code), detail);
}

/** User agents whose requests are health checks answered by the queue-proxy itself, on any path. */
const PROBE_AGENTS = ['kube-probe/', 'Knative-Activator-Probe', 'Knative-Autoscaling-Probe'];

/** True for the user agent of a kubelet, activator or autoscaler health check. */
export function isProbeAgent(ua: string): boolean {
  if (ua === '') return false;
  for (const prefix of PROBE_AGENTS) if (ua.startsWith(prefix)) return true;
  return false;
}

/**
 * Answers a health check that is refused before readiness is asked: `503 shutting down` while draining,
 * `400 unexpected probe header value: <v>` unless `K-Network-Probe: queue`. Returns true when it answered.
 */
export function refuseHealthCheck(facts: RequestFacts, res: ServerResponse, draining: boolean): boolean {
  if (draining) {
    sendProbeError(res, 'SHUTTING_DOWN');
    return true;
  }
  if (facts.networkProbe !== 'queue') {
    sendError(res, 'UNEXPECTED_PROBE', undefined, facts.networkProbe ?? '');
    return true;
  }
  return false;
}

/** Answers a health check once readiness is known: `200 queue` when ready, else an empty 503. */
export function answerHealthCheck(res: ServerResponse, ready: boolean, draining: boolean): void {
  if (res.destroyed || res.headersSent) return;
  if (draining) sendProbeError(res, 'SHUTTING_DOWN');
  else if (ready) sendText(res, 200, 'queue');
  else sendProbeError(res, 'NOT_READY');
}

/** `K-Network-Probe: probe`: echoes `K-Network-Hash` with 200; 400 without one; 503 while draining. */
export function answerNetworkProbe(facts: RequestFacts, res: ServerResponse, draining: boolean): void {
  if (draining) {
    sendProbeError(res, 'SHUTTING_DOWN');
    return;
  }
  if (facts.networkHash === '') {
    sendError(res, 'PROBE_HASH_MISSING');
    return;
  }
  res.writeHead(200, { 'k-network-hash': facts.networkHash, 'content-length': 0 });
  res.end();
}
