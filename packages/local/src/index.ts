/** The one-machine platform's public surface, for benchmarks and embedding. */
export * from './config.js';
export * from './platform.js';
export * from './pod.js';
export * from './revision-pods.js';
export * from './status.js';
