/**
 * `scale-down`: the control server asks for one Pod instead of two while 20 clients send slow
 * requests (250 ms). The stopped Pod leaves routing and drains; nothing may be lost.
 */
import { type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import { runPlatformFault } from './platform-fault.js';

export const scaleDown: ChaosScenario = {
  name: 'scale-down',
  description: 'scale 2 → 1 Pods through the control server under slow requests (Serve mode)',
  lossDefinition: 'every failed request: a scale-down drains the Pod it stops',
  budgetSeconds: 60,
  run: (context) =>
    runPlatformFault(context, {
      scenario: 'scale-down',
      spec: { pods: 2, mode: 'Serve' },
      path: '/?ms=250',
      lossRule: 'all',
      component: 'queue-proxy (kept Pod)',
      rssCapKiB: RSS_CAPS_KIB['queue-proxy'],
      target: (platform) => platform.process('queue-proxy'),
      inject: (platform) => platform.control('scale', { desiredPods: 1 }),
      after: async (platform) => {
        const status = await platform.status();
        return { details: [`after the run: desired ${status.desiredPods}, ready ${status.readyPods}`] };
      },
    }),
};
