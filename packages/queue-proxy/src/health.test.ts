import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Drainer, readFacts } from '@zerogate/core';
import { pino } from 'pino';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthResponder, type ReadinessCheck } from './health.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A readiness check the test answers: each call waits for the next `settle`. */
class ManualReadiness implements ReadinessCheck {
  calls = 0;
  private pending: ((ready: boolean) => void)[] = [];

  check(): Promise<boolean> {
    this.calls++;
    return new Promise((resolve) => this.pending.push(resolve));
  }

  settle(ready: boolean): void {
    for (const resolve of this.pending.splice(0)) resolve(ready);
  }
}

/** A server answering every request as a health check of `health`; returns its port. */
async function serve(health: HealthResponder): Promise<number> {
  const server = createServer((req, res) => health.healthCheck(readFacts(req.rawHeaders), res));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function probe(port: number): Promise<number> {
  const res = await request(`http://127.0.0.1:${port}/`, {
    headers: { 'user-agent': 'kube-probe/1.33', 'k-network-probe': 'queue' },
  });
  await res.body.dump();
  return res.statusCode;
}

describe('HealthResponder after the app refused a connection', () => {
  it('fails health checks at once, without waiting for a probe, until a readiness check passes', async () => {
    const readiness = new ManualReadiness();
    const health = new HealthResponder(new Drainer(1000), readiness, pino({ level: 'silent' }), false);
    const port = await serve(health);
    health.appRefused();
    // The refusal started a readiness check; health checks meanwhile fail at once and start no other.
    expect(readiness.calls).toBe(1);
    expect(await probe(port)).toBe(503);
    expect(await probe(port)).toBe(503);
    expect(readiness.calls).toBe(1);
    // A failed check keeps it failing; the next health check starts another.
    readiness.settle(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await probe(port)).toBe(503);
    expect(readiness.calls).toBe(2);
    // A passing check ends it: health checks ask the readiness probe again.
    readiness.settle(true);
    await new Promise((resolve) => setImmediate(resolve));
    const answer = probe(port);
    while (readiness.calls < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    readiness.settle(true);
    expect(await answer).toBe(200);
  });
});

describe('HealthResponder refusals (docs/wire.md §6)', () => {
  it("marks its 503 and a failed readiness check's 500 as the queue-proxy's, status and body as Knative's", async () => {
    let check: () => Promise<boolean> = () => Promise.resolve(false);
    const health = new HealthResponder(
      new Drainer(1000),
      { check: () => check() },
      pino({ level: 'silent' }),
      false,
    );
    const port = await serve(health);
    const answer = async () => {
      const res = await request(`http://127.0.0.1:${port}/`, {
        headers: { 'user-agent': 'kube-probe/1.33', 'k-network-probe': 'queue' },
      });
      return [res.statusCode, await res.body.text(), res.headers['zerogate-error']];
    };
    expect(await answer()).toEqual([503, '', 'queue-proxy; not-ready']);
    health.appRefused();
    expect(await answer()).toEqual([503, '', 'queue-proxy; not-ready']);
    check = () => Promise.reject(new Error('probe broke'));
    // The refusal ends once a check passes; until then the rejected checks keep it.
    expect(await answer()).toEqual([503, '', 'queue-proxy; not-ready']);
    check = () => Promise.resolve(true);
    while ((await answer())[0] !== 200) await new Promise((resolve) => setTimeout(resolve, 5));
    check = () => Promise.reject(new Error('probe broke'));
    expect(await answer()).toEqual([500, 'internal error\n', 'queue-proxy; internal']);
  });
});
