import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ACTIVATOR_NODE_FLAGS } from '@zerogate/activator/node-flags';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EndpointsFile, type Pod, REVISION, startPod } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, send } from './support/http.js';
import { example, killPlatformProcesses, writeConfig } from './support/platform.js';
import { activatorEnv, ROOT, spawnNode, startActivator } from './support/processes.js';

// What keeps an idle activator small (docs/activator.md §9): the entry points of undici and prom-client
// load fetch's globals, caches, mocks, the cluster aggregator and the default process metrics, MiBs the activator
// never uses, so it takes the pieces it uses from their own modules; and it runs with its own Node flags.
const RECORDER = pathToFileURL(join(ROOT, 'test/support/record-modules.mjs')).href;
const UNWANTED = [
  '/node_modules/undici/index.js',
  '/node_modules/prom-client/index.js',
  '/node_modules/prom-client/lib/cluster.js',
  '/node_modules/prom-client/lib/defaultMetrics.js',
];

let dir: string;
let endpoints: EndpointsFile | undefined;
let autoscaler: FakeAutoscaler | undefined;
const stops: (() => Promise<unknown>)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'activator-memory-'));
});

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await autoscaler?.close();
  endpoints?.remove();
  autoscaler = endpoints = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** The module URLs recorded in `file`. */
function recorded(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** The command lines of the processes whose parent is `ppid`. */
function childCommands(ppid: number): string[][] {
  const commands: string[][] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The parent pid is the second field after the command name, which may itself hold spaces.
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== ppid) continue;
      commands.push(readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean));
    } catch {
      // The process ended meanwhile.
    }
  }
  return commands;
}

describe('activator memory (docs/activator.md §9)', () => {
  it('reports to the autoscaler, probes a Pod, forwards and serves metrics without loading undici’s or prom-client’s entry points', async () => {
    const modules = join(dir, 'modules.txt');
    const pod: Pod = await startPod();
    endpoints = new EndpointsFile();
    // Not ready: the activator probes the Pod's queue-proxy itself before it forwards.
    endpoints.write({ endpoints: [{ address: pod.address, ready: false }] });
    autoscaler = await FakeAutoscaler.start();
    const activator = await startActivator({
      ...activatorEnv(endpoints.path, autoscaler.url),
      NODE_OPTIONS: `--import=${RECORDER}`,
      RECORD_MODULES_FILE: modules,
    });
    stops.push(() => activator.proc.kill());
    expect(await eventually(() => autoscaler!.clients === 1, 10_000)).toBe(true);
    const res = await send(`${activator.url}/`, { headers: REVISION });
    expect(res.status).toBe(200);
    const metrics = await send(`http://127.0.0.1:${activator.metricsPort}/metrics`);
    expect(metrics.body).toContain('kn_revision_request_queued');

    const urls = recorded(modules);
    // The pieces it does use were loaded, from their own modules.
    for (const used of [
      '/node_modules/undici/lib/web/websocket/websocket.js',
      '/node_modules/undici/lib/api/api-request.js',
      '/node_modules/prom-client/lib/registry.js',
    ]) {
      expect(
        urls.some((u) => u.endsWith(used)),
        used,
      ).toBe(true);
    }
    expect(urls.filter((u) => UNWANTED.some((path) => u.endsWith(path)))).toEqual([]);
  }, 60_000);

  it('the one-machine platform starts its activator with the activator’s Node flags', async () => {
    const config = await writeConfig(`ingress: { port: 0 }
services:
  - name: app
    command: [node, ${example('hello')}]
`);
    const proc = spawnNode('packages/local/dist/main.js', {}, ['--config', config]);
    try {
      await proc.waitForLine((l) => l.includes('/zerogate/status'), 30_000);
      const pid = proc.child.pid ?? -1;
      let activator: string[] | undefined;
      await eventually(() => {
        activator = childCommands(pid).find((argv) => argv.some((a) => a.endsWith('activator/dist/main.js')));
        return activator !== undefined;
      }, 10_000);
      expect(activator?.slice(1, 1 + ACTIVATOR_NODE_FLAGS.length)).toEqual([...ACTIVATOR_NODE_FLAGS]);
      proc.signal('SIGINT');
      expect(await proc.exit()).toBe(0);
    } finally {
      killPlatformProcesses(proc.child.pid ?? -1);
    }
  }, 60_000);
});
