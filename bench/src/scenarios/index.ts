/**
 * Every scenario the command line knows, by name. A new scenario is one module in this folder and
 * one line here.
 */
import type { Scenario } from '../scenario.js';
import { activatorScenario } from './activator.js';
import { activatorClusterScenario } from './activator-cluster.js';
import { coldStartScenario } from './cold-start.js';
import { h2cScenario } from './h2c.js';
import { inProcessScenario } from './in-process.js';
import { queueProxyScenario } from './queue-proxy.js';
import { responsivenessScenario } from './responsiveness.js';
import { startupScenario } from './startup.js';
import { wakesScenario } from './wakes.js';

/** Scenarios by name. */
export const scenarios: ReadonlyMap<string, Scenario> = new Map([
  [queueProxyScenario.name, queueProxyScenario],
  [activatorScenario.name, activatorScenario],
  [activatorClusterScenario.name, activatorClusterScenario],
  [h2cScenario.name, h2cScenario],
  [coldStartScenario.name, coldStartScenario],
  [responsivenessScenario.name, responsivenessScenario],
  [inProcessScenario.name, inProcessScenario],
  [startupScenario.name, startupScenario],
  [wakesScenario.name, wakesScenario],
]);
