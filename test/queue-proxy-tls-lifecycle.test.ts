import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { decodeStat } from '@zerogate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, httpsRequest, KUBELET_PROBE, send } from './support/http.js';
import { queueProxyEnv, spawnNode, startComponent, startUserApp } from './support/processes.js';
import { createPki, HAS_OPENSSL, SecretVolume, type TestPki } from './support/tls.js';

let pki: TestPki;
let pkiDir: string;
const volumes: SecretVolume[] = [];

beforeAll(() => {
  if (!HAS_OPENSSL) return;
  pkiDir = mkdtempSync(join(tmpdir(), 'zerogate-qp-pki-'));
  pki = createPki(pkiDir);
});

afterAll(() => {
  for (const v of volumes.splice(0)) v.remove();
  if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
});

function newVolume(): SecretVolume {
  const volume = new SecretVolume();
  volumes.push(volume);
  return volume;
}

function tlsEnv(userPort: number, certsDir: string, overrides: Record<string, string> = {}) {
  return queueProxyEnv(userPort, { QUEUE_SERVING_TLS_PORT: '0', QUEUE_CERTS_DIR: certsDir, ...overrides });
}

async function start(env: Record<string, string>) {
  return startComponent<{ serving: number; tls?: number; stats: number; admin: number }>(
    'packages/queue-proxy/dist/main.js',
    env,
  );
}

/** Runs the queue-proxy expecting it to stop at start; returns its exit code and output. */
async function runToExit(env: Record<string, string>) {
  const proc = spawnNode('packages/queue-proxy/dist/main.js', env);
  const code = await proc.exit();
  return { code, stderr: proc.stderr.join(''), stdout: proc.stdout.join('\n') };
}

/** Whether a TCP connection to the port is refused. */
async function refused(port: number): Promise<boolean> {
  const socket = netConnect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    return false;
  } catch {
    return true;
  } finally {
    socket.destroy();
  }
}

