/**
 * `activator-kill`: SIGKILL the activator while 20 clients load a revision whose traffic always goes
 * through it (target burst capacity -1, Proxy mode, 2 Pods). The platform restarts it on the same
 * ports after 0.5 s; requests sent meanwhile should not be lost: the Pods are up, and the ingress can
 * reach them without the activator.
 */
import { type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import { runPlatformFault, signal } from './platform-fault.js';

export const activatorKill: ChaosScenario = {
  name: 'activator-kill',
  description: 'SIGKILL the activator under steady load (2 Pods, Proxy mode); the platform restarts it',
  lossDefinition: 'failed requests sent after the SIGKILL (those in flight at it were accepted by it)',
  budgetSeconds: 60,
  run: (context) =>
    runPlatformFault(context, {
      scenario: 'activator-kill',
      spec: { pods: 2, mode: 'Proxy' },
      lossRule: 'sent-after-fault',
      component: 'activator (killed)',
      rssCapKiB: RSS_CAPS_KIB.activator,
      target: (platform) => platform.process('activator'),
      inject: async (_platform, target) => signal(target.pid, 'SIGKILL'),
    }),
};
