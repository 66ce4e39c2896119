#!/usr/bin/env node
/*
 * The queue-proxy's entry point, bundled (bundle.mjs) with everything it imports into a few chunks. Much of
 * its start is Node compiling them, so Node's module compile cache is turned on before any of them is
 * loaded (docs/queue-proxy.md §12): the image ships one made at
 * build time (NODE_COMPILE_CACHE, see fill-compile-cache.ts); elsewhere the first start fills one in the
 * temporary folder, which later starts reuse. A cache that cannot be read or written is skipped: the start
 * is slower, not broken. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache();
// Imported only now, so that every module below is compiled with the cache on.
const { runQueueProxy } = await import('./run-queue-proxy.js');
await runQueueProxy();
