/**
 * `app-kill`: SIGKILL the user app of one of two Pods while 20 clients load the revision (Serve mode).
 * The requests it held die with it; later ones must go to the other Pod.
 */
import type { ChaosScenario } from './chaos-scenario.js';
import { runPlatformFault, signal } from './platform-fault.js';

export const appKill: ChaosScenario = {
  name: 'app-kill',
  description: "SIGKILL one Pod's user app under steady load (2 Pods, Serve mode)",
  lossDefinition: 'failed requests sent after the SIGKILL (those in flight at it may have been in the app)',
  budgetSeconds: 60,
  run: (context) =>
    runPlatformFault(context, {
      scenario: 'app-kill',
      spec: { pods: 2, mode: 'Serve' },
      lossRule: 'sent-after-fault',
      component: 'app (killed)',
      target: (platform) => platform.process('app'),
      inject: async (_platform, target) => signal(target.pid, 'SIGKILL'),
    }),
};
