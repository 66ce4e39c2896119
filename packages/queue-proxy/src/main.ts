#!/usr/bin/env node
import { ConfigError, createLogger } from '@zerogate/core';
import { loadConfig } from './config.js';
import { ListenError, type QueueProxy, startQueueProxy } from './queue-proxy.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  for (const problem of err.problems) process.stderr.write(`queue-proxy: ${problem}\n`);
  process.exit(1);
}

const logger = createLogger({
  level: config.logLevel,
  base: { component: 'queue-proxy', revision: config.revision, pod: config.pod },
});
const { readinessProbes, ...summary } = config;
let proxy: QueueProxy;
try {
  proxy = await startQueueProxy(config, logger);
} catch (err) {
  if (!(err instanceof ListenError)) throw err;
  logger.fatal({ err }, err.message);
  process.stderr.write(`queue-proxy: ${err.message}\n`);
  process.exit(1);
}
logger.info(
  { ...summary, readinessProbes: readinessProbes.map((p) => p.kind), ports: proxy.ports },
  'started',
);

const stop = (signal: string) => {
  logger.info({ signal }, 'received signal');
  proxy.shutdown().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
