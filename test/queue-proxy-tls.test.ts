import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as h2Connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Agent, WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type H2Reply, h2Exchange, httpsRequest, KUBELET_PROBE, send } from './support/http.js';
import {
  queueProxyEnv,
  ROOT,
  spawnNode,
  startComponent,
  startUserApp,
  type TestProcess,
} from './support/processes.js';
import { createPki, HAS_OPENSSL, SecretVolume, type TestPki } from './support/tls.js';

let pki: TestPki;
let volume: SecretVolume;
let pkiDir: string;

beforeAll(() => {
  if (!HAS_OPENSSL) return;
  pkiDir = mkdtempSync(join(tmpdir(), 'zerogate-qp-pki-'));
  pki = createPki(pkiDir);
  volume = new SecretVolume();
  volume.writeServerCertificate(pki, 'server');
});

afterAll(() => {
  volume?.remove();
  if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
});

/** A queue-proxy serving internal TLS, and its ports. */
interface TlsQueueProxy {
  readonly proc: TestProcess;
  /** The plain serving port. */
  readonly port: number;
  readonly tlsPort: number;
}

/** Starts the built queue-proxy with the test certificate folder, every port picked freely. */
async function startTlsQueueProxy(userPort: number, overrides: Record<string, string> = {}) {
  const { proc, ports } = await startComponent<{ serving: number; tls?: number }>(
    'packages/queue-proxy/dist/main.js',
    queueProxyEnv(userPort, { QUEUE_SERVING_TLS_PORT: '0', QUEUE_CERTS_DIR: volume.dir, ...overrides }),
  );
  expect(ports.tls).toBeGreaterThan(0);
  return { proc, port: ports.serving, tlsPort: ports.tls! } satisfies TlsQueueProxy;
}

async function startApp(script: string, env: Record<string, string> = {}) {
  const proc = spawnNode(script, { PORT: '0', ...env });
  const line = await proc.waitForLine((l) => l.startsWith('{"port"'));
  return { proc, port: (JSON.parse(line) as { port: number }).port };
}

/**
 * One HTTP/2 request over TLS, verified against the test CA, read whole with its trailers; ALPN `h2`, or
 * none (prior knowledge).
 */
async function h2sRequest(
  port: number,
  path: string,
  headers: Record<string, string>,
  body?: string,
  alpn = true,
): Promise<H2Reply & { alpn: string }> {
  const session = h2Connect(`https://127.0.0.1:${port}`, {
    ca: pki.ca,
    // Without ALPN, as Knative's activator dials: prior-knowledge HTTP/2 over TLS.
    ...(alpn ? {} : { createConnection: () => tlsConnect({ host: '127.0.0.1', port, ca: pki.ca }) }),
  });
  try {
    const reply = await h2Exchange(
      session,
      { ':method': body ? 'POST' : 'GET', ':path': path, ...headers },
      body,
    );
    return { ...reply, alpn: String(session.alpnProtocol) };
  } finally {
    session.close();
  }
}

/** Opens a TLS connection with `options` and resolves with the negotiated parameters, or rejects. */
async function handshake(
  port: number,
  options: { maxVersion?: 'TLSv1.2' | 'TLSv1.3'; ALPNProtocols?: string[] } = {},
): Promise<{ protocol: string | null; cipher: string; alpn: string | false }> {
  const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca, ...options });
  try {
    await once(socket, 'secureConnect');
    return {
      protocol: socket.getProtocol(),
      cipher: socket.getCipher().name,
      alpn: socket.alpnProtocol ?? false,
    };
  } finally {
    socket.destroy();
  }
}

