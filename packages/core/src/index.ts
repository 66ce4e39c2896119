export * from './breaker.js';
export * from './config.js';
export * from './errors.js';
export * from './headers.js';
export * from './logger.js';
export * from './request-stats.js';
export * from './stat-proto.js';
