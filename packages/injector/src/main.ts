#!/usr/bin/env node
import { runComponent } from '@zerogate/core';
import { loadConfig } from './config.js';
import { startInjector } from './injector.js';

await runComponent({
  name: 'injector',
  load: (env) => loadConfig(env),
  logLevel: (c) => c.logLevel,
  logBase: () => ({ component: 'injector' }),
  start: startInjector,
  // The key stays out of the log.
  summary: ({ tls: _tls, ...rest }) => rest,
});
