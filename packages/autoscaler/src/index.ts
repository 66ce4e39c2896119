/** The KPA autoscaler's public surface: revision parameters, the decider, and trace replay. */

export * from './activator-probe.js';
export * from './actuator.js';
export * from './actuator-kubernetes.js';
export * from './actuator-local.js';
export * from './autoscaler.js';
export * from './autoscaler-config.js';
export * from './autoscaler-metrics.js';
export * from './collector.js';
export * from './config.js';
export * from './kpa.js';
export * from './max-window.js';
export * from './revision-watcher.js';
export * from './scraper.js';
export * from './stat-server.js';
export * from './trace-replay.js';
export * from './windowed-average.js';
