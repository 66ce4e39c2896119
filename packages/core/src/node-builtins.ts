/**
 * Node's built-in modules whose ESM `import` costs a process start more than it needs, loaded with
 * require() instead (docs/queue-proxy.md §12); see node-http.ts for the HTTP ones.
 *
 * - `node:fs`: an `import` builds its facade by reading every export, `fs.promises` included, which loads
 *   Node's promise file API and readline (about 3 ms); require() leaves that getter alone.
 * - `node:tls` and `node:crypto`: loaded on first use only (about 10 ms of CPU together): a queue-proxy
 *   without internal TLS or tracing never needs them.
 */
import { createRequire } from 'node:module';
import { lazy } from './lazy.js';

const require = createRequire(import.meta.url);

export const nodeFs: typeof import('node:fs') = require('node:fs');
/** `node:tls`, loaded on the first call. */
export const nodeTls: () => typeof import('node:tls') = lazy(() => require('node:tls'));
/** `node:crypto`, loaded on the first call. */
export const nodeCrypto: () => typeof import('node:crypto') = lazy(() => require('node:crypto'));
