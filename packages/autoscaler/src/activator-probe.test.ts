import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeActivatorInPath } from './activator-probe.js';

const servers: Server[] = [];

/** Starts a server on 127.0.0.1:0 answering each request with `answer(n, headers)` (n counts from 1). */
async function serve(answer: (n: number, headers: IncomingHttpHeaders) => [number, string]): Promise<string> {
  let n = 0;
  const server = createServer((req, res) => {
    const [status, body] = answer(++n, req.headers);
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Answers the autoscaler's probe as Knative's activator does (`pkg/activator/handler/probe_handler.go`). */
function activator(_n: number, headers: IncomingHttpHeaders): [number, string] {
  return headers['k-network-probe'] === 'activator' ? [200, 'activator'] : [400, 'unexpected probe'];
}

/** Answers as the queue-proxy does to a probe not meant for it. */
function queueProxy(_n: number, headers: IncomingHttpHeaders): [number, string] {
  return [400, `unexpected probe header value: ${String(headers['k-network-probe'])}`];
}

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
});

describe('probeActivatorInPath', () => {
  it('succeeds at once against an activator, sending the probe headers to /healthz', async () => {
    const seen: { path: string | undefined; headers: IncomingHttpHeaders }[] = [];
    let n = 0;
    const server = createServer((req, res) => {
      n++;
      seen.push({ path: req.url, headers: req.headers });
      res.end(req.headers['k-network-probe'] === 'activator' ? 'activator' : 'no');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    expect(await probeActivatorInPath(url, { intervalMs: 10, maxWaitMs: 1000 })).toBe(true);
    expect(n).toBe(1);
    expect(seen[0]?.path).toBe('/healthz');
    expect(seen[0]?.headers['k-network-probe']).toBe('activator');
    expect(seen[0]?.headers['user-agent']).toBe('Knative-Autoscaling-Probe');
  });

  it('keeps failing against a queue-proxy (400) and gives up after maxWaitMs', async () => {
    let probes = 0;
    const url = await serve((n, h) => {
      probes = n;
      return queueProxy(n, h);
    });
    const started = Date.now();
    expect(await probeActivatorInPath(url, { intervalMs: 20, maxWaitMs: 200 })).toBe(false);
    // No earlier than maxWaitMs (the probes kept failing, so only giving up ends the call).
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(probes).toBeGreaterThanOrEqual(3);
  });

  it('needs the body to be exactly `activator`', async () => {
    const url = await serve(() => [200, 'activator\n']);
    expect(await probeActivatorInPath(url, { intervalMs: 10, maxWaitMs: 50 })).toBe(false);
  });

  it('succeeds once the path starts answering like the activator', async () => {
    // The first answers come from the queue-proxy, as while public endpoints still point at the Pods.
    const url = await serve((n, h) => (n <= 3 ? queueProxy(n, h) : activator(n, h)));
    expect(await probeActivatorInPath(url, { intervalMs: 10, maxWaitMs: 5000 })).toBe(true);
  });

  it('retries refused connections and requests that time out', async () => {
    const refused = await serve(() => [200, 'activator']);
    await new Promise<void>((resolve) => {
      const s = servers.pop()!;
      s.close(() => resolve());
    });
    expect(await probeActivatorInPath(refused, { intervalMs: 10, maxWaitMs: 100 })).toBe(false);

    // A server that never answers: each probe is cut at timeoutMs and the next one is sent; were
    // probes cut only by maxWaitMs, the server would see just one.
    let requests = 0;
    const hanging = createServer(() => {
      requests++;
    });
    servers.push(hanging);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    const started = Date.now();
    expect(await probeActivatorInPath(url, { timeoutMs: 30, intervalMs: 10, maxWaitMs: 500 })).toBe(false);
    expect(requests).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500 - 20);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    // Aborted while probing: on the third failing probe.
    let probes = 0;
    const url = await serve((n, h) => {
      probes = n;
      if (n === 3) controller.abort();
      return queueProxy(n, h);
    });
    const started = Date.now();
    const maxWaitMs = 10_000;
    expect(await probeActivatorInPath(url, { intervalMs: 10, maxWaitMs, signal: controller.signal })).toBe(
      false,
    );
    // Ended by the abort, not by giving up after maxWaitMs.
    expect(Date.now() - started).toBeLessThan(maxWaitMs);
    expect(probes).toBe(3);
  });

  it('rejects bad options naming them', async () => {
    await expect(probeActivatorInPath('http://127.0.0.1:1', { intervalMs: 0 })).rejects.toThrow(/intervalMs/);
  });
});