describe.skipIf(!HAS_OPENSSL)('queue-proxy internal TLS: certificate and lifecycle', () => {
  it('reloads a rotated certificate (Secret volume symlink swap) for new connections, keeping the TLS settings', async () => {
    const volume = newVolume();
    const first = volume.writeServerCertificate(pki, 'first');
    const app = await startUserApp();
    const { proc, ports } = await start(tlsEnv(app.port, volume.dir));
    const serial = async () => (await httpsRequest(ports.tls!, { path: '/', ca: pki.ca })).serial;
    expect(await serial()).toBe(first);

    const second = volume.writeServerCertificate(pki, 'second');
    expect(second).not.toBe(first);
    expect(await eventually(async () => (await serial()) === second, 5000)).toBe(true);
    await proc.waitForLine((l) => l.includes('certificate and key changed on disk and were reloaded'));
    // The reload kept the protocol settings: still TLS 1.3 only.
    const old = tlsConnect({ host: '127.0.0.1', port: ports.tls!, ca: pki.ca, maxVersion: 'TLSv1.2' });
    await expect(once(old, 'secureConnect')).rejects.toThrow();
    old.destroy();

    // A pair that does not belong together (the key of another certificate) is not installed.
    const third = pki.issue('third');
    volume.write({ 'tls.crt': readFileSync(third.cert), 'tls.key': readFileSync(pki.issue('other').key) });
    await proc.waitForLine((l) => l.includes('the new certificate is not usable yet'));
    expect(await serial()).toBe(second);
  });

  it('counts requests over TLS in the autoscaler stats, proxied ones apart', async () => {
    const volume = newVolume();
    volume.writeServerCertificate(pki, 'stats');
    const app = await startUserApp();
    const { ports } = await start(tlsEnv(app.port, volume.dir));
    await httpsRequest(ports.tls!, { path: '/', ca: pki.ca });
    await httpsRequest(ports.tls!, { path: '/', ca: pki.ca, headers: { 'k-proxy-request': 'activator' } });
    let requests = 0;
    let proxied = 0;
    let uptime = -1;
    const counted = await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${ports.stats}/metrics`);
      const stat = decodeStat(new Uint8Array(await res.arrayBuffer()));
      if (stat.processUptime !== uptime) {
        uptime = stat.processUptime;
        requests += stat.requestCount;
        proxied += stat.proxiedRequestCount;
      }
      return requests >= 2;
    }, 4000);
    expect(counted).toBe(true);
    expect([requests, proxied]).toEqual([2, 1]);
  });

  it('drains on SIGTERM like the plain port (probes 503, requests served) and closes with it', async () => {
    const volume = newVolume();
    volume.writeServerCertificate(pki, 'drain');
    const app = await startUserApp();
    const { proc, ports } = await start(tlsEnv(app.port, volume.dir, { QUEUE_DRAIN_QUIET_SECONDS: '1' }));
    const long = httpsRequest(ports.tls!, { path: '/delay?ms=2500', ca: pki.ca });
    expect(await eventually(async () => (await app.stats()).current === 1)).toBe(true);
    proc.signal('SIGTERM');
    await proc.loggedAt('draining');
    const probe = await httpsRequest(ports.tls!, { path: '/', headers: KUBELET_PROBE, ca: pki.ca });
    expect(probe.status).toBe(503);
    expect(probe.body).toBe('shutting down\n');
    // Past the quiet period both listeners are closed while the long request is still in flight.
    expect(
      await eventually(async () => (await refused(ports.tls!)) && (await refused(ports.serving)), 3000),
    ).toBe(true);
    expect(proc.child.exitCode).toBeNull();
    const res = await long;
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
    expect(await proc.exit()).toBe(0);
  });

  it('serves no TLS port without the certificate: one info line, bad QUEUE_PROXY_TLS_* only warned about', async () => {
    const empty = newVolume();
    const app = await startUserApp();
    const { proc, ports } = await start(tlsEnv(app.port, empty.dir, { QUEUE_PROXY_TLS_MIN_VERSION: '1.1' }));
    expect(ports.tls).toBeUndefined();
    expect((await send(`http://127.0.0.1:${ports.serving}/`)).status).toBe(200);
    const logs = proc.logs();
    const info = logs.filter((l) => String(l.msg).startsWith('internal TLS not served'));
    expect(info).toHaveLength(1);
    expect(info[0]!.msg).toBe(`internal TLS not served: no tls.crt and tls.key in ${empty.dir}`);
    expect(info[0]!.level).toBe('info');
    const warned = logs.filter((l) => String(l.msg).includes('QUEUE_PROXY_TLS_MIN_VERSION'));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.level).toBe('warn');

    // Only one of the two files: still not served, as with Knative.
    const half = newVolume();
    half.write({ 'tls.crt': readFileSync(pki.issue('half').cert) });
    const second = await start(tlsEnv(app.port, half.dir));
    expect(second.ports.tls).toBeUndefined();
    await second.proc.waitForLine((l) => l.includes(`internal TLS not served: no tls.key in ${half.dir}`));
  });

  it('exits 1 at start naming the files when they are not a usable certificate and key', async () => {
    const garbage = newVolume();
    garbage.write({ 'tls.crt': 'not a certificate\n', 'tls.key': readFileSync(pki.issue('g').key) });
    const bad = await runToExit(tlsEnv(8080, garbage.dir));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      new RegExp(
        `^queue-proxy: QUEUE_CERTS_DIR: ${garbage.dir}/tls\\.crt and ${garbage.dir}/tls\\.key are not a usable certificate and key: \\S`,
        'm',
      ),
    );
    expect(bad.stdout).not.toContain('"msg":"started"');

    const mismatched = newVolume();
    mismatched.write({
      'tls.crt': readFileSync(pki.issue('m1').cert),
      'tls.key': readFileSync(pki.issue('m2').key),
    });
    const wrongKey = await runToExit(tlsEnv(8080, mismatched.dir));
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain(`${mismatched.dir}/tls.key are not a usable certificate and key`);
  });

  it('exits 1 at start naming each bad QUEUE_PROXY_TLS_* variable when it serves TLS', async () => {
    const volume = newVolume();
    volume.writeServerCertificate(pki, 'vars');
    const { code, stderr } = await runToExit(
      tlsEnv(8080, volume.dir, {
        QUEUE_PROXY_TLS_MIN_VERSION: '1.1',
        QUEUE_PROXY_TLS_MAX_VERSION: 'TLSv1.3',
        // Go files RSA key exchange suites as insecure; Knative does not know them by name.
        QUEUE_PROXY_TLS_CIPHER_SUITES:
          'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_GCM_SHA256',
        QUEUE_PROXY_TLS_CURVE_PREFERENCES: 'X25519,P-224',
      }),
    );
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toEqual([
      'queue-proxy: QUEUE_PROXY_TLS_MIN_VERSION: must be "1.2" or "1.3", got "1.1"',
      'queue-proxy: QUEUE_PROXY_TLS_MAX_VERSION: must be "1.2" or "1.3", got "TLSv1.3"',
      expect.stringMatching(
        /^queue-proxy: QUEUE_PROXY_TLS_CIPHER_SUITES: unknown cipher suite "TLS_RSA_WITH_AES_128_GCM_SHA256"/,
      ),
      expect.stringMatching(/^queue-proxy: QUEUE_PROXY_TLS_CURVE_PREFERENCES: unknown curve "P-224"/),
    ]);
  });

  it('exits 1 when the certificate folder cannot be checked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zerogate-notdir-'));
    const file = join(dir, 'file');
    writeFileSync(file, '');
    try {
      // A path through a regular file: stat fails with ENOTDIR, not "does not exist".
      const { code, stderr } = await runToExit(tlsEnv(8080, file));
      expect(code).toBe(1);
      expect(stderr).toMatch(/^queue-proxy: QUEUE_CERTS_DIR: cannot check .*\/file\/tls\.crt: ENOTDIR$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
