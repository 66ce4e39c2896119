/**
 * `queue-proxy-drain`: SIGTERM one of two Pods' queue-proxies while 20 clients send slow requests
 * (250 ms each). The queue-proxy drains: its readiness fails, it keeps serving until quiet, and every
 * request it accepted completes. Nothing may be lost.
 */
import { type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import { runPlatformFault, signal } from './platform-fault.js';

export const queueProxyDrain: ChaosScenario = {
  name: 'queue-proxy-drain',
  description: "SIGTERM one Pod's queue-proxy under slow requests (250 ms, 2 Pods, Serve mode)",
  lossDefinition: 'every failed request: a draining queue-proxy finishes what it accepted',
  budgetSeconds: 60,
  run: (context) =>
    runPlatformFault(context, {
      scenario: 'queue-proxy-drain',
      spec: { pods: 2, mode: 'Serve' },
      path: '/?ms=250',
      lossRule: 'all',
      component: 'queue-proxy (draining)',
      rssCapKiB: RSS_CAPS_KIB['queue-proxy'],
      target: (platform) => platform.process('queue-proxy'),
      inject: async (_platform, target) => signal(target.pid, 'SIGTERM'),
    }),
};
