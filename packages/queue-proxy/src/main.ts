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
  summary: ({ readinessProbes, ...rest }) => ({
    ...rest,
    readinessProbes: readinessProbes.map((p) => p.kind),
  }),
});
