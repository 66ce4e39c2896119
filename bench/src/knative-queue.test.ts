import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { findKnativeQueue, knativeBinDir, parseEnvFile, portsInUse } from './knative-queue.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('parseEnvFile', () => {
  it('reads KEY=value lines and skips comments and blanks', () => {
    expect(parseEnvFile('# pins\nKUBE_VERSION=v1.34.4\n\n  KNATIVE_SERVING_VERSION=v0.44.1  \n')).toEqual({
      KUBE_VERSION: 'v1.34.4',
      KNATIVE_SERVING_VERSION: 'v0.44.1',
    });
  });
});

describe('knativeBinDir', () => {
  it('prefers ZEROGATE_CACHE, then XDG_CACHE_HOME, then ~/.cache, as build-knative.sh does', () => {
    expect(knativeBinDir('v0.44.1', { ZEROGATE_CACHE: '/c', XDG_CACHE_HOME: '/x' }, '/home/u')).toBe(
      '/c/knative-serving-v0.44.1/bin',
    );
    expect(knativeBinDir('v0.44.1', { XDG_CACHE_HOME: '/x' }, '/home/u')).toBe(
      '/x/zerogate/knative-serving-v0.44.1/bin',
    );
    expect(knativeBinDir('v0.44.1', {}, '/home/u')).toBe(
      '/home/u/.cache/zerogate/knative-serving-v0.44.1/bin',
    );
  });

  it('treats an empty variable as unset, as the shell does', () => {
    expect(knativeBinDir('v1', { ZEROGATE_CACHE: '', XDG_CACHE_HOME: '' }, '/h')).toBe(
      '/h/.cache/zerogate/knative-serving-v1/bin',
    );
  });
});

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
