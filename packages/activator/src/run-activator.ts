import { runComponent } from '@zerogate/core';
import { startActivator } from './activator.js';
import { loadConfig } from './config.js';

/** Runs the activator as this process: configuration from the environment, until SIGTERM. */
export function runActivator(): Promise<void> {
  return runComponent({
    name: 'activator',
    load: loadConfig,
    logLevel: (c) => c.logLevel,
    logBase: (c) => ({ component: 'activator', pod: c.podName }),
    start: (config, logger) => startActivator(config, logger),
  });
}
