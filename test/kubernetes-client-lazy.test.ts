import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import { example, killPlatformProcesses, writeConfig } from './support/platform.js';
import { autoscalerEnv, ROOT, spawnNode, startAutoscaler } from './support/processes.js';
import { TestApiServer } from './support/test-apiserver.js';

// @kubernetes/client-node costs a process about 50 MiB and 0.4 s or more to load: the components that run without
// Kubernetes must never load it. Each process here runs with a preload that writes down every module it
// loads, children included (NODE_OPTIONS is passed down).
const RECORDER = pathToFileURL(join(ROOT, 'test/support/record-modules.mjs')).href;
const CLIENT = '/node_modules/@kubernetes/client-node/';

let dir: string;
let api: TestApiServer | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubernetes-client-lazy-'));
});

afterEach(async () => {
  await api?.close();
  api = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** The environment that makes a process, and every Node process it starts, record its modules in `file`. */
function recording(file: string): Record<string, string> {
  return { NODE_OPTIONS: `--import=${RECORDER}`, RECORD_MODULES_FILE: file };
}

/** The module URLs recorded in `file`. */
function recorded(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

describe('the Kubernetes client is loaded only where it is used', () => {
  it('the one-machine platform, its autoscaler, activator and queue-proxies never load it, serving from zero', async () => {
    const modules = join(dir, 'modules.txt');
    const config = await writeConfig(`ingress: { port: 0 }
services:
  - name: app
    command: [node, ${example('hello')}]
`);
    const proc = spawnNode('packages/local/dist/main.js', recording(modules), ['--config', config]);
    try {
      const line = await proc.waitForLine((l) => l.includes('/zerogate/status'), 30_000);
      const port = Number(/127\.0\.0\.1:(\d+)\/zerogate\/status/.exec(line)?.[1]);
      // A request at zero goes through the activator, makes the autoscaler scale, and starts a Pod.
      const res = await request(`http://127.0.0.1:${port}/`, {
        headers: { host: 'app.default.localhost' },
        headersTimeout: 30_000,
      });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      proc.signal('SIGINT');
      expect(await proc.exit()).toBe(0);
    } finally {
      killPlatformProcesses(proc.child.pid ?? -1);
    }
    const urls = recorded(modules);
    // The recorder saw every process of the platform.
    for (const main of [
      'packages/local/dist/main.js',
      'packages/autoscaler/dist/main.js',
      'packages/activator/dist/main.js',
      'packages/queue-proxy/dist/main.js',
    ]) {
      expect(urls, main).toContain(pathToFileURL(join(ROOT, main)).href);
    }
    expect(urls.filter((u) => u.includes(CLIENT))).toEqual([]);
  }, 90_000);

  it('the autoscaler on Kubernetes does load it, as the recorder shows', async () => {
    api = await TestApiServer.start();
    const kubeconfig = api.writeKubeConfig(join(dir, 'kubeconfig.json'));
    const modules = join(dir, 'modules.txt');
    const autoscaler = await startAutoscaler({ ...autoscalerEnv(kubeconfig), ...recording(modules) });
    expect(await eventually(() => recorded(modules).some((u) => u.includes(CLIENT)), 10_000)).toBe(true);
    autoscaler.proc.signal('SIGTERM');
    expect(await autoscaler.proc.exit()).toBe(0);
  });
});
