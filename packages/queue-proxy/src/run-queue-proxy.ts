import { runComponent } from '@zerogate/core';
import { loadConfig } from './config.js';
import { startQueueProxy } from './queue-proxy.js';

/** Runs the queue-proxy as this process: configuration from the environment, until SIGTERM. */
export function runQueueProxy(): Promise<void> {
  return runComponent({
    name: 'queue-proxy',
    load: loadConfig,
    logLevel: (c) => c.logLevel,
    logBase: (c) => ({ component: 'queue-proxy', revision: c.revision, pod: c.pod }),
    start: startQueueProxy,
    summary: ({ readinessProbes, internalTls, ...rest }) => ({
      ...rest,
      readinessProbes: readinessProbes.map((p) => p.kind),
      // The key stays out of the log.
      internalTls: internalTls.served
        ? {
            served: true,
            certFile: internalTls.certFile,
            keyFile: internalTls.keyFile,
            ...internalTls.settings,
          }
        : { served: false, reason: internalTls.reason },
    }),
  });
}
