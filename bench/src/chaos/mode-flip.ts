/**
 * `mode-flip`: the control server switches the revision from Serve to Proxy while 20 clients load it:
 * traffic moves from the Pods to the activator in front of them. Nothing may be lost.
 */
import { type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import { runPlatformFault } from './platform-fault.js';

export const modeFlip: ChaosScenario = {
  name: 'mode-flip',
  description: 'flip Serve → Proxy through the control server under steady load (2 Pods)',
  lossDefinition: 'every failed request: a mode flip moves traffic, it drops none',
  budgetSeconds: 60,
  run: (context) =>
    runPlatformFault(context, {
      scenario: 'mode-flip',
      spec: { pods: 2, mode: 'Serve' },
      lossRule: 'all',
      component: 'activator',
      rssCapKiB: RSS_CAPS_KIB.activator,
      target: (platform) => platform.process('activator'),
      inject: (platform) => platform.control('mode', { mode: 'Proxy' }),
      after: async (platform) => {
        const status = await platform.status();
        return { details: [`after the run: mode ${status.mode}`] };
      },
    }),
};
