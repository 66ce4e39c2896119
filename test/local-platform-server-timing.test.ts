import { Agent, request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import { example, startTestPlatform, type TestPlatform } from './support/platform.js';

// End-to-end: the platform's own entry point, its activator and a queue-proxy per Pod, and a revision
// annotated `zerogate.dev/server-timing: "false"` beside one that is not.
const started: TestPlatform[] = [];
const client = new Agent({ connections: 8 });
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await client.close();
});

/** A revision of the slow app with one request at a time on one Pod, the ingress straight to it once ready. */
function service(name: string, annotations: Record<string, string> = {}): string {
  const lines = Object.entries({
    'autoscaling.knative.dev/max-scale': '1',
    // The activator leaves the path once the Pod is ready, so a second request waits in its queue-proxy.
    'autoscaling.knative.dev/target-burst-capacity': '0',
    ...annotations,
  }).map(([key, value]) => `      ${key}: ${JSON.stringify(value)}`);
  return `  - name: ${name}
    command: [node, ${example('slow')}]
    containerConcurrency: 1
    annotations:
${lines.join('\n')}
`;
}

/** The metric names of a response's `Server-Timing` (`hold;dur=3, proxy;dur=1` → `hold`, `proxy`). */
async function timed(p: TestPlatform, host: string, path: string): Promise<string[]> {
  const res = await request(`http://127.0.0.1:${p.port}${path}`, {
    headers: { host },
    dispatcher: client,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  await res.body.text();
  expect(res.statusCode).toBe(200);
  const value = res.headers['server-timing'];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value.join(',') : value).split(',').map((e) => e.split(';')[0]!.trim());
}

describe('one-machine platform: Server-Timing off by annotation (docs/wire.md §1)', () => {
  it('a revision annotated zerogate.dev/server-timing: "false" gets no hold from the activator and no queue from its queue-proxy; one without gets both', async () => {
    const p = await startTestPlatform(`ingress: { port: 0 }
services:
${service('on')}${service('off', { 'zerogate.dev/server-timing': 'false' })}`);
    started.push(p);
    for (const name of ['on', 'off']) {
      const host = `${name}.default.localhost`;
      // At zero: the first request is held by the activator until the Pod is ready.
      const first = await timed(p, host, '/?ms=0');
      // Ready, and the ingress sends straight to the Pod: two requests at once, one waits for the other
      // in the queue-proxy's breaker (containerConcurrency 1).
      expect(
        await eventually(async () => {
          const r = await p.revision(`${name}-00001`);
          return r.readyPods === 1 && r.mode === 'Serve';
        }, 60_000),
      ).toBe(true);
      const startedAt = performance.now();
      const pair = await Promise.all([timed(p, host, '/?ms=700'), timed(p, host, '/?ms=700')]);
      // One of them waited for the other: the breaker held it.
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(1400);
      const queued = pair.filter((metrics) => metrics.includes('queue'));
      if (name === 'on') {
        expect(first).toContain('hold');
        expect(queued).toHaveLength(1);
      } else {
        expect(first).toEqual([]);
        expect(pair).toEqual([[], []]);
      }
    }
  }, 150_000);
});
