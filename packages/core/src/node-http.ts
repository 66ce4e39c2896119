/**
 * Node's HTTP modules, loaded with require(). An ESM `import` of `node:http` builds the module's
 * facade by reading every export, the lazy ones included, which loads Node's bundled undici: about
 * 30 ms (node:http2 about 15 ms more) on every process start, a queue-proxy's cold start included.
 * require() leaves the lazy exports lazy.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const nodeHttp: typeof import('node:http') = require('node:http');
export const nodeHttp2: typeof import('node:http2') = require('node:http2');
export const nodeHttps: typeof import('node:https') = require('node:https');
