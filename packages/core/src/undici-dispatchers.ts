import { createRequire } from 'node:module';
import type { Agent as AgentType, Pool as PoolType } from 'undici';

/*
 * The undici dispatchers the proxies use, loaded from their own modules rather than undici's index (the
 * index also loads fetch, WebSocket, caches and mocks, ~13 MiB a sidecar never uses), and only when the
 * first one is made: the HTTP/1.1 client and its llhttp parser cost ~8 MiB more, which a queue-proxy
 * relaying raw (docs/queue-proxy.md §3.5) never needs unless TLS or gRPC requests come. The versions are
 * pinned exactly, so these paths are stable.
 */
const require = createRequire(import.meta.url);

/** undici's `Pool`: keep-alive HTTP/1.1 connections to one origin; loads undici's client on first use. */
export function createPool(origin: string, options?: PoolType.Options): PoolType {
  const Pool: typeof PoolType = require('undici/lib/dispatcher/pool.js');
  return new Pool(origin, options);
}

/** undici's `Agent`: a `Pool` per origin; loads undici's client on first use. */
export function createAgent(options?: AgentType.Options): AgentType {
  const Agent: typeof AgentType = require('undici/lib/dispatcher/agent.js');
  return new Agent(options);
}
