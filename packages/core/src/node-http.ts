/**
 * Node's HTTP modules, loaded with require(). An ESM `import` of `node:http` builds the module's
 * facade by reading every export, the lazy ones included, which loads Node's bundled undici: about
 * 30 ms (node:http2 about 15 ms more) on every process start, a queue-proxy's cold start included.
 * require() leaves the lazy exports lazy.
 *
 * `node:http2` and `node:https` are loaded on first use only: each brings `node:tls` and `node:crypto`
 * (about 15 ms of CPU together, docs/queue-proxy.md §12), which a Pod serving only plain HTTP/1.1 never
 * needs. The first HTTP/2 connection or HTTPS request pays that instead of every start.
 */
import { createRequire } from 'node:module';
import { lazy } from './lazy.js';

const require = createRequire(import.meta.url);

export const nodeHttp: typeof import('node:http') = require('node:http');
/** `node:http2`, loaded on the first call. */
export const nodeHttp2: () => typeof import('node:http2') = lazy(() => require('node:http2'));
/** `node:https`, loaded on the first call. */
export const nodeHttps: () => typeof import('node:https') = lazy(() => require('node:https'));

/**
 * HTTP/2 error codes (RFC 9113 §7) the proxies send and read: the values of `node:http2`'s
 * `constants.NGHTTP2_*`, here so that naming them does not load `node:http2`.
 */
export const H2_REFUSED_STREAM = 0x7;
export const H2_CANCEL = 0x8;
export const H2_ENHANCE_YOUR_CALM = 0xb;
