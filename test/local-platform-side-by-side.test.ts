import { describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import {
  example,
  podsOf,
  queueProxyAddress,
  startTestPlatform,
  stoppedAfterEach,
  type TestPlatform,
} from './support/platform.js';

const started = stoppedAfterEach();

/** A platform running the hello example as service `name`, one Pod kept. */
async function platformServing(name: string): Promise<TestPlatform> {
  const p = await startTestPlatform(`
ingress: { port: 0 }
services:
  - name: ${name}
    command: [node, ${example('hello')}]
    annotations: { autoscaling.knative.dev/min-scale: "1" }
`);
  started.push(p);
  return p;
}

/** The loopback address of the one Pod of `revision`, once its queue-proxy started. */
async function podAddress(p: TestPlatform, revision: string): Promise<string> {
  let address: string | undefined;
  const found = await eventually(async () => {
    const [pod] = await podsOf(p, revision);
    address = pod ? queueProxyAddress(p, pod.name) : undefined;
    return address !== undefined;
  }, 20_000);
  expect(found).toBe(true);
  return address!.split(':')[0]!;
}

describe('one-machine platform: two platforms on one machine (README, Pods)', () => {
  it('give their Pods addresses from separate blocks, and each serves its own app', async () => {
    const [alpha, beta] = await Promise.all([platformServing('alpha'), platformServing('beta')]);
    const [a, b] = await Promise.all([podAddress(alpha, 'alpha-00001'), podAddress(beta, 'beta-00001')]);
    const block = (address: string) => address.split('.').slice(0, 2).join('.');
    expect(block(a)).not.toBe(block(b));
    for (const [p, name] of [
      [alpha, 'alpha'],
      [beta, 'beta'],
    ] as const) {
      const res = await p.get(`${name}.default.localhost`);
      expect(res.status).toBe(200);
      expect(res.body).toContain(`revision ${name}-00001`);
    }
  }, 60_000);
});
