#!/usr/bin/env node
import { runComponent } from '@zerogate/core';
import { startActivator } from './activator.js';
import { loadConfig } from './config.js';

await runComponent({
  name: 'activator',
  load: loadConfig,
  logLevel: (c) => c.logLevel,
  logBase: (c) => ({ component: 'activator', pod: c.podName }),
  start: (config, logger) => startActivator(config, logger),
});
