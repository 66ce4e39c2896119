import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ProbeConfigError,
  type ProbeSpec,
  parseReadinessProbes,
  ReadinessProber,
} from './readiness-probe.js';

// A self-signed certificate (CN=localhost, valid until 2126) for the HTTPS probe test.
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgJDNpm0jk7YOH/sKT
eVpea2yECsZ2N6UUQk0V0jrSiRqhRANCAATe6FXNpchD21o2/PEx15h4ZO55wqiM
gGK91nURQcA+RQ/0v2qJG4eYy8bIJLsalZ+qXiHLOMp1vZt60hDctnGd
-----END PRIVATE KEY-----
`;
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBgDCCASWgAwIBAgIUMIU+l+Vf0W/rRWJR/2RM61O8uKkwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMTIyNDEwN1oYDzIxMjYxMDI4
MjI0MTA3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATe6FXNpchD21o2/PEx15h4ZO55wqiMgGK91nURQcA+RQ/0v2qJG4eY
y8bIJLsalZ+qXiHLOMp1vZt60hDctnGdo1MwUTAdBgNVHQ4EFgQUip6Yr5cToyTf
SlyoiotjKFkr18gwHwYDVR0jBBgwFoAUip6Yr5cToyTfSlyoiotjKFkr18gwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAqNqjHBCHEQDQm89GkZ9b
L3DzywwZm1o8I+e2ubaeo+kCIQDbKnlFG48RTvYXkK10GtWWoYzUQTJyKz1ekUlE
RytfvQ==
-----END CERTIFICATE-----
`;

const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Listens on 127.0.0.1 (on `port`, or any free port), destroys every connection on cleanup. */
async function serve<S extends net.Server>(server: S, port = 0): Promise<{ server: S; port: number }> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A port nothing listens on. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function connections(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
  );
}

/** Waits up to `ms` for the server to have no open connections; returns how many are left. */
async function drained(server: net.Server, ms = 1000): Promise<number> {
  const deadline = Date.now() + ms;
  let n = await connections(server);
  while (n > 0 && Date.now() < deadline) {
    await sleep(10);
    n = await connections(server);
  }
  return n;
}

/** A TCP server that accepts connections and never writes a byte. */
function silentServer(): Promise<{ server: net.Server; port: number }> {
  return serve(net.createServer((socket) => socket.resume()));
}

/** An HTTP/1.1 server answering each request with the next status of `statuses` (the last one repeats). */
async function httpServer(statuses: number[] = [200], delayMs = 0) {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    const status = statuses[Math.min(requests.length, statuses.length - 1)] ?? 200;
    requests.push(req);
    setTimeout(() => {
      res.writeHead(status, status === 302 ? { location: '/elsewhere' } : {});
      res.end('body');
    }, delayMs);
  });
  return { ...(await serve(server)), requests };
}

const timing = { timeoutMs: 1000, periodMs: 1000, successThreshold: 1 };

function tcpProbe(port: number, extra: Partial<ProbeSpec> = {}): ProbeSpec {
  return { kind: 'tcp', host: '127.0.0.1', port, ...timing, ...extra } as ProbeSpec;
}

function httpProbe(port: number, extra: Partial<Extract<ProbeSpec, { kind: 'http' }>> = {}): ProbeSpec {
  return {
    kind: 'http',
    scheme: 'http',
    host: '127.0.0.1',
    port,
    path: '/',
    headers: [],
    ...timing,
    ...extra,
  };
}

function grpcProbe(port: number, service: string, extra: Partial<ProbeSpec> = {}): ProbeSpec {
  return { kind: 'grpc', host: '127.0.0.1', port, service, ...timing, ...extra } as ProbeSpec;
}

function prober(probes: ProbeSpec[], options?: ConstructorParameters<typeof ReadinessProber>[1]) {
  const p = new ReadinessProber(probes, options);
  cleanups.push(() => p.close());
  return p;
}

function parseError(fn: () => unknown): ProbeConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProbeConfigError);
    return err as ProbeConfigError;
  }
  throw new Error('expected a ProbeConfigError');
}

