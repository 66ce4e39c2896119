import { runComponent } from '@zerogate/core';
import { startActivator } from './activator.js';
import { type ActivatorConfig, loadConfig } from './config.js';
import { WaitingPage } from './waiting-page.js';

/** The configuration, and the waiting page its `ACTIVATOR_WAITING_PAGE_TEMPLATE` names, read once. */
interface Loaded {
  readonly config: Readonly<ActivatorConfig>;
  readonly waitingPage: WaitingPage;
}

/**
 * Runs the activator as this process: configuration from the environment, until SIGTERM. The waiting
 * page's template is read with the configuration, so one that cannot be read stops the start naming
 * its variable.
 */
export function runActivator(): Promise<void> {
  return runComponent<Loaded>({
    name: 'activator',
    load: (env) => {
      const config = loadConfig(env);
      return { config, waitingPage: WaitingPage.fromFile(config.waitingPageTemplate) };
    },
    logLevel: (c) => c.config.logLevel,
    logBase: (c) => ({ component: 'activator', pod: c.config.podName }),
    summary: (c) => ({ ...c.config }),
    start: ({ config, waitingPage }, logger) => startActivator(config, logger, undefined, waitingPage),
  });
}
