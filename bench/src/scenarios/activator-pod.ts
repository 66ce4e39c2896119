/**
 * The Pod the `activator` scenario puts behind the activator, in both of its parts: the bench's hello app
 * and a queue-proxy at CC=0 in front of it.
 */
import { fileURLToPath } from 'node:url';
import type { ScenarioContext } from '../scenario.js';
import { queueProxyEnv, type StartedProxy, startProxy } from './common.js';

/** The bench's hello app, which answers every request with 200 `hello`. */
export const HELLO_APP = fileURLToPath(new URL('../hello-app.js', import.meta.url));

/**
 * Starts a queue-proxy at CC=0 in front of the app on the proxy CPU. Its drain is cut to nothing
 * (`QUEUE_DRAIN_QUIET_SECONDS=0`) so stopping a held trial's Pod does not wait out the quiet period.
 */
export function startPodQueueProxy(
  context: ScenarioContext,
  name: string,
  appPort: number,
): Promise<StartedProxy> {
  return startProxy(context, appPort, {
    name,
    env: (ports) => ({ ...queueProxyEnv(0, appPort, ports), QUEUE_DRAIN_QUIET_SECONDS: '0' }),
  });
}