describe('parseReadinessProbes', () => {
  it('gives no probes for an unset value', () => {
    expect(parseReadinessProbes(undefined, false, 8080)).toEqual([]);
    expect(parseReadinessProbes(null, true, 8080)).toEqual([]);
    expect(parseReadinessProbes([], true, 8080)).toEqual([]);
  });

  it('fills in the defaults of a TCP probe', () => {
    expect(parseReadinessProbes({ tcpSocket: {} }, false, 8080)).toEqual([
      { kind: 'tcp', host: '127.0.0.1', port: 8080, timeoutMs: 1000, periodMs: 0, successThreshold: 1 },
    ]);
    expect(parseReadinessProbes({ tcpSocket: { port: 0, host: '' }, timeoutSeconds: 0 }, false, 1)).toEqual([
      { kind: 'tcp', host: '127.0.0.1', port: 1, timeoutMs: 1000, periodMs: 0, successThreshold: 1 },
    ]);
  });

  it('parses an HTTP probe with a string port, headers and timings', () => {
    const probe = {
      httpGet: {
        path: 'healthz',
        port: '9000',
        host: '10.0.0.1',
        scheme: 'HTTPS',
        httpHeaders: [{ name: 'X-Check', value: 'yes' }],
      },
      timeoutSeconds: 3,
      periodSeconds: 5,
      successThreshold: 2,
      failureThreshold: 3,
      initialDelaySeconds: 1,
    };
    expect(parseReadinessProbes(probe, false, 8080)).toEqual([
      {
        kind: 'http',
        scheme: 'https',
        host: '10.0.0.1',
        port: 9000,
        path: '/healthz',
        headers: [['X-Check', 'yes']],
        timeoutMs: 3000,
        periodMs: 5000,
        successThreshold: 2,
      },
    ]);
    expect(parseReadinessProbes({ httpGet: {} }, false, 8080)).toMatchObject([
      { kind: 'http', scheme: 'http', host: '127.0.0.1', port: 8080, path: '/', headers: [] },
    ]);
  });

  it('parses gRPC probes and lists of probes', () => {
    const probes = [{ grpc: { port: 9090, service: 'health' } }, { grpc: {}, periodSeconds: 1 }];
    expect(parseReadinessProbes(probes, true, 8080)).toEqual([
      {
        kind: 'grpc',
        host: '127.0.0.1',
        port: 9090,
        service: 'health',
        timeoutMs: 1000,
        periodMs: 0,
        successThreshold: 1,
      },
      {
        kind: 'grpc',
        host: '127.0.0.1',
        port: 8080,
        service: '',
        timeoutMs: 1000,
        periodMs: 1000,
        successThreshold: 1,
      },
    ]);
  });

  it('says what is wrong', () => {
    expect(
      parseError(() => parseReadinessProbes({ exec: { command: ['true'] } }, false, 8080)).message,
    ).toMatch(/^exec probes are not supported by the queue-proxy/);
    expect(
      parseError(() => parseReadinessProbes({ httpGet: { port: 'http' } }, false, 8080)).message,
    ).toMatch(/^httpGet\.port must be a number/);
    expect(parseError(() => parseReadinessProbes({ httpGet: { port: true } }, false, 8080)).message).toMatch(
      /^httpGet\.port must be a number/,
    );
    expect(
      parseError(() => parseReadinessProbes({ tcpSocket: { port: 70000 } }, false, 8080)).message,
    ).toMatch(/^tcpSocket\.port must be between 1 and 65535/);
    expect(parseError(() => parseReadinessProbes({}, false, 8080)).message).toMatch(/must set one of/);
    expect(
      parseError(() => parseReadinessProbes({ tcpSocket: {}, httpGet: {} }, false, 8080)).message,
    ).toMatch(/only one of/);
    expect(parseError(() => parseReadinessProbes([{ tcpSocket: {} }], false, 8080)).message).toMatch(
      /got an array/,
    );
    expect(parseError(() => parseReadinessProbes({ tcpSocket: {} }, true, 8080)).message).toMatch(
      /expected an array/,
    );
    expect(parseError(() => parseReadinessProbes('tcp', false, 8080)).message).toBe(
      'probe must be an object',
    );
    expect(
      parseError(() =>
        parseReadinessProbes({ httpGet: { scheme: 'FTP', httpHeaders: [{ name: 'a b' }] } }, false, 1),
      ).problems,
    ).toEqual([
      'httpGet.scheme must be HTTP or HTTPS, got "FTP"',
      'httpGet.httpHeaders[0].name must be a valid header name, got "a b"',
    ]);
    const err = parseError(() =>
      parseReadinessProbes(
        [{ tcpSocket: {} }, { tcpSocket: { port: 'x' }, timeoutSeconds: -1 }, null],
        true,
        1,
      ),
    );
    expect(err.problems).toEqual([
      'probes[1].timeoutSeconds must be a non-negative integer, got -1',
      'probes[1].tcpSocket.port must be a number (named ports are not supported), got "x"',
      'probes[2] must be an object',
    ]);
  });
});

