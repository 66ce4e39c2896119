/**
 * Every chaos scenario, in the order the suite runs them. A new scenario is one module in this folder
 * and one line here.
 */
import { activatorKill } from './activator-kill.js';
import { appKill } from './app-kill.js';
import { autoscalerKill } from './autoscaler-kill.js';
import { badEndpoints } from './bad-endpoints.js';
import { bigHeaders } from './big-headers.js';
import type { ChaosScenario } from './chaos-scenario.js';
import { clusterFaults } from './cluster-faults.js';
import { h2Flood } from './h2-flood.js';
import { heldFlood } from './held-flood.js';
import { malformedRequests } from './malformed-requests.js';
import { modeFlip } from './mode-flip.js';
import { queueProxyDrain } from './queue-proxy-drain.js';
import { queueProxyKill } from './queue-proxy-kill.js';
import { scaleDown } from './scale-down.js';
import { slowloris } from './slowloris.js';
import { websocketStorm } from './websocket-storm.js';

/** The suite, in running order. */
export const chaosScenarios: readonly ChaosScenario[] = [
  appKill,
  queueProxyKill,
  activatorKill,
  autoscalerKill,
  queueProxyDrain,
  scaleDown,
  modeFlip,
  heldFlood,
  slowloris,
  malformedRequests,
  bigHeaders,
  h2Flood,
  badEndpoints,
  websocketStorm,
  clusterFaults,
];
