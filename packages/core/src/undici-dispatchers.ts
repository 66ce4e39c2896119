import { createRequire } from 'node:module';
import type { Agent as AgentType, Pool as PoolType } from 'undici';

/*
 * The undici dispatchers the proxies use, loaded from their own modules rather than undici's index:
 * the index also loads fetch, WebSocket, caches and mocks, which cost a sidecar ~13 MiB of memory it
 * never uses. The versions are pinned exactly, so these paths are stable.
 */
const require = createRequire(import.meta.url);

/** undici's `Pool`: keep-alive HTTP/1.1 connections to one origin. */
export const Pool: typeof PoolType = require('undici/lib/dispatcher/pool.js');
/** undici's `Agent`: a `Pool` per origin. */
export const Agent: typeof AgentType = require('undici/lib/dispatcher/agent.js');
