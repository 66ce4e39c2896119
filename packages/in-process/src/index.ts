export { type AttachableServer, type AttachOptions, attach, type InProcess } from './attach.js';
export { type InProcessConfig, loadConfig } from './config.js';