describe.skipIf(!HAS_OPENSSL)('queue-proxy internal TLS (QUEUE_SERVING_TLS_PORT)', () => {
  it('proxies HTTP/1.1 over TLS to the app as the plain port does, and answers kubelet probes', async () => {
    const app = await startUserApp();
    const qp = await startTlsQueueProxy(app.port);
    const headers = {
      'k-original-host': 'hello.default.example.com',
      'knative-serving-revision': 'hello-00001',
      'knative-serving-namespace': 'default',
      'x-forwarded-proto': 'https',
    };
    const viaTls = await httpsRequest(qp.tlsPort, { path: '/echo?x=1', headers, ca: pki.ca });
    const viaPlain = await send(`http://127.0.0.1:${qp.port}/echo?x=1`, { headers });
    expect(viaTls.status).toBe(200);
    const seenTls = JSON.parse(viaTls.body) as {
      url: string;
      httpVersion: string;
      headers: Record<string, string>;
    };
    const seenPlain = JSON.parse(viaPlain.body) as { headers: Record<string, string> };
    expect(seenTls.url).toBe('/echo?x=1');
    expect(seenTls.httpVersion).toBe('1.1');
    expect(seenTls.headers.host).toBe('hello.default.example.com');
    expect(seenTls.headers['knative-serving-revision']).toBeUndefined();
    expect(seenTls.headers['knative-serving-namespace']).toBeUndefined();
    expect(seenTls.headers['x-forwarded-for']).toBe('127.0.0.1');
    // Synthesised from the X-Forwarded-* headers as they arrived (Knative's forwarded shim).
    expect(seenTls.headers.forwarded).toBe('proto=https');
    for (const name of ['host', 'x-forwarded-for', 'forwarded', 'x-forwarded-proto']) {
      expect(seenTls.headers[name]).toBe(seenPlain.headers[name]);
    }

    const probe = await httpsRequest(qp.tlsPort, { path: '/', headers: KUBELET_PROBE, ca: pki.ca });
    expect(probe.status).toBe(200);
    expect(probe.body).toBe('queue');
    const hash = await httpsRequest(qp.tlsPort, {
      path: '/',
      headers: { 'k-network-probe': 'probe', 'k-network-hash': 'abc' },
      ca: pki.ca,
    });
    expect(hash.status).toBe(200);
    expect(hash.headers['k-network-hash']).toBe('abc');
    // Probes never reach the app.
    expect((await app.seen()).map((s) => s.path)).toEqual(['/echo?x=1', '/echo?x=1']);
  });

  it('serves TLS 1.3 only by default and offers h2 and http/1.1 by ALPN, as Knative', async () => {
    const app = await startUserApp();
    const qp = await startTlsQueueProxy(app.port);
    await expect(handshake(qp.tlsPort, { maxVersion: 'TLSv1.2' })).rejects.toThrow();
    expect(await handshake(qp.tlsPort, { ALPNProtocols: ['h2', 'http/1.1'] })).toMatchObject({
      protocol: 'TLSv1.3',
      alpn: 'h2',
    });
    expect((await handshake(qp.tlsPort, { ALPNProtocols: ['http/1.1'] })).alpn).toBe('http/1.1');
    expect((await handshake(qp.tlsPort)).alpn).toBe(false);
  });

  it('applies QUEUE_PROXY_TLS_* (Go names): TLS 1.2 with the listed suite and curve', async () => {
    const app = await startUserApp();
    const qp = await startTlsQueueProxy(app.port, {
      QUEUE_PROXY_TLS_MIN_VERSION: '1.2',
      QUEUE_PROXY_TLS_MAX_VERSION: '1.2',
      QUEUE_PROXY_TLS_CIPHER_SUITES: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
      QUEUE_PROXY_TLS_CURVE_PREFERENCES: 'CurveP384',
    });
    const negotiated = await handshake(qp.tlsPort);
    expect(negotiated).toMatchObject({ protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    const res = await httpsRequest(qp.tlsPort, { path: '/', ca: pki.ca });
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello');
  });

  it('queues the second request behind the first at CC=1, across both ports', async () => {
    const app = await startUserApp();
    const qp = await startTlsQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1' });
    const t0 = Date.now();
    const replies = await Promise.all([
      httpsRequest(qp.tlsPort, { path: '/delay?ms=300', ca: pki.ca }).then((r) => ({ ...r, at: Date.now() })),
      httpsRequest(qp.tlsPort, { path: '/delay?ms=300', ca: pki.ca }).then((r) => ({ ...r, at: Date.now() })),
      send(`http://127.0.0.1:${qp.port}/delay?ms=300`).then((r) => ({ ...r, at: Date.now() })),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    const ends = replies.map((r) => r.at - t0).sort((a, b) => a - b);
    expect(ends[1]).toBeGreaterThanOrEqual(590);
    expect(ends[2]).toBeGreaterThanOrEqual(890);
    expect((await app.stats()).max).toBe(1);
  });

  it('carries HTTP/2 (by ALPN, or prior knowledge without ALPN) to an h2c app, with trailers', async () => {
    const app = await startApp('test/support/h2c-app.mjs');
    const qp = await startTlsQueueProxy(app.port, {
      SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: app.port } }),
    });
    const reply = await h2sRequest(
      qp.tlsPort,
      '/echo',
      { 'k-original-host': 'hello.default.example.com', 'knative-serving-revision': 'r', te: 'trailers' },
      'ping',
    );
    expect(reply.alpn).toBe('h2');
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body) as {
      httpVersion: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(seen.httpVersion).toBe('2.0');
    expect(seen.body).toBe('ping');
    expect(seen.headers[':authority']).toBe('hello.default.example.com');
    expect(seen.headers['knative-serving-revision']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(reply.trailers['x-checksum']).toBe('abc123');
    // Knative's activator dials without ALPN and sends the HTTP/2 preface at once (prior knowledge).
    const priorKnowledge = await h2sRequest(qp.tlsPort, '/echo', { te: 'trailers' }, 'no alpn', false);
    expect(priorKnowledge.alpn).toBe('false');
    expect(priorKnowledge.status).toBe(200);
    expect((JSON.parse(priorKnowledge.body) as { body: string }).body).toBe('no alpn');
    expect(priorKnowledge.trailers['x-checksum']).toBe('abc123');
    // Probes over h2 too.
    const probe = await h2sRequest(qp.tlsPort, '/', {
      'user-agent': 'kube-probe/1.30',
      'k-network-probe': 'queue',
    });
    expect(probe.status).toBe(200);
    expect(probe.body).toBe('queue');
  });

  it('carries gRPC over TLS (a client with the CA) to a gRPC app, status and trailers included', async () => {
    const definition = loadSync(join(ROOT, 'test/support/grpc-test.proto'), {
      keepCase: true,
      defaults: true,
    });
    const Tester = ((loadPackageDefinition(definition).zerogate as GrpcObject).test as GrpcObject)
      .Tester as ServiceClientConstructor;
    const app = await startApp('test/support/grpc-app.mjs');
    const qp = await startTlsQueueProxy(app.port, {
      SERVING_READINESS_PROBE: JSON.stringify({ grpc: { port: app.port, service: '' } }),
    });
    const client = new Tester(`127.0.0.1:${qp.tlsPort}`, credentials.createSsl(pki.ca), {
      // SNI takes a host name, not an address; the certificate names both.
      'grpc.ssl_target_name_override': 'localhost',
    });
    try {
      const outcome = await new Promise<{ err: ServiceError | null; reply: unknown; status: StatusObject }>(
        (resolve) => {
          let result: { err: ServiceError | null; reply: unknown } | undefined;
          let final: StatusObject | undefined;
          const settle = () => result && final && resolve({ ...result, status: final });
          const call = (
            client as unknown as {
              Echo(
                r: object,
                m: Metadata,
                cb: (e: ServiceError | null, v?: unknown) => void,
              ): { on(e: 'status', f: (s: StatusObject) => void): void };
            }
          ).Echo({ text: 'over tls' }, new Metadata(), (err, reply) => {
            result = { err, reply };
            settle();
          });
          call.on('status', (s) => {
            final = s;
            settle();
          });
        },
      );
      expect(outcome.err).toBeNull();
      expect(outcome.reply).toEqual({ text: 'over tls', proxy: '', forwarded_for: '127.0.0.1' });
      expect(outcome.status.code).toBe(0);
      expect(outcome.status.metadata.get('x-echo-trailer')).toEqual(['echoed over%20tls']);
    } finally {
      client.close();
    }
  });

  it('upgrades websockets over TLS (HTTP/1.1) and echoes messages', async () => {
    const app = await startUserApp();
    const qp = await startTlsQueueProxy(app.port);
    const dispatcher = new Agent({ connect: { ca: pki.ca } });
    try {
      const ws = new WebSocket(`wss://127.0.0.1:${qp.tlsPort}/ws`, { dispatcher });
      await new Promise<void>((resolve, reject) => {
        ws.addEventListener('open', () => resolve(), { once: true });
        ws.addEventListener('error', () => reject(new Error('websocket failed')), { once: true });
      });
      const echoed = new Promise<string>((resolve) =>
        ws.addEventListener('message', (e) => resolve(String(e.data)), { once: true }),
      );
      ws.send('hello over tls');
      expect(await echoed).toBe('hello over tls');
      ws.close();
    } finally {
      await dispatcher.close();
    }
  });
});
