#!/usr/bin/env node
import { runComponent } from '@zerogate/core';
import { startAutoscaler } from './autoscaler.js';
import { loadConfig } from './config.js';

await runComponent({
  name: 'autoscaler',
  load: loadConfig,
  logLevel: (c) => c.logLevel,
  logBase: () => ({ component: 'autoscaler' }),
  start: (config, logger) => startAutoscaler(config, logger),
});