describe('ReadinessProber', () => {
  it('is ready with no probes', async () => {
    expect(await prober([]).check()).toBe(true);
  });

  it('passes a TCP probe iff something listens', async () => {
    const { server, port } = await serve(net.createServer((socket) => socket.resume()));
    expect(await prober([tcpProbe(port)]).check()).toBe(true);
    expect(await drained(server)).toBe(0);
    expect(await prober([tcpProbe(await freePort())]).check()).toBe(false);
  });

  it('passes an HTTP probe on 2xx and 3xx and fails it on 5xx', async () => {
    const ok = await httpServer([200]);
    const redirect = await httpServer([302]);
    const broken = await httpServer([500]);
    const failures: string[] = [];
    const onFailure = (err: Error) => failures.push(err.message);
    expect(await prober([httpProbe(ok.port)]).check()).toBe(true);
    expect(await prober([httpProbe(redirect.port)]).check()).toBe(true);
    expect(redirect.requests).toHaveLength(1);
    expect(await prober([httpProbe(broken.port)], { onFailure }).check()).toBe(false);
    expect(failures).toEqual(['HTTP probe did not respond Ready, got status code: 500']);
    expect(await drained(ok.server)).toBe(0);
  });

  it('sends the path, the kube-probe User-Agent, the user headers and Host, without keep-alive', async () => {
    const { port, requests } = await httpServer();
    const probe = httpProbe(port, {
      path: '/healthz?full=1',
      headers: [
        ['X-Check', 'one'],
        ['X-Check', 'two'],
        ['Host', 'app.example.com'],
      ],
    });
    expect(await prober([probe]).check()).toBe(true);
    const req = requests[0]!;
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/healthz?full=1');
    expect(req.httpVersion).toBe('1.1');
    expect(req.headers['user-agent']).toBe('kube-probe//');
    expect(req.headers['x-check']).toBe('one, two');
    expect(req.headers.host).toBe('app.example.com');
    expect(req.headers.connection).toBe('close');
  });

  it('lets a probe header replace the User-Agent', async () => {
    const { port, requests } = await httpServer();
    expect(await prober([httpProbe(port, { headers: [['User-Agent', 'mine']] })]).check()).toBe(true);
    expect(requests[0]!.headers['user-agent']).toBe('mine');
  });

  it('does not verify the certificate of an HTTPS probe', async () => {
    const { port } = await serve(
      https.createServer({ key: TLS_KEY, cert: TLS_CERT }, (_req, res) => res.end('ok')),
    );
    expect(await prober([httpProbe(port, { scheme: 'https' })]).check()).toBe(true);
  });

  it('polls aggressively until the container starts listening', async () => {
    const port = await freePort();
    const p = prober([httpProbe(port, { periodMs: 0 })]);
    const result = p.check();
    // The container is slow to start on purpose: it listens only after the first attempts were refused.
    await sleep(200);
    await serve(
      http.createServer((_req, res) => res.end('ok')),
      port,
    );
    // One attempt would have been refused; polling went on until the container answered.
    expect(await result).toBe(true);
  });

  it('fails an aggressive probe once the total timeout passes', async () => {
    const port = await freePort();
    const failures: Error[] = [];
    const p = prober([tcpProbe(port, { periodMs: 0 })], {
      aggressiveTimeoutMs: 300,
      onFailure: (err) => failures.push(err),
    });
    const started = Date.now();
    expect(await p.check()).toBe(false);
    // No earlier than the total timeout; the failure names it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toMatch(/^aggressive probe failed \d+ times in 300 ms$/);
    expect((failures[0]!.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('needs successThreshold consecutive successes in aggressive mode', async () => {
    const { port, requests } = await httpServer([200, 500, 200, 200, 500, 200, 200]);
    const p = prober([httpProbe(port, { periodMs: 0, successThreshold: 2 })], {
      pollIntervalMs: 10,
      aggressiveTimeoutMs: 2000,
    });
    expect(await p.check()).toBe(true);
    expect(requests).toHaveLength(4);
    // The count starts again for every check: two more successes are needed, after a failure.
    expect(await p.check()).toBe(true);
    expect(requests).toHaveLength(7);
  });

  it('shares one in-flight run between concurrent checks and caches nothing after it', async () => {
    const { port, requests } = await httpServer([200], 100);
    const p = prober([httpProbe(port)]);
    const results = await Promise.all([p.check(), p.check(), p.check()]);
    expect(results).toEqual([true, true, true]);
    expect(requests).toHaveLength(1);
    expect(await p.check()).toBe(true);
    expect(requests).toHaveLength(2);
  });

  it('needs every probe to pass', async () => {
    const ok = await httpServer([200]);
    const closed = await freePort();
    expect(await prober([httpProbe(ok.port), tcpProbe(ok.port)]).check()).toBe(true);
    expect(await prober([httpProbe(ok.port), tcpProbe(closed)]).check()).toBe(false);
  });

  describe('gRPC', () => {
    /** A grpc.health.v1 server written on node:http2: `statuses` maps a service to its ServingStatus. */
    async function healthServer(statuses: Record<string, number>) {
      const calls: { service: string; headers: http2.IncomingHttpHeaders }[] = [];
      const server = http2.createServer();
      server.on('stream', (stream, headers) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const body = Buffer.concat(chunks);
          const message = body.subarray(5, 5 + body.readUInt32BE(1));
          // HealthCheckRequest: tag 0x0a, one-byte length, the service name.
          const service = message.length > 0 ? message.subarray(2, 2 + message[1]!).toString() : '';
          calls.push({ service, headers });
          const status = statuses[service];
          if (headers[':path'] !== '/grpc.health.v1.Health/Check' || status === undefined) {
            stream.respond(
              {
                ':status': 200,
                'content-type': 'application/grpc',
                'grpc-status': '5',
                'grpc-message': 'unknown',
              },
              { endStream: true },
            );
            return;
          }
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          // HealthCheckResponse { status = <status> }, after an unknown field the client must skip.
          stream.end(Buffer.from([0, 0, 0, 0, 5, 0x12, 0x01, 0x41, 0x08, status]));
        });
      });
      return { ...(await serve(server)), calls };
    }

    it('passes iff the service is SERVING', async () => {
      const { server, port, calls } = await healthServer({ '': 1, up: 1, down: 2 });
      expect(await prober([grpcProbe(port, 'up')]).check()).toBe(true);
      expect(await prober([grpcProbe(port, '')]).check()).toBe(true);
      expect(await prober([grpcProbe(port, 'down')]).check()).toBe(false);
      expect(calls.map((c) => c.service)).toEqual(['up', '', 'down']);
      expect(calls[0]!.headers).toMatchObject({
        ':method': 'POST',
        'content-type': 'application/grpc',
        te: 'trailers',
        'user-agent': 'kube-probe//',
      });
      expect(await drained(server)).toBe(0);
    });

    it('fails on an unknown service', async () => {
      const { port } = await healthServer({ up: 1 });
      const failures: string[] = [];
      const p = prober([grpcProbe(port, 'missing')], { onFailure: (err) => failures.push(err.message) });
      expect(await p.check()).toBe(false);
      expect(failures[0]).toMatch(/grpc-status 5/);
    });

    it('fails against a server that does not speak HTTP/2', async () => {
      const { port } = await httpServer();
      expect(await prober([grpcProbe(port, '')]).check()).toBe(false);
    });
  });

  describe('HTTP/2 auto-detection', () => {
    it('probes an h2c-only server over HTTP/2', async () => {
      const seen: http2.IncomingHttpHeaders[] = [];
      const { server, port } = await serve(
        http2.createServer((req, res) => {
          seen.push(req.headers);
          res.end('ok');
        }),
      );
      const probe = httpProbe(port, {
        path: '/ready',
        headers: [
          ['X-Check', 'yes'],
          ['Host', 'app.example.com'],
          ['Connection', 'keep-alive'],
        ],
      });
      expect(await prober([probe], { http2AutoDetect: true }).check()).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({
        ':method': 'GET',
        ':path': '/ready',
        ':authority': 'app.example.com',
        'user-agent': 'kube-probe//',
        'x-check': 'yes',
      });
      expect(await drained(server)).toBe(0);
    });

    it('falls back to HTTP/1.1 for a server that does not speak HTTP/2', async () => {
      const { server, port, requests } = await httpServer();
      expect(await prober([httpProbe(port)], { http2AutoDetect: true }).check()).toBe(true);
      expect(requests).toHaveLength(1);
      expect(requests[0]!.httpVersion).toBe('1.1');
      expect(await drained(server)).toBe(0);
    });

    it('does not fall back when the h2c server answers not ready', async () => {
      const { port } = await serve(
        http2.createServer((_req, res) => {
          res.statusCode = 503;
          res.end();
        }),
      );
      expect(await prober([httpProbe(port)], { http2AutoDetect: true }).check()).toBe(false);
    });
  });

  describe('timeouts and cleanup', () => {
    it.each([
      ['HTTP/1.1', (port: number) => httpProbe(port, { timeoutMs: 200 }), {}],
      ['h2c', (port: number) => httpProbe(port, { timeoutMs: 200 }), { http2AutoDetect: true }],
      ['gRPC', (port: number) => grpcProbe(port, '', { timeoutMs: 200 }), {}],
    ])('times out a %s probe against a silent server and leaves no connection open', async (_name, make, options) => {
      const { server, port } = await silentServer();
      const failures: string[] = [];
      const p = prober([make(port)], { ...options, onFailure: (err) => failures.push(err.message) });
      const started = Date.now();
      expect(await p.check()).toBe(false);
      // Cut by the 200 ms timeout (the failure says so), no earlier.
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(failures[0]).toMatch(/timed out after 200 ms/);
      expect(await drained(server)).toBe(0);
    });

    it('bounds each aggressive attempt by the attempt timeout', async () => {
      const { server, port } = await silentServer();
      const p = prober([httpProbe(port, { periodMs: 0 })], {
        aggressiveTimeoutMs: 400,
        attemptTimeoutMs: 50,
      });
      let accepted = 0;
      server.on('connection', () => accepted++);
      expect(await p.check()).toBe(false);
      // Each attempt takes 50 ms plus a 50 ms pause, so several attempts fit in 400 ms.
      expect(accepted).toBeGreaterThanOrEqual(3);
      expect(await drained(server)).toBe(0);
    });

    it('ends an in-flight check on close(), before its own timeouts, and fails later checks', async () => {
      const { server, port } = await silentServer();
      const p = prober([httpProbe(port, { timeoutMs: 5000 }), tcpProbe(port, { periodMs: 0 })]);
      const result = p.check();
      // In flight: the HTTP probe is connected to the silent server and waiting for an answer.
      const deadline = Date.now() + 2000;
      while ((await connections(server)) === 0 && Date.now() < deadline) await sleep(5);
      expect(await connections(server)).toBeGreaterThan(0);
      const closedAt = Date.now();
      p.close();
      expect(await result).toBe(false);
      // Ended by close(), not by the HTTP probe's 5 s timeout.
      expect(Date.now() - closedAt).toBeLessThan(5000);
      expect(await drained(server)).toBe(0);
      expect(await p.check()).toBe(false);
    });
  });

  it('rejects bad options', () => {
    expect(() => new ReadinessProber([], { pollIntervalMs: 0 })).toThrow(/pollIntervalMs/);
  });
});
