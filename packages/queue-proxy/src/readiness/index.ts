/**
 * Readiness probing of the user container, the queue-proxy's counterpart of Knative's
 * `pkg/queue/readiness` and `pkg/queue/health`. The rest of the queue-proxy uses only what is exported
 * here: `parseReadinessProbes` (config) and `ReadinessProber` (the health handler). The transports, the
 * scheduling and the gRPC health codec stay internal to this folder.
 */

export { parseReadinessProbes } from './parse-readiness-probes.js';
export { ProbeConfigError } from './probe-config-error.js';
export type { GrpcProbeSpec, HttpProbeSpec, ProbeSpec, ProbeTiming, TcpProbeSpec } from './probe-spec.js';
export { ReadinessProber, type ReadinessProberOptions } from './readiness-prober.js';
export {
  AGGRESSIVE_ATTEMPT_TIMEOUT_MS,
  AGGRESSIVE_POLL_INTERVAL_MS,
  AGGRESSIVE_PROBE_TIMEOUT_MS,
} from './schedule-probe.js';
