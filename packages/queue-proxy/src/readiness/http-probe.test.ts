import http2 from 'node:http2';
import https from 'node:https';
import { afterEach, describe, expect, it } from 'vitest';
import {
  drained,
  httpServer,
  httpSpec,
  prober,
  runCleanups,
  serve,
} from '../../../../test/support/readiness-targets.js';

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

afterEach(runCleanups);

describe('httpProbe', () => {
  it('passes an HTTP probe on 2xx and 3xx and fails it on 5xx', async () => {
    const ok = await httpServer([200]);
    const redirect = await httpServer([302]);
    const broken = await httpServer([500]);
    const failures: string[] = [];
    const onFailure = (err: Error) => failures.push(err.message);
    expect(await prober([httpSpec(ok.port)]).check()).toBe(true);
    expect(await prober([httpSpec(redirect.port)]).check()).toBe(true);
    expect(redirect.requests).toHaveLength(1);
    expect(await prober([httpSpec(broken.port)], { onFailure }).check()).toBe(false);
    expect(failures).toEqual(['HTTP probe did not respond Ready, got status code: 500']);
    expect(await drained(ok.server)).toBe(0);
  });

  it('sends the path, the kube-probe User-Agent, the user headers and Host, without keep-alive', async () => {
    const { port, requests } = await httpServer();
    const probe = httpSpec(port, {
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
    expect(await prober([httpSpec(port, { headers: [['User-Agent', 'mine']] })]).check()).toBe(true);
    expect(requests[0]!.headers['user-agent']).toBe('mine');
  });

  it('does not verify the certificate of an HTTPS probe', async () => {
    const { port } = await serve(
      https.createServer({ key: TLS_KEY, cert: TLS_CERT }, (_req, res) => res.end('ok')),
    );
    expect(await prober([httpSpec(port, { scheme: 'https' })]).check()).toBe(true);
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
      const probe = httpSpec(port, {
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
      expect(await prober([httpSpec(port)], { http2AutoDetect: true }).check()).toBe(true);
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
      expect(await prober([httpSpec(port)], { http2AutoDetect: true }).check()).toBe(false);
    });
  });
});
