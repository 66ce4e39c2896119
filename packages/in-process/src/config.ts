import { hostname } from 'node:os';
import { type Env, EnvReader, type QueueProxyContract, readQueueProxyContract } from '@zerogate/core';

/**
 * The in-process mode's configuration: the part of the queue-proxy's (docs/queue-proxy.md §2) that applies
 * when the app serves its own port, read from the same variables Knative gives a Pod.
 */
export type InProcessConfig = QueueProxyContract;

/**
 * Reads the in-process configuration once from `env`: the queue-proxy's variables where they apply
 * (`CONTAINER_CONCURRENCY`, the `REVISION_*` timeouts, `QUEUE_*` ports and drain, `SERVING_*` identity and
 * observability), each optional, with the identity falling back to the `K_*` variables Knative gives every
 * user container and the pod name to the host name. Variables of the sidecar alone (`QUEUE_SERVING_PORT`,
 * `USER_PORT`, readiness probe, TLS) are ignored. Throws a ConfigError naming every bad variable.
 */
export function loadConfig(env: Env): Readonly<InProcessConfig> {
  const r = new EnvReader(env);
  const config = readQueueProxyContract(r, { pod: hostname() });
  r.distinctPorts([
    ['QUEUE_ADMIN_PORT', config.adminPort],
    ['QUEUE_STATS_PORT', config.statsPort],
    ...(config.requestMetrics ? [['QUEUE_METRICS_PORT', config.metricsPort] as const] : []),
  ]);
  r.finish();
  return Object.freeze(config);
}

/** Checks option overrides once, throwing a RangeError that names the option. */
export function checkConfig(config: InProcessConfig): void {
  const counts: (keyof InProcessConfig)[] = [
    'containerConcurrency',
    'revisionTimeoutMs',
    'responseStartTimeoutMs',
    'idleTimeoutMs',
    'drainQuietMs',
    'sigtermWaitMs',
  ];
  for (const name of counts) {
    const v = config[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new RangeError(`attach option ${name} must be a non-negative integer, got ${String(v)}`);
    }
  }
  for (const name of ['adminPort', 'statsPort', 'metricsPort'] as const) {
    const v = config[name];
    if (!Number.isInteger(v) || v < 0 || v > 65535) {
      throw new RangeError(`attach option ${name} must be a port (0–65535), got ${String(v)}`);
    }
  }
}
