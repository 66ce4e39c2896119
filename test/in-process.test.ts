import { describe, it } from 'vitest';
import { CONTRACT_CASES, IN_PROCESS_TARGET, QUEUE_PROXY_TARGET } from './support/contract-cases.js';

/**
 * The queue-proxy's contract, one table run against both ways of carrying it: the sidecar in front of
 * the test app, and the in-process mode inside `examples/hello-in-process` (README, In-process mode).
 */
describe.each([QUEUE_PROXY_TARGET, IN_PROCESS_TARGET])('the queue-proxy contract: $name', (target) => {
  for (const c of CONTRACT_CASES) it(c.name, () => c.run(target), 60_000);
});
