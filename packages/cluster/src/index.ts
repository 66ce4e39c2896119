export * from './binaries.js';
export * from './control-plane.js';
export * from './daemon.js';
export * from './kubeconfig.js';
export * from './pki.js';
