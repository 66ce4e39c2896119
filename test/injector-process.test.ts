import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, httpsRequest } from './support/http.js';
import {
  deploymentPod,
  injectorEnv,
  podReview,
  postReview,
  replaceFile,
  reviewResponse,
  startInjector,
} from './support/injector-fixture.js';
import { spawnNode } from './support/processes.js';
import { createPki, HAS_OPENSSL, type TestPki } from './support/tls.js';

let dir: string;
let pki: TestPki;
const servers: Server[] = [];

/** Clock granularity allowed when checking that a timeout fired no earlier than it was set for. */
const GRANULARITY_MS = 20;

beforeAll(() => {
  if (!HAS_OPENSSL) return;
  dir = mkdtempSync(join(tmpdir(), 'injector-process-'));
  pki = createPki(join(dir, 'pki'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A kubeconfig file pointing at `url`. */
function kubeconfigFor(url: string): string {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const path = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, kc.exportConfig());
  return path;
}

/** An API server that accepts connections and never answers. */
async function hangingApiServer(): Promise<string> {
  const s = createServer(() => {});
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function exitOf(env: Record<string, string>) {
  const proc = spawnNode('packages/injector/dist/main.js', env);
  const code = await proc.exit();
  return { code, stderr: proc.stderr.join(''), stdout: proc.stdout.join('\n') };
}

describe.skipIf(!HAS_OPENSSL)('injector process life (needs the openssl CLI)', () => {
  it('exits 1 before listening, naming each bad variable', async () => {
    const cert = pki.issue('config');
    const kubeconfig = kubeconfigFor('http://127.0.0.1:1');

    const noImage = injectorEnv(cert, kubeconfig) as Record<string, string>;
    delete noImage['INJECTOR_QUEUE_PROXY_IMAGE'];
    const missing = await exitOf(noImage);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('injector: INJECTOR_QUEUE_PROXY_IMAGE: is required but not set\n');
    expect(missing.stdout).not.toContain('started');

    const unreadable = await exitOf(
      injectorEnv({ cert: join(dir, 'nope.crt'), key: cert.key }, kubeconfig, { INJECTOR_PORT: '70000' }),
    );
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toMatch(/^injector: INJECTOR_PORT: must be at most 65535, got 70000$/m);
    expect(unreadable.stderr).toMatch(/^injector: INJECTOR_TLS_CERT_FILE: cannot read .*nope\.crt: ENOENT$/m);

    const badPort = await exitOf(injectorEnv(cert, kubeconfig, { INJECTOR_PORT: 'https' }));
    expect(badPort.code).toBe(1);
    expect(badPort.stderr).toBe('injector: INJECTOR_PORT: must be an integer, got "https"\n');
  });

  it('exits 1 naming INJECTOR_PORT when the port is taken', async () => {
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = String((taken.address() as AddressInfo).port);
    const res = await exitOf(
      injectorEnv(pki.issue('taken'), kubeconfigFor('http://127.0.0.1:1'), { INJECTOR_PORT: port }),
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^injector: INJECTOR_PORT: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE$/m);
  });

  it('admits with a warning when the API server does not answer, once its API budget (INJECTOR_API_TIMEOUT, or half of ?timeout=) runs out', async () => {
    const cert = pki.issue('hang');
    const injector = await startInjector(
      injectorEnv(cert, kubeconfigFor(await hangingApiServer()), { INJECTOR_API_TIMEOUT: '300ms' }),
    );
    const started = Date.now();
    const res = await postReview(injector.port, pki.ca, JSON.stringify(podReview(deploymentPod(8080))));
    // The API server never answers: the answer came from giving up on it, no earlier than 300 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(300 - GRANULARITY_MS);
    const response = reviewResponse(res.body);
    expect(response.allowed).toBe(true);
    expect(response.patch).toBeDefined();
    expect(response.warnings).toEqual([
      expect.stringContaining('the Kubernetes API did not answer within 300 ms'),
    ]);
    // The API server's own timeout is respected too: the injector gives up on the API after half of
    // ?timeout= (the warning names the budget it used), no earlier.
    const t2 = Date.now();
    const short = await httpsRequest(injector.port, {
      ca: pki.ca,
      method: 'POST',
      path: '/mutate-pods?timeout=200ms',
      headers: { 'content-type': 'application/json' },
      // The same revision again: a failed round is not remembered, so the calls are made again.
      body: JSON.stringify(podReview(deploymentPod(8080))),
    });
    expect(Date.now() - t2).toBeGreaterThanOrEqual(100 - GRANULARITY_MS);
    expect(reviewResponse(short.body).warnings).toEqual([
      expect.stringContaining('the Kubernetes API did not answer within 100 ms'),
    ]);
  });

  it('serves a renewed certificate once the mounted files change', async () => {
    const first = pki.issue('first');
    const second = pki.issue('second');
    const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
    writeFileSync(live.cert, readFileSync(first.cert));
    writeFileSync(live.key, readFileSync(first.key));
    const injector = await startInjector(injectorEnv(live, kubeconfigFor('http://127.0.0.1:1')));
    const serial = async () => (await httpsRequest(injector.port, { ca: pki.ca, path: '/healthz' })).serial;
    const before = await serial();

    // Half an update (the certificate without its key) is not installed.
    replaceFile(live.cert, readFileSync(second.cert));
    await injector.proc.loggedAt('the new certificate is not usable yet; keeping the current one');
    expect(await serial()).toBe(before);

    replaceFile(live.key, readFileSync(second.key));
    expect(await eventually(async () => (await serial()) !== before, 3000)).toBe(true);
    expect(
      injector.proc.logs().some((l) => l['msg'] === 'certificate and key changed on disk and were reloaded'),
    ).toBe(true);
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const injector = await startInjector(injectorEnv(pki.issue('term'), kubeconfigFor('http://127.0.0.1:1')));
    injector.proc.signal('SIGTERM');
    expect(await injector.proc.exit()).toBe(0);
  });
});
