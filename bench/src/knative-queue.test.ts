import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { findKnativeQueue, portsInUse } from './knative-queue.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('findKnativeQueue', () => {
  it("finds the queue binary of the version pinned in the repository's versions.env", () => {
    const found = findKnativeQueue(REPO_ROOT, { ZEROGATE_CACHE: '/cache' }, () => true, '/h');
    expect(found.version).toMatch(/^v0\.\d+\.\d+$/);
    expect(found.path).toBe(`/cache/knative-serving-${found.version}/bin/queue`);
  });

  it('says to run npm run knative:build when the binary is missing', () => {
    expect(() => findKnativeQueue(REPO_ROOT, { ZEROGATE_CACHE: '/nowhere' }, () => false, '/h')).toThrow(
      /not built at \/nowhere\/knative-serving-v[\d.]+\/bin\/queue; run `npm run knative:build`/,
    );
  });
});

describe('portsInUse', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  it('names the ports a listener holds and not the free ones', async () => {
    server = createServer();
    await new Promise<void>((resolve) => server!.listen(0, resolve));
    const held = (server.address() as { port: number }).port;
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, resolve));
    const free = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    expect(await portsInUse([held, free])).toEqual([held]);
  });
});
