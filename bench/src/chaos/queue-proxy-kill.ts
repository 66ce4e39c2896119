/**
 * `queue-proxy-kill`: SIGKILL the queue-proxy of one of two Pods while 20 clients load the revision
 * (Serve mode). Requests it had accepted die with it; later ones must go to the other Pod.
 */
import { type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import { runPlatformFault, signal } from './platform-fault.js';

export const queueProxyKill: ChaosScenario = {
  name: 'queue-proxy-kill',
  description: "SIGKILL one Pod's queue-proxy under steady load (2 Pods, Serve mode)",
  lossDefinition:
    'failed requests sent after the SIGKILL (those in flight at it may have been accepted by it)',
  budgetSeconds: 60,
  run: (context) =>
    runPlatformFault(context, {
      scenario: 'queue-proxy-kill',
      spec: { pods: 2, mode: 'Serve' },
      lossRule: 'sent-after-fault',
      component: 'queue-proxy (killed)',
      rssCapKiB: RSS_CAPS_KIB['queue-proxy'],
      target: (platform) => platform.process('queue-proxy'),
      inject: async (_platform, target) => signal(target.pid, 'SIGKILL'),
    }),
};
