#!/usr/bin/env node
import { ConfigError, createLogger, ListenError } from '@zerogate/core';
import { type Activator, startActivator } from './activator.js';
import { loadConfig } from './config.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  for (const problem of err.problems) process.stderr.write(`activator: ${problem}\n`);
  process.exit(1);
}

const logger = createLogger({
  level: config.logLevel,
  base: { component: 'activator', pod: config.podName },
});
let activator: Activator;
try {
  activator = await startActivator(config, logger);
} catch (err) {
  if (!(err instanceof ListenError)) throw err;
  logger.fatal({ err }, err.message);
  process.stderr.write(`activator: ${err.message}\n`);
  process.exit(1);
}
logger.info({ ...config, ports: activator.ports }, 'started');

const stop = (signal: string) => {
  logger.info({ signal }, 'received signal');
  activator.shutdown().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
