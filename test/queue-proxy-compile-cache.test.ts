import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { send } from './support/http.js';
import { queueProxyEnv, spawnNode, startQueueProxy, startUserApp } from './support/processes.js';

/** The cache entries Node wrote under `dir` (one folder per Node version, a file per module). */
function entries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

/** The modules a process's `NODE_DEBUG_NATIVE=COMPILE_CACHE` output says were taken from the cache. */
function accepted(stderr: string): string[] {
  return [...stderr.matchAll(/V8 code cache for \w+ (\S+) was accepted/g)].map((m) => m[1]!);
}

describe('queue-proxy start-up: Node’s module compile cache (docs/queue-proxy.md §12)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerogate-compile-cache-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('the first start fills a cache in the temporary folder, which the next start is compiled from', async () => {
    const app = await startUserApp();
    const env = { ...queueProxyEnv(app.port), TMPDIR: dir, QUEUE_DRAIN_QUIET_SECONDS: '0' };
    const first = await startQueueProxy(env);
    first.proc.signal('SIGTERM');
    expect(await first.proc.exit()).toBe(0);
    const cache = join(dir, 'node-compile-cache');
    // The bundle's entry point and the chunks a start loads (packages/queue-proxy/bundle.mjs).
    expect(entries(cache).length).toBeGreaterThanOrEqual(4);

    const second = await startQueueProxy({ ...env, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' });
    expect((await send(`${second.url}/`)).status).toBe(200);
    const taken = accepted(second.proc.stderr.join(''));
    expect(taken.some((url) => url.includes('/packages/queue-proxy/dist/chunks/run-queue-proxy-'))).toBe(
      true,
    );
    expect(
      taken.filter((url) => url.includes('/packages/queue-proxy/dist/chunks/')).length,
    ).toBeGreaterThanOrEqual(3);
  });

  it('starts without a cache when none can be made, and makes none with NODE_DISABLE_COMPILE_CACHE=1', async () => {
    const app = await startUserApp();
    // The temporary folder is a file: no cache folder can be created in it.
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, '');
    const blocked = await startQueueProxy({ ...queueProxyEnv(app.port), TMPDIR: file });
    expect((await send(`${blocked.url}/`)).status).toBe(200);

    const disabled = await startQueueProxy({
      ...queueProxyEnv(app.port),
      TMPDIR: dir,
      NODE_DISABLE_COMPILE_CACHE: '1',
      QUEUE_DRAIN_QUIET_SECONDS: '0',
    });
    disabled.proc.signal('SIGTERM');
    expect(await disabled.proc.exit()).toBe(0);
    expect(entries(join(dir, 'node-compile-cache'))).toEqual([]);
  });

  it('fill-compile-cache.js fills NODE_COMPILE_CACHE with every module of a start without starting, and refuses to run without it', async () => {
    const cache = join(dir, 'cache');
    const fill = spawnNode('packages/queue-proxy/dist/fill-compile-cache.js', {
      NODE_COMPILE_CACHE: cache,
      NODE_COMPILE_CACHE_PORTABLE: '1',
    });
    expect(await fill.exit()).toBe(0);
    expect(fill.stdout.join('')).toBe('');
    const filled = entries(cache).length;
    // Every chunk of the bundle a start may load, request metrics' and core's whole index too.
    expect(filled).toBeGreaterThanOrEqual(6);

    // A start from it compiles nothing afresh but its entry point, so it writes only that one entry.
    const app = await startUserApp();
    const qp = await startQueueProxy({
      ...queueProxyEnv(app.port),
      NODE_COMPILE_CACHE: cache,
      NODE_COMPILE_CACHE_PORTABLE: '1',
      QUEUE_DRAIN_QUIET_SECONDS: '0',
    });
    qp.proc.signal('SIGTERM');
    expect(await qp.proc.exit()).toBe(0);
    expect(entries(cache).length).toBe(filled + 1);

    const refused = spawnNode('packages/queue-proxy/dist/fill-compile-cache.js', {});
    expect(await refused.exit()).toBe(1);
    expect(refused.stderr.join('')).toContain('NODE_COMPILE_CACHE');
  });
});
