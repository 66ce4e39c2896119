/**
 * `autoscaler-kill`: SIGKILL the autoscaler while 20 clients load the revision (2 Pods, Serve mode).
 * The autoscaler is off the request path: nothing may be lost, and the restarted one must not scale
 * the revision down under load.
 */
import { type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import { runPlatformFault, signal } from './platform-fault.js';

export const autoscalerKill: ChaosScenario = {
  name: 'autoscaler-kill',
  description: 'SIGKILL the autoscaler under steady load (2 Pods, Serve mode); the platform restarts it',
  lossDefinition: 'every failed request: the autoscaler serves no request',
  budgetSeconds: 60,
  run: (context) =>
    runPlatformFault(context, {
      scenario: 'autoscaler-kill',
      spec: { pods: 2, mode: 'Serve' },
      lossRule: 'all',
      component: 'autoscaler (killed)',
      rssCapKiB: RSS_CAPS_KIB.autoscaler,
      target: (platform) => platform.process('autoscaler'),
      inject: async (_platform, target) => signal(target.pid, 'SIGKILL'),
      after: async (platform) => {
        const status = await platform.status();
        const restarted = platform.processes().some((p) => p.role === 'autoscaler');
        return {
          checks: [{ name: 'restarted', pass: restarted }],
          details: [
            `after the run: ${status.readyPods} ready Pods, mode ${status.mode}, autoscaler ${restarted ? 'running again' : 'not running'}`,
          ],
        };
      },
    }),
};
