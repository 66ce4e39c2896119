#!/usr/bin/env node
import { runComponent } from '@zerogate/core';
import { loadConfig } from './config.js';
import { startQueueProxy } from './queue-proxy.js';

await runComponent({
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
