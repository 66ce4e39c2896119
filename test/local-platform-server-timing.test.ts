import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import { example, startTestPlatform, type TestPlatform } from './support/platform.js';
import { ROOT } from './support/processes.js';

// End-to-end: the platform's own entry point, its activator and a queue-proxy per Pod (or the app alone,
// carrying the queue-proxy's contract), and revisions annotated `zerogate.dev/server-timing: "false"`
// beside ones that are not.
const started: TestPlatform[] = [];
const client = new Agent({ connections: 8 });
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await client.close();
});

const IN_PROCESS_APP = join(ROOT, 'examples', 'hello-in-process', 'server.mjs');

/** A path of the app that answers after `ms`: the slow example's `?ms=`, the in-process one's `/delay`. */
type Slow = (ms: number) => string;

/** A revision with one request at a time on one Pod, the ingress straight to it once ready. */
function service(name: string, queueProxy: 'sidecar' | 'in-process', annotations: Record<string, string>) {
  const lines = Object.entries({
    'autoscaling.knative.dev/max-scale': '1',
    // The activator leaves the path once the Pod is ready, so a second request waits in the Pod's breaker.
    'autoscaling.knative.dev/target-burst-capacity': '0',
    ...annotations,
  }).map(([key, value]) => `      ${key}: ${JSON.stringify(value)}`);
  const command = queueProxy === 'sidecar' ? example('slow') : IN_PROCESS_APP;
  return `  - name: ${name}
    command: [node, ${command}]
    queueProxy: ${queueProxy}
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
  it('a revision annotated zerogate.dev/server-timing: "false" gets no hold from the activator and no queue from its Pod; one without gets both', async () => {
    const off = { 'zerogate.dev/server-timing': 'false' };
    const revisions: [name: string, slow: Slow, timing: boolean][] = [
      ['on', (ms) => `/?ms=${ms}`, true],
      ['off', (ms) => `/?ms=${ms}`, false],
      ['inproc-on', (ms) => `/delay?ms=${ms}`, true],
      ['inproc-off', (ms) => `/delay?ms=${ms}`, false],
    ];
    const p = await startTestPlatform(`ingress: { port: 0 }
services:
${service('on', 'sidecar', {})}${service('off', 'sidecar', off)}${service('inproc-on', 'in-process', {})}${service('inproc-off', 'in-process', off)}`);
    started.push(p);
    for (const [name, slow, timing] of revisions) {
      const host = `${name}.default.localhost`;
      // At zero: the first request is held by the activator until the Pod is ready.
      const first = await timed(p, host, slow(0));
      // Ready, and the ingress sends straight to the Pod: two requests at once, one waits for the other
      // in the Pod's breaker (containerConcurrency 1).
      expect(
        await eventually(async () => {
          const r = await p.revision(`${name}-00001`);
          return r.readyPods === 1 && r.mode === 'Serve';
        }, 60_000),
        name,
      ).toBe(true);
      const startedAt = performance.now();
      const pair = await Promise.all([timed(p, host, slow(700)), timed(p, host, slow(700))]);
      // One of them waited for the other: the breaker held it.
      expect(performance.now() - startedAt, name).toBeGreaterThanOrEqual(1400);
      const queued = pair.filter((metrics) => metrics.includes('queue'));
      if (timing) {
        expect(first, name).toContain('hold');
        expect(queued, name).toHaveLength(1);
      } else {
        expect(first, name).toEqual([]);
        expect(pair, name).toEqual([[], []]);
      }
    }
  }, 150_000);
});
