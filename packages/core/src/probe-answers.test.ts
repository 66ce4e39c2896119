import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBreaker } from './breaker.js';
import { answerHealthCheck, answerNetworkProbe, isProbeAgent, refuseHealthCheck } from './probe-answers.js';
import { statsHandler } from './protobuf-stats-reporter.js';
import { readFacts } from './request-facts.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  if (server) await new Promise((r) => server?.close(r));
  server = undefined;
});

/** Serves `handler` on 127.0.0.1:0 and returns its URL. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('probe answers', () => {
  it('knows the kubelet, activator and autoscaler user agents', () => {
    expect(isProbeAgent('kube-probe/1.30')).toBe(true);
    expect(isProbeAgent('Knative-Activator-Probe')).toBe(true);
    expect(isProbeAgent('Knative-Autoscaling-Probe')).toBe(true);
    expect(isProbeAgent('curl/8')).toBe(false);
    expect(isProbeAgent('')).toBe(false);
  });

  it('answers health checks and network probes as docs/queue-proxy.md §4 says, its 503s marked Zerogate-Error: queue-proxy', async () => {
    let draining = false;
    let ready = true;
    const url = await serve((req, res) => {
      const facts = readFacts(req.rawHeaders);
      if (facts.networkProbe === 'probe') answerNetworkProbe(facts, res, draining);
      else if (!refuseHealthCheck(facts, res, draining)) answerHealthCheck(res, ready, draining);
    });
    const ask = async (headers: Record<string, string>) => {
      const res = await fetch(url, { headers });
      return [
        res.status,
        await res.text(),
        res.headers.get('k-network-hash'),
        res.headers.get('zerogate-error'),
      ];
    };
    expect(await ask({ 'k-network-probe': 'queue' })).toEqual([200, 'queue', null, null]);
    expect(await ask({ 'k-network-probe': 'other' })).toEqual([
      400,
      'unexpected probe header value: other\n',
      null,
      null,
    ]);
    expect(await ask({ 'k-network-probe': 'probe', 'k-network-hash': 'h' })).toEqual([200, '', 'h', null]);
    expect(await ask({ 'k-network-probe': 'probe' })).toEqual([
      400,
      'a probe request must contain a non-empty "K-Network-Hash" header\n',
      null,
      null,
    ]);
    ready = false;
    expect(await ask({ 'k-network-probe': 'queue' })).toEqual([503, '', null, 'queue-proxy; not-ready']);
    draining = true;
    expect(await ask({ 'k-network-probe': 'queue' })).toEqual([
      503,
      'shutting down\n',
      null,
      'queue-proxy; shutting-down',
    ]);
    expect(await ask({ 'k-network-probe': 'probe', 'k-network-hash': 'h' })).toEqual([
      503,
      'shutting down\n',
      null,
      'queue-proxy; shutting-down',
    ]);
  });
});

describe('statsHandler', () => {
  it('serves the current Stat on /metrics with any query, and 404 page not found elsewhere', async () => {
    const url = await serve(statsHandler({ current: new Uint8Array([1, 2, 3]) }));
    const stat = await fetch(`${url}/metrics?x=1`, { method: 'POST' });
    expect(stat.status).toBe(200);
    expect(stat.headers.get('content-type')).toBe('application/protobuf');
    expect([...new Uint8Array(await stat.arrayBuffer())]).toEqual([1, 2, 3]);
    const other = await fetch(`${url}/metrics/x`);
    expect([other.status, await other.text()]).toEqual([404, '404 page not found\n']);
  });
});

describe('buildBreaker', () => {
  it('builds none at CC=0, else CC slots with 10×CC waiting', () => {
    expect(buildBreaker(0)).toBeUndefined();
    const breaker = buildBreaker(3);
    expect([breaker?.capacity, breaker?.queueDepth]).toEqual([3, 30]);
  });
});
