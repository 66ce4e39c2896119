/**
 * The autoscaler's configuration without the autoscaler (`@zerogate/autoscaler/config`): the process's
 * environment (`loadConfig`, `CLUSTER_KEYS`) and a revision's autoscaling parameters
 * (`resolveRevisionAutoscaling`). The one-machine platform checks its configuration file with these; the
 * package's root would also load the Kubernetes actuator and its client, which the platform never uses.
 */
export * from './autoscaler-config.js';
export * from './config.js';
