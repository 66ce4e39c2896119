import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Mode, RevisionRef } from './actuator.js';
import { LocalActuator, type LocalPlatform } from './actuator-local.js';

const rev: RevisionRef = { namespace: 'default', name: 'hello-00001' };
let server: Server | undefined;

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) {
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
});

/** A platform whose public path answers like the activator only while in Proxy mode. */
async function fakePlatform() {
  const calls: string[] = [];
  let mode: Mode = 'Serve';
  server = createServer((req, res) => {
    const asActivator = mode === 'Proxy' && req.headers['k-network-probe'] === 'activator';
    res.writeHead(asActivator ? 200 : 400);
    res.end(asActivator ? 'activator' : 'unexpected probe header value: activator');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const platform: LocalPlatform = {
    async setDesiredPods(r, n) {
      calls.push(`pods ${r.namespace}/${r.name} ${n}`);
    },
    async setMode(r, m) {
      calls.push(`mode ${r.namespace}/${r.name} ${m}`);
      mode = m;
    },
    activatorUrl: (r) => `${url}/${r.name}`,
  };
  return { platform, calls };
}

describe('LocalActuator', () => {
  it('delegates scale and mode to the platform', async () => {
    const { platform, calls } = await fakePlatform();
    const actuator = new LocalActuator({ platform });
    await actuator.scale(rev, 3);
    await actuator.setMode(rev, 'Proxy', 2);
    await actuator.scale(rev, 0);
    expect(calls).toEqual([
      'pods default/hello-00001 3',
      'mode default/hello-00001 Proxy',
      'pods default/hello-00001 0',
    ]);
    await expect(actuator.scale(rev, -1)).rejects.toThrow(/desiredPods/);
  });

  it('confirms the activator in path only in Proxy mode', async () => {
    const { platform } = await fakePlatform();
    const actuator = new LocalActuator({ platform, probe: { intervalMs: 10, maxWaitMs: 100 } });
    expect(await actuator.activatorInPath(rev)).toBe(false);
    await actuator.setMode(rev, 'Proxy', 1);
    expect(await actuator.activatorInPath(rev)).toBe(true);
  });

  it('rejects a platform missing methods', () => {
    expect(() => new LocalActuator({ platform: {} as LocalPlatform })).toThrow(/platform/);
  });
});
