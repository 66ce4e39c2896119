#!/usr/bin/env node
/*
 * The activator's entry point. Node's module compile cache is turned on before any other module is
 * loaded, as the queue-proxy's entry point does (docs/queue-proxy.md §12): the first start fills
 * one in NODE_COMPILE_CACHE or the temporary folder, later starts reuse it; a cache that cannot be read or
 * written is skipped. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache();
// Imported only now, so that every module below is compiled with the cache on.
const { runActivator } = await import('./run-activator.js');
await runActivator();
